"""A Standard Webhooks sender with both kinds of endpoint key, as the Svix server signs: the
standardwebhooks library signs the `v1` HMAC entry, PyNaCl the `v1a` Ed25519 entry (no
published library implements v1a; the Svix server's is Rust), in one webhook-signature header.

  sign   KEY.pem WHSEC BODY TIMESTAMP ID   print webhook-id, webhook-timestamp and
                                           webhook-signature: v1,<hmac> v1a,<ed25519>
  verify WHPK HEADERS BODY                 exit 0 when a v1a entry verifies with PyNaCl, else 1
"""
import base64
import sys
from datetime import datetime, timezone

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from standardwebhooks import Webhook

from pubkey_keys import ed25519_signing_key, print_headers, read_headers, usage


def main(argv):
    if len(argv) == 6 and argv[0] == "sign":
        key = ed25519_signing_key(argv[1])
        body, ts, msg_id = open(argv[3], "rb").read(), argv[4], argv[5]
        at = datetime.fromtimestamp(int(ts), tz=timezone.utc)
        v1 = Webhook(argv[2]).sign(msg_id, at, body.decode())
        v1a = base64.b64encode(key.sign(f"{msg_id}.{ts}.".encode() + body).signature).decode()
        print_headers([("webhook-id", msg_id), ("webhook-timestamp", ts),
                       ("webhook-signature", f"{v1} v1a,{v1a}")])
        return 0
    if len(argv) == 4 and argv[0] == "verify":
        public = base64.b64decode(open(argv[1]).read().strip().removeprefix("whpk_"))
        headers = {k.lower(): v for k, v in read_headers(argv[2]).items()}
        prefix = "webhook" if "webhook-signature" in headers else "svix"
        msg_id, ts = headers[f"{prefix}-id"], headers[f"{prefix}-timestamp"]
        signed = f"{msg_id}.{ts}.".encode() + open(argv[3], "rb").read()
        for entry in headers[f"{prefix}-signature"].split(" "):
            version, _, sig = entry.partition(",")
            if version == "v1a":
                try:
                    VerifyKey(public).verify(signed, base64.b64decode(sig))
                    return 0
                except BadSignatureError:
                    pass
        return 1
    usage(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
