"""HubSpot's Python library as the sender: `hubspot_sign.py SECRET METHOD URL < body` prints
`X-HubSpot-Signature-v3` from `Signature.get_signature(..., "v3", ...)` and the
`X-HubSpot-Request-Timestamp` (now, in milliseconds) it signs."""

import sys
import time

from hubspot.utils.signature import Signature

from _sdkio import body, print_headers

secret, method, url = sys.argv[1:4]
timestamp = str(int(time.time() * 1000))
signature = Signature.get_signature(secret, body().decode("utf-8"), "v3", url, method, timestamp)
print_headers([("X-HubSpot-Signature-v3", signature), ("X-HubSpot-Request-Timestamp", timestamp)])
