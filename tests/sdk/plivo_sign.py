"""Plivo's Python SDK as the sender: `plivo_sign.py TOKEN METHOD URL NONCE < form body`
prints the `X-Plivo-Signature-V3` the SDK's own `signature_v3` functions give the delivery
(`construct_post_url`/`construct_get_url`, then `get_signature_v3`) and its nonce."""

import sys
from urllib.parse import parse_qsl

from plivo.utils.signature_v3 import construct_get_url, construct_post_url, get_signature_v3

from _sdkio import body, print_headers

token, method, url, nonce = sys.argv[1:5]
params = dict(parse_qsl(body().decode("utf-8"), keep_blank_values=True))
base = construct_get_url(url, params) if method == "GET" else construct_post_url(url, params)
signature = get_signature_v3(token.encode(), base.decode("utf-8"), nonce.encode()).decode()
print_headers([
    ("X-Plivo-Signature-V3", signature),
    ("X-Plivo-Signature-V3-Nonce", nonce),
    ("Content-Type", "application/x-www-form-urlencoded"),
])
