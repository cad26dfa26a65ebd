"""Stripe's Python SDK as the receiver: `stripe_verify.py SECRET 'Name: value'... < body` prints
whether `stripe.Webhook.construct_event` accepts the delivery (signature and 300 s tolerance)."""

import sys

import stripe

from _sdkio import body, headers, verdict

sent = {name.lower(): value for name, value in headers(sys.argv[2:]).items()}
try:
    stripe.Webhook.construct_event(body(), sent.get("stripe-signature"), sys.argv[1])
except stripe.SignatureVerificationError as e:
    verdict(False, str(e))
verdict(True)
