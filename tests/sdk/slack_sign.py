"""Slack's Python SDK as the sender: `slack_sign.py SECRET < body` prints the headers of a
request signed now by `slack_sdk.signature.SignatureVerifier.generate_signature`."""

import sys
import time

from slack_sdk.signature import SignatureVerifier

from _sdkio import body, print_headers

now = str(int(time.time()))
signature = SignatureVerifier(sys.argv[1]).generate_signature(timestamp=now, body=body())
print_headers([("X-Slack-Request-Timestamp", now), ("X-Slack-Signature", signature)])
