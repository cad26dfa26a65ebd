"""Square's Python SDK as the receiver: `square_verify.py KEY URL 'Name: value'... < body`
prints whether `square.utils.webhooks_helper.verify_signature` accepts the delivery
(base64 HMAC-SHA256 over the notification URL and the body). The SDK has no signer."""

import sys

from square.utils.webhooks_helper import verify_signature

from _sdkio import body, headers, verdict

key, url = sys.argv[1], sys.argv[2]
sent = {name.lower(): value for name, value in headers(sys.argv[3:]).items()}
verdict(
    verify_signature(
        request_body=body().decode("utf-8"),
        signature_header=sent.get("x-square-hmacsha256-signature", ""),
        signature_key=key,
        notification_url=url,
    )
)
