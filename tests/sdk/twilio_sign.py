"""Twilio's Python SDK as the sender: `twilio_sign.py TOKEN URL < body` prints the
`X-Twilio-Signature` that `RequestValidator.compute_signature` gives the delivery (the form
parameters as Flask's MultiDict hands them over; none when the URL carries `bodySHA256`,
Twilio's JSON deliveries), and the `Content-Type` the body goes with."""

import sys

from twilio.request_validator import RequestValidator

from _sdkio import body, print_headers
from twilio_form import params

token, url = sys.argv[1], sys.argv[2]
raw = body()
json = "bodySHA256" in url
signature = RequestValidator(token).compute_signature(url, {} if json else params(raw))
content_type = "application/json" if json else "application/x-www-form-urlencoded"
print_headers([("X-Twilio-Signature", signature), ("Content-Type", content_type)])
