"""Slack's Python SDK as the receiver: `slack_verify.py SECRET 'Name: value'... < body` prints
whether `slack_sdk.signature.SignatureVerifier.is_valid_request` accepts the request (it checks
the 5-minute window too)."""

import sys

from slack_sdk.signature import SignatureVerifier

from _sdkio import body, headers, verdict

verdict(SignatureVerifier(sys.argv[1]).is_valid_request(body(), headers(sys.argv[2:])))
