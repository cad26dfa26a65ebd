"""Svix's Python SDK as the receiver: `svix_verify.py SECRET 'Name: value'... < body` prints
whether `svix.webhooks.Webhook.verify` accepts the delivery (it checks the timestamp too)."""

import sys

from svix.webhooks import Webhook, WebhookVerificationError

from _sdkio import body, headers, verdict

try:
    Webhook(sys.argv[1]).verify(body(), headers(sys.argv[2:]))
except WebhookVerificationError as e:
    verdict(False, str(e))
verdict(True)
