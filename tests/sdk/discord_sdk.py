"""Discord's side, with Discord's own Python library and PyNaCl (which it is built on).

  sign   KEY.pem BODY TIMESTAMP      print the headers Discord sends (PyNaCl signs timestamp+body)
  verify PUBLIC_HEX HEADERS BODY     exit 0 when discord_interactions.verify_key accepts, else 1
"""
import sys

from discord_interactions import verify_key

from pubkey_keys import ed25519_signing_key, print_headers, read_headers, usage


def main(argv):
    if len(argv) == 4 and argv[0] == "sign":
        key = ed25519_signing_key(argv[1])
        body, ts = open(argv[2], "rb").read(), argv[3]
        sig = key.sign(ts.encode() + body).signature.hex()
        print_headers([("X-Signature-Ed25519", sig), ("X-Signature-Timestamp", ts)])
        return 0
    if len(argv) == 4 and argv[0] == "verify":
        public = open(argv[1]).read().strip()
        headers = {k.lower(): v for k, v in read_headers(argv[2]).items()}
        body = open(argv[3], "rb").read()
        sig, ts = headers.get("x-signature-ed25519"), headers.get("x-signature-timestamp")
        ok = sig is not None and ts is not None and verify_key(body, sig, ts, public)
        return 0 if ok else 1
    usage(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
