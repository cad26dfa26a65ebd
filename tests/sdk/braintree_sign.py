"""Braintree's Python SDK as the sender: `braintree_sign.py PUBLIC:PRIVATE` prints the form
body `WebhookTesting.sample_notification` makes (a `subscription_went_past_due` notification:
`bt_signature` and `bt_payload`, form-encoded as Braintree posts them)."""

import sys
from urllib.parse import urlencode

import braintree

public, private = sys.argv[1].split(":", 1)
gateway = braintree.BraintreeGateway(
    braintree.Configuration(braintree.Environment.Sandbox, "merchant", public, private)
)
sample = gateway.webhook_testing.sample_notification(
    braintree.WebhookNotification.Kind.SubscriptionWentPastDue, "sub_hookguard"
)
payload = sample["bt_payload"]
payload = payload.decode() if isinstance(payload, bytes) else payload
sys.stdout.write(urlencode({"bt_signature": sample["bt_signature"], "bt_payload": payload}))
