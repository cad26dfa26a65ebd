"""Telnyx's side: PyNaCl signs as Telnyx does; Telnyx's own SDK verifies.

  sign   KEY.pem BODY TIMESTAMP      print telnyx-signature-ed25519 (base64) and telnyx-timestamp
  verify PUBLIC_B64 HEADERS BODY     exit 0 when telnyx's verify_webhook_signature accepts, else 1
                                     (it checks the timestamp against the wall clock, 300 s)
"""
import base64
import sys

from pubkey_keys import ed25519_signing_key, print_headers, read_headers, telnyx_verification, usage

telnyx = telnyx_verification()


def main(argv):
    if len(argv) == 4 and argv[0] == "sign":
        key = ed25519_signing_key(argv[1])
        body, ts = open(argv[2], "rb").read(), argv[3]
        sig = base64.b64encode(key.sign(ts.encode() + b"|" + body).signature).decode()
        print_headers([("telnyx-signature-ed25519", sig), ("telnyx-timestamp", ts)])
        return 0
    if len(argv) == 4 and argv[0] == "verify":
        public = open(argv[1]).read().strip()
        try:
            telnyx.verify_webhook_signature(open(argv[3], "rb").read(), read_headers(argv[2]), public)
            return 0
        except telnyx.WebhookVerificationError as e:
            sys.stderr.write(f"telnyx: {e}\n")
            return 1
    usage(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
