"""Twilio's Python SDK as the receiver: `twilio_verify.py TOKEN URL 'Name: value'... < body`
prints whether `RequestValidator.validate` accepts the delivery: the form parameters for a
form body, the raw body for a JSON one (checked against the URL's `bodySHA256`)."""

import sys

from twilio.request_validator import RequestValidator

from _sdkio import body, headers, verdict
from twilio_form import params

token, url = sys.argv[1], sys.argv[2]
sent = {name.lower(): value for name, value in headers(sys.argv[3:]).items()}
raw = body()
form = "x-www-form-urlencoded" in sent.get("content-type", "")
signed = params(raw) if form else raw.decode("utf-8")
verdict(RequestValidator(token).validate(url, signed, sent.get("x-twilio-signature", "")))
