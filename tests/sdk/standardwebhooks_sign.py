"""The Standard Webhooks Python library as the sender: `standardwebhooks_sign.py SECRET < body`
prints the `webhook-*` headers of a delivery signed now with `standardwebhooks.Webhook.sign`."""

import secrets
import sys
import time
from datetime import datetime, timezone

from standardwebhooks import Webhook

from _sdkio import body, print_headers

secret = sys.argv[1]
msg_id = "msg_" + secrets.token_hex(12)
now = int(time.time())
signature = Webhook(secret).sign(
    msg_id, datetime.fromtimestamp(now, tz=timezone.utc), body().decode("utf-8")
)
print_headers(
    [("webhook-id", msg_id), ("webhook-timestamp", str(now)), ("webhook-signature", signature)]
)
