"""Stripe's Python SDK as the sender: `stripe_sign.py SECRET < body` prints the
`Stripe-Signature` of a delivery signed now by `stripe.WebhookSignature.generate_signature_header`
(the SDK's own helper for signing test payloads)."""

import sys

import stripe

from _sdkio import body, print_headers

header = stripe.WebhookSignature.generate_signature_header(body().decode("utf-8"), sys.argv[1])
print_headers([("Stripe-Signature", header)])
