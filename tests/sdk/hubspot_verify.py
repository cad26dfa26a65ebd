"""HubSpot's Python library as the receiver: `hubspot_verify.py SECRET METHOD URL 'Name:
value'... < body` prints whether `Signature.is_valid(..., signature_version="v3")` accepts the
delivery (its timestamp within the library's 300 s)."""

import sys

from hubspot.exceptions import InvalidSignatureTimestampError
from hubspot.utils.signature import Signature

from _sdkio import body, headers, verdict

secret, method, url = sys.argv[1:4]
sent = {name.lower(): value for name, value in headers(sys.argv[4:]).items()}
try:
    ok = Signature.is_valid(
        signature=sent.get("x-hubspot-signature-v3", ""),
        client_secret=secret,
        request_body=body().decode("utf-8"),
        http_uri=url,
        http_method=method,
        signature_version="v3",
        timestamp=sent.get("x-hubspot-request-timestamp"),
    )
except InvalidSignatureTimestampError as e:
    verdict(False, str(e))
verdict(ok)
