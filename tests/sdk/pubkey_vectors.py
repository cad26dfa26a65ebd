"""Checks every vector of tests/data/catalogue/pubkey.jsonl with the providers' own code, not
hookguard's: discord-interactions' verify_key (PyNaCl), telnyx's verify_webhook_signature,
sendgrid's EventWebhook, and PyNaCl for Standard Webhooks v1a (no SDK implements v1a; the v1
entries go through the standardwebhooks library). hookguard adds two rules the Discord and
SendGrid SDKs leave to the caller, and this script applies them too: the 5-minute window and
"a signature header on two lines is malformed". Prints one line per vector; exit 1 on any
disagreement with the vector's `expect`.

Usage: python pubkey_vectors.py tests/data/catalogue/pubkey.jsonl
"""
import base64
import contextlib
import io
import json
import sys
from datetime import datetime, timezone
from unittest import mock

from cryptography.hazmat.primitives import serialization
from discord_interactions import verify_key
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from sendgrid import EventWebhook
from standardwebhooks import Webhook

from pubkey_keys import telnyx_verification

telnyx_lib = telnyx_verification()
verify_webhook_signature = telnyx_lib.verify_webhook_signature
WebhookVerificationError = telnyx_lib.WebhookVerificationError

TOLERANCE = 300


def raw_ed25519(secret):
    """A configured Ed25519 key in any accepted form, as the 32 raw bytes."""
    if secret.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(secret.encode())
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if secret.startswith("whpk_"):
        return base64.b64decode(secret[5:])
    try:
        return bytes.fromhex(secret)
    except ValueError:
        return base64.b64decode(secret)


def header(v, name):
    """The header's value; None when absent; a list when sent on several lines."""
    for k, val in v["headers"].items():
        if k.lower() == name.lower():
            return val
    return None


def fresh(v, ts):
    return ts.isdigit() and abs(v["now"] - int(ts)) <= TOLERANCE


def discord(v, body):
    sig, ts = header(v, "x-signature-ed25519"), header(v, "x-signature-timestamp")
    if not isinstance(sig, str) or not isinstance(ts, str) or not fresh(v, ts):
        return False
    with contextlib.redirect_stdout(io.StringIO()):  # verify_key prints its exceptions
        return any(verify_key(body, sig, ts, raw_ed25519(s).hex()) for s in v["secrets"])


def telnyx(v, body):
    if isinstance(header(v, "telnyx-signature-ed25519"), list):
        return False
    for s in v["secrets"]:
        key = base64.b64encode(raw_ed25519(s)).decode()
        with mock.patch("time.time", return_value=v["now"]):
            try:
                verify_webhook_signature(body, v["headers"], key)
                return True
            except WebhookVerificationError:
                pass
    return False


def sendgrid(v, body):
    sig = header(v, "x-twilio-email-event-webhook-signature")
    ts = header(v, "x-twilio-email-event-webhook-timestamp")
    if not isinstance(sig, str) or not isinstance(ts, str) or not fresh(v, ts):
        return False
    hook = EventWebhook()
    for s in v["secrets"]:
        b64 = "".join(l for l in s.splitlines() if not l.startswith("-----"))
        if hook.verify_signature(body.decode(), sig, ts, hook.convert_public_key_to_ecdsa(b64)):
            return True
    return False


def standard_webhooks(v, body):
    names = ["webhook-id", "webhook-timestamp", "webhook-signature"]
    if header(v, "webhook-signature") is None:
        names = ["svix-id", "svix-timestamp", "svix-signature"]
    msg_id, ts, sigs = (header(v, n) for n in names)
    if not fresh(v, ts):
        return False
    signed = f"{msg_id}.{ts}.".encode() + body
    for s in v["secrets"]:
        for entry in sigs.split(" "):
            version, _, sig = entry.partition(",")
            if s.startswith("whpk_") and version == "v1a":
                try:
                    VerifyKey(raw_ed25519(s)).verify(signed, base64.b64decode(sig))
                    return True
                except (BadSignatureError, ValueError):
                    pass
            elif s.startswith("whsec_") and version == "v1":
                # The library's own signing (its verify reads the wall clock).
                at = datetime.fromtimestamp(int(ts), tz=timezone.utc)
                if Webhook(s).sign(msg_id, at, body.decode()) == entry:
                    return True
    return False


CHECKS = {"discord": discord, "telnyx": telnyx, "sendgrid": sendgrid,
          "standard-webhooks": standard_webhooks, "svix": standard_webhooks}


def main(path):
    bad = 0
    for line in open(path):
        v = json.loads(line)
        body = base64.b64decode(v["body_b64"]) if "body_b64" in v else v["body"].encode()
        got = "accept" if CHECKS[v["scheme"]](v, body) else "reject"
        ok = got == v["expect"]
        bad += not ok
        print(f"{'ok  ' if ok else 'BAD '} {v['id']}: SDK says {got}, vector says {v['expect']}")
    print(f"{bad} disagreements")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
