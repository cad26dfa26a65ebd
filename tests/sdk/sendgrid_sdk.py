"""SendGrid's side: cryptography (the sendgrid SDK's own dependency) signs as SendGrid does;
the sendgrid SDK's EventWebhook verifies.

  sign   KEY.pem BODY TIMESTAMP      print the X-Twilio-Email-Event-Webhook-* headers
  verify PUBLIC_B64 HEADERS BODY     exit 0 when EventWebhook.verify_signature accepts, else 1
"""
import base64
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader

from pubkey_keys import p256_private_key, print_headers, read_headers, usage


def main(argv):
    if len(argv) == 4 and argv[0] == "sign":
        key = p256_private_key(argv[1])
        body, ts = open(argv[2], "rb").read(), argv[3]
        sig = key.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
        print_headers([(EventWebhookHeader.SIGNATURE, base64.b64encode(sig).decode()),
                       (EventWebhookHeader.TIMESTAMP, ts)])
        return 0
    if len(argv) == 4 and argv[0] == "verify":
        hook = EventWebhook(open(argv[1]).read().strip())
        headers = {k.lower(): v for k, v in read_headers(argv[2]).items()}
        sig = headers.get(EventWebhookHeader.SIGNATURE.lower())
        ts = headers.get(EventWebhookHeader.TIMESTAMP.lower())
        body = open(argv[3], "rb").read().decode()
        ok = sig is not None and ts is not None and hook.verify_signature(body, sig, ts)
        return 0 if ok else 1
    usage(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
