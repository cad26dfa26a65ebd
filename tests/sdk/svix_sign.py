"""Svix's Python SDK as the sender: `svix_sign.py SECRET < body` prints the headers of a
delivery signed now. The signature is `svix.webhooks.Webhook.sign`'s; the three header names
are the ones Svix's docs say its deliveries carry."""

import secrets
import sys
import time
from datetime import datetime, timezone

from svix.webhooks import Webhook

from _sdkio import body, print_headers

secret = sys.argv[1]
msg_id = "msg_" + secrets.token_hex(12)
now = int(time.time())
signature = Webhook(secret).sign(
    msg_id, datetime.fromtimestamp(now, tz=timezone.utc), body().decode("utf-8")
)
print_headers(
    [("svix-id", msg_id), ("svix-timestamp", str(now)), ("svix-signature", signature)]
)
