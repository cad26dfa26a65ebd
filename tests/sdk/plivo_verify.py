"""Plivo's Python SDK as the receiver: `plivo_verify.py TOKEN METHOD URL 'Name: value'... <
form body` prints whether `validate_v3_signature` accepts the delivery."""

import sys
from urllib.parse import parse_qsl

from plivo.utils.signature_v3 import validate_v3_signature

from _sdkio import body, headers, verdict

token, method, url = sys.argv[1:4]
sent = {name.lower(): value for name, value in headers(sys.argv[4:]).items()}
params = dict(parse_qsl(body().decode("utf-8"), keep_blank_values=True)) or None
verdict(
    validate_v3_signature(
        method,
        url,
        sent.get("x-plivo-signature-v3-nonce", ""),
        token,
        sent.get("x-plivo-signature-v3", ""),
        params,
    )
)
