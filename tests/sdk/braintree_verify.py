"""Braintree's Python SDK as the receiver: `braintree_verify.py PUBLIC:PRIVATE < form body`
prints whether `WebhookNotificationGateway.parse` accepts `bt_signature` and `bt_payload`."""

import sys
from urllib.parse import parse_qsl

import braintree

from _sdkio import body, verdict

public, private = sys.argv[1].split(":", 1)
gateway = braintree.BraintreeGateway(
    braintree.Configuration(braintree.Environment.Sandbox, "merchant", public, private)
)
fields = dict(parse_qsl(body().decode("utf-8"), keep_blank_values=True))
try:
    gateway.webhook_notification.parse(fields.get("bt_signature"), fields.get("bt_payload"))
except braintree.exceptions.invalid_signature_error.InvalidSignatureError as e:
    verdict(False, str(e))
verdict(True)
