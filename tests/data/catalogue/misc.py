#!/usr/bin/env python3
"""Independent re-derivation of every verdict in misc.jsonl (the catalogue's "misc" slice).

Each provider is implemented here from its SDK or docs (cited per function), in plain Python
(hmac, hashlib, json), without hookguard. Run:  python3 tests/data/catalogue/misc.py
It prints one line per vector that disagrees and exits 1 if any does. The `sign_*` helpers are
how the COMPUTED vectors were made. Tolerances are hookguard's: symmetric, the edge inclusive.
"""
import base64
import hashlib
import hmac
import json
import re
import sys
import urllib.parse
from pathlib import Path


def hmac_hex(key, msg, algo=hashlib.sha256):
    return hmac.new(key.encode(), msg, algo).hexdigest()


def unhex(s):
    """Go's hex.DecodeString: whole hex of even length, nothing else (fromhex skips spaces)."""
    if not re.fullmatch(r"([0-9a-fA-F]{2})*", s):
        raise ValueError("not hex")
    return bytes.fromhex(s)


def hdr(headers, name):
    for k, v in headers.items():
        if k.lower() == name:
            if isinstance(v, list):
                raise ValueError("header on two lines")
            return v.strip()
    return None


def fresh(ts_ms, now_s, tol_ms):
    return abs(now_s * 1000 - ts_ms) <= tol_ms


# clearbit/clearbit-ruby lib/clearbit/webhook.rb: key minus \A(pk|sk)_, 'sha1=' + hexdigest.
def clearbit(v, key):
    key = re.sub(r"\A(pk|sk)_", "", key)
    want = "sha1=" + hmac_hex(key, v["body"], hashlib.sha1)
    return hmac.compare_digest(hdr(v["headers"], "x-request-signature") or "", want)


# hook0/hook0 clients/go/signature.go, with CDP's rule that v1 is required.
def coinbase_cdp(v, key, tol_ms=300_000):
    read = {}
    for part in hdr(v["headers"], "x-hook0-signature").split(","):
        if "=" in part:
            k, val = part.split("=", 1)
            read[k.strip()] = val.strip()
    t = int(read["t"])
    for code in ("v0", "v1"):
        if code in read:
            unhex(read[code])  # whole hex or the header is refused
    v1 = unhex(read["v1"])
    names = [n.lower() for n in read.get("h", "").split(" ")] if read.get("h") else []
    lower = {k.lower(): val for k, val in v["headers"].items()}
    values = [lower[n] for n in names]  # KeyError: a covered header not delivered
    msg = f"{t}.{' '.join(names)}.{'.'.join(values)}.".encode() + v["body"]
    ok = hmac.compare_digest(hmac.new(key.encode(), msg, hashlib.sha256).digest(), v1)
    return ok and fresh(t * 1000, v["now"], tol_ms)


def contentful_path(target):
    parts = target.split("?")
    query = urllib.parse.quote(parts[1], safe="-_.!~*'()") if len(parts) > 1 else ""
    joined = f"{parts[0]}?{query}" if query else parts[0]
    return urllib.parse.quote(joined, safe="-_.!~*'();,/?:@&=+$#")


def contentful_message(method, path, picked, ts, body):
    headers = dict(picked)
    headers["x-contentful-timestamp"] = str(ts)
    headers["x-contentful-signed-headers"] = ""
    headers["x-contentful-signed-headers"] = ",".join(sorted(headers))
    line = ";".join(f"{k}:{headers[k]}" for k in sorted(headers))
    return f"{method}\n{contentful_path(path)}\n{line}\n".encode() + body


# contentful/node-apps-toolkit src/requests/verify-request.ts and sign-request.ts.
def contentful(v, key, tol_ms=30_000):
    lower = {k.lower().strip(): val.strip() for k, val in v["headers"].items()}
    sig = lower["x-contentful-signature"]
    ts = int(re.match(r"\d+", lower["x-contentful-timestamp"]).group())
    listed = lower.get("x-contentful-signed-headers", "").split(",")
    assert len(sig) == 64 and ts > 1577836800000 and len(listed) >= 2
    picked = {k: val for k, val in lower.items() if k in listed}
    msg = contentful_message(v["method"], v["path"], picked, ts, v["body"])
    return hmac.compare_digest(hmac_hex(key, msg), sig) and fresh(ts, v["now"], tol_ms)


def graphcms_json(body, env, t):
    obj = {"Body": body.decode("utf-8", "replace"), "EnvironmentName": env, "TimeStamp": t}
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


# @graphcms/utils 1.2.0 index.js verifyWebhookSignature; hookguard adds the 5m window on t.
def graphcms(v, key, tol_ms=300_000):
    sign, env, t = hdr(v["headers"], "gcms-signature").split(", ")[:3]
    sign, env = sign.replace("sign=", "", 1), env.replace("env=", "", 1)
    t = int(t.replace("t=", "", 1))
    want = base64.b64encode(
        hmac.new(key.encode(), graphcms_json(v["body"], env, t), hashlib.sha256).digest()
    ).decode()
    return hmac.compare_digest(sign, want) and fresh(t, v["now"], tol_ms)


# linear/linear packages/sdk/src/webhooks/client.ts: body webhookTimestamp, else the header.
def linear(v, key, tol_ms=60_000):
    sig = hdr(v["headers"], "linear-signature")
    if not hmac.compare_digest(sig, hmac_hex(key, v["body"])):
        return False
    try:
        ts = json.loads(v["body"]).get("webhookTimestamp")
    except ValueError:
        ts = None
    if ts is None:
        header = hdr(v["headers"], "linear-timestamp")
        ts = int(header) if header is not None else None
    return ts is None or fresh(int(ts), v["now"], tol_ms)


# docs.withpersona.com webhooks-best-practices: space-separated t=..,v1=.. sets.
def persona(v, key, tol_ms=300_000):
    for group in hdr(v["headers"], "persona-signature").split(" "):
        pairs = dict(p.split("=", 1) for p in group.split(","))
        t = pairs["t"]
        want = hmac_hex(key, t.encode() + b"." + v["body"])
        if hmac.compare_digest(pairs["v1"], want) and fresh(int(t) * 1000, v["now"], tol_ms):
            return True
    return False


# pusher/pusher-http-python pusher/authentication_client.py validate_webhook.
def pusher(v, key, tol_ms=300_000):
    assert hdr(v["headers"], "x-pusher-key") is not None
    if not hmac.compare_digest(hdr(v["headers"], "x-pusher-signature"), hmac_hex(key, v["body"])):
        return False
    time_ms = json.loads(v["body"]).get("time_ms")
    return bool(time_ms) and fresh(time_ms, v["now"], tol_ms)


# Recharge (receivers citing its docs): hex sha256(client secret || body), not an HMAC.
def recharge(v, key):
    want = hashlib.sha256(key.encode() + v["body"]).hexdigest()
    return hmac.compare_digest(hdr(v["headers"], "x-recharge-hmac-sha256"), want)


# recurly/recurly-client-go webhook.go.
def recurly(v, key, tol_ms=300_000):
    ts, *sigs = hdr(v["headers"], "recurly-signature").split(",")
    assert sigs
    sigs = [unhex(s) for s in sigs]
    want = hmac.new(key.encode(), ts.encode() + b"." + v["body"], hashlib.sha256).digest()
    return any(hmac.compare_digest(want, s) for s in sigs) and fresh(int(ts), v["now"], tol_ms)


# developer.worldpay.com/products/access/events/signature: {keyId}/{hashFunction}/{hex}.
def worldpay(v, key):
    for entry in hdr(v["headers"], "event-signature").split(","):
        fields = entry.strip().split("/")
        if len(fields) == 3 and fields[1].upper() == "SHA256":
            try:
                sig = unhex(fields[2])
            except ValueError:
                continue
            want = hmac.new(key.encode(), v["body"], hashlib.sha256).digest()
            if hmac.compare_digest(want, sig):
                return True
    return False


SCHEMES = {
    "clearbit": clearbit,
    "coinbase-cdp": coinbase_cdp,
    "contentful": contentful,
    "graphcms": graphcms,
    "linear": linear,
    "persona": persona,
    "pusher": pusher,
    "recharge": recharge,
    "recurly": recurly,
    "worldpay": worldpay,
}


def verdict(v):
    v = dict(v)
    v["body"] = base64.b64decode(v["body_b64"]) if "body_b64" in v else v["body"].encode()
    verify = SCHEMES[v["scheme"]]
    try:
        ok = any(verify(v, key) for key in v["secrets"])
    except (KeyError, ValueError, AssertionError, AttributeError, TypeError):
        ok = False
    return "accept" if ok else "reject"


def main():
    path = Path(__file__).with_name("misc.jsonl")
    bad = 0
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    for line in lines:
        v = json.loads(line)
        got = verdict(v)
        if got != v["expect"]:
            bad += 1
            print(f"{v['id']}: expected {v['expect']}, python says {got}")
    print(f"{len(lines) - bad} agree, {bad} disagree")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
