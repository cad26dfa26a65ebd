#!/usr/bin/env python3
"""Cross-checks tests/data/catalogue/urlbody.jsonl against the providers' own SDKs.

Each vector's verdict is recomputed without hookguard: with the official SDK where one
verifies offline (twilio, squareup, hubspot-api-client, plivo, braintree, Adyen), else with
python's hmac per the provider's documentation (Mandrill, Favro, Mailgun, Treezor, Twilio's
HMAC-SHA256 SharedKey variant, which only twilio-node implements). Where hookguard decides
differently from an SDK on purpose, DIVERGES names the vector and why; every other verdict
must match the vector's `expect`.

Usage: python3 urlbody_check.py [urlbody.jsonl]   (exit 0 when every verdict matches)
"""

import base64
import hashlib
import hmac
import json
import os
import sys
from urllib.parse import parse_qsl

HERE = os.path.dirname(os.path.abspath(__file__))

# Vectors where the SDK's verdict and hookguard's differ by design: id -> (SDK verdict, why).
DIVERGES = {
    "hubspot/official_v1": ("accept", "hookguard verifies v3 only; v1 is unkeyed, untimed"),
    "hubspot/official_v2_post": ("accept", "hookguard verifies v3 only; v2 is unkeyed, untimed"),
    "plivo/official_v2": ("accept", "hookguard verifies V3 only; V2 signs no query or body"),
    "adyen-notification/second_item_bad": (
        "accept",
        "the Python SDK checks the first item only; hookguard requires every item",
    ),
    "twilio/sdk_whatwg_encoded_query": (
        "reject",
        "twilio-python tries the URL as given only; twilio-node 6.3 (and hookguard) also "
        "try it as new URL() writes it",
    ),
}


def header(v, name):
    for key, value in v["headers"].items():
        if key.lower() == name.lower():
            return value
    return None


def form(body):
    return parse_qsl(body, keep_blank_values=True)


def b64mac(algorithm, key, message):
    return base64.b64encode(hmac.new(key, message, algorithm).digest()).decode()


class MultiDict(dict):
    """The form as Flask hands it to twilio's RequestValidator (repeated names kept)."""

    def getall(self, name):
        return self[name]


def twilio(v, secret):
    from twilio.request_validator import RequestValidator

    body = v.get("body", "")
    settings = header(v, "X-Twilio-Webhooks-Signature-Settings") or ""
    signature = header(v, "X-Twilio-Signature") or ""
    if "HMAC_SHA256" in settings.upper():
        # twilio-python has no SharedKey variant: the signed string is the SDK's, the hash
        # SHA-256 (as twilio-node 6.3 computes it).
        params = MultiDict()
        for k, x in form(body):
            params.setdefault(k, []).append(x)
        text = v["url"] + "".join(
            name + value
            for name in sorted(params)
            for value in sorted(set(params[name]))
        )
        expected = b64mac(hashlib.sha256, secret.encode(), text.encode())
        return hmac.compare_digest(expected, signature)
    if "x-www-form-urlencoded" in (header(v, "Content-Type") or ""):
        params = MultiDict()
        for k, x in form(body):
            params.setdefault(k, []).append(x)
    elif "bodySHA256" in v["url"]:
        params = body
    elif body:
        return False  # a body nothing signs
    else:
        params = {}
    return RequestValidator(secret).validate(v["url"], params, signature)


def square(v, secret):
    from square.utils.webhooks_helper import verify_signature

    return verify_signature(
        request_body=v.get("body", ""),
        signature_header=header(v, "x-square-hmacsha256-signature") or "",
        signature_key=secret,
        notification_url=v["url"],
    )


def hubspot(v, secret):
    from hubspot.utils.signature import Signature

    body = v.get("body", "")
    v3 = header(v, "X-HubSpot-Signature-v3")
    if v3 is None:
        version = header(v, "X-HubSpot-Signature-Version")
        return Signature.get_signature(secret, body, version, v["url"], v["method"]) == header(
            v, "X-HubSpot-Signature"
        )
    stamp = header(v, "X-HubSpot-Request-Timestamp")
    if abs(v["now"] * 1000 - int(stamp)) > 300_000:
        return False
    decoded = v["url"]
    for enc, plain in [("%3A", ":"), ("%2F", "/"), ("%3F", "?"), ("%40", "@"), ("%21", "!"),
                       ("%24", "$"), ("%27", "'"), ("%28", "("), ("%29", ")"), ("%2A", "*"),
                       ("%2C", ","), ("%3B", ";")]:
        decoded = decoded.replace(enc, plain)
    return any(
        Signature.get_signature(secret, body, "v3", url, v["method"], stamp) == v3
        for url in {v["url"], decoded}
    )


def plivo(v, secret):
    from plivo.utils import validate_signature
    from plivo.utils.signature_v3 import validate_v3_signature

    nonce = header(v, "X-Plivo-Signature-V3-Nonce")
    if nonce is None:
        return validate_signature(
            v["url"], header(v, "X-Plivo-Signature-V2-Nonce"), header(v, "X-Plivo-Signature-V2"), secret
        )
    params = dict(form(v.get("body", ""))) or None
    return any(
        validate_v3_signature(v["method"], v["url"], nonce, secret, sig, params)
        for sig in (header(v, "X-Plivo-Signature-V3"), header(v, "X-Plivo-Signature-Ma-V3"))
        if sig
    )


def mailchimp(v, secret):
    pairs = form(v.get("body", ""))
    if len({k for k, _ in pairs}) != len(pairs):
        return False  # a repeated parameter: hookguard will not guess which one is read
    text = v["url"] + "".join(k + x for k, x in sorted(pairs))
    return hmac.compare_digest(
        b64mac(hashlib.sha1, secret.encode(), text.encode()), header(v, "X-Mandrill-Signature") or ""
    )


def favro(v, secret):
    payload_id = json.loads(v["body"])["payloadId"]
    return hmac.compare_digest(
        b64mac(hashlib.sha1, secret.encode(), (payload_id + v["url"]).encode()),
        header(v, "X-Favro-Webhook") or "",
    )


def mailgun(v, secret):
    content_type = header(v, "Content-Type") or ""
    body = v.get("body", "")
    if "json" in content_type:
        fields = json.loads(body)["signature"]
    elif "multipart" in content_type:
        import email.parser

        message = email.parser.BytesParser().parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body.encode()
        )
        fields = {
            part.get_param("name", header="content-disposition"): part.get_payload(decode=True).decode()
            for part in message.get_payload()
            if not part.get_filename()
        }
    else:
        fields = dict(form(body))
    digest = hmac.new(
        secret.encode(), (fields["timestamp"] + fields["token"]).encode(), hashlib.sha256
    ).hexdigest()
    fresh = abs(v["now"] - int(fields["timestamp"])) <= 300
    return fresh and hmac.compare_digest(digest, fields["signature"])


def adyen(v, secret):
    from Adyen.util import is_valid_hmac_notification

    notification = json.loads(v["body"])
    try:
        return bool(is_valid_hmac_notification(notification, secret))
    except (KeyError, ValueError):
        return False


def braintree(v, secret):
    import braintree as bt

    public, private = secret.split(":", 1)
    gateway = bt.BraintreeGateway(
        bt.Configuration(bt.Environment.Sandbox, merchant_id="m", public_key=public, private_key=private)
    )
    fields = dict(form(v["body"]))
    try:
        gateway.webhook_notification.parse(fields["bt_signature"], fields["bt_payload"])
        return True
    except Exception:  # the SDK raises InvalidSignatureError (and XML errors) on a bad delivery
        return False


def treezor(v, secret):
    body = json.loads(v["body"])
    # Treezor's integrity-check guide, Python snippet.
    payload = json.dumps(body["object_payload"], separators=(",", ":"))
    payload = payload.replace("\\/", "/").replace("/", "\\/")
    return hmac.compare_digest(
        b64mac(hashlib.sha256, secret.encode(), payload.encode()), body["object_payload_signature"]
    )


CHECKS = {
    "twilio": twilio, "square": square, "hubspot": hubspot, "plivo": plivo,
    "mailchimp": mailchimp, "favro": favro, "mailgun": mailgun,
    "adyen-notification": adyen, "braintree": braintree, "treezor": treezor,
}


def main(path):
    failures = 0
    for line in open(path, encoding="utf-8"):
        v = json.loads(line)
        verdict = any(CHECKS[v["scheme"]](v, s) for s in v["secrets"])
        got = "accept" if verdict else "reject"
        want, why = DIVERGES.get(v["id"], (v["expect"], ""))
        ok = got == want
        failures += not ok
        note = f" (hookguard: {v['expect']}; {why})" if why else ""
        print(f"{'ok ' if ok else 'BAD'} {v['id']}: SDK/reference {got}{note}")
    print(f"{failures} disagreement(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "urlbody.jsonl")))
