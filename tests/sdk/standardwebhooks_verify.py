"""The Standard Webhooks Python library as the receiver:
`standardwebhooks_verify.py SECRET 'Name: value'... < body` prints whether
`standardwebhooks.Webhook.verify` accepts the delivery (it checks the timestamp too)."""

import sys

from standardwebhooks import Webhook, WebhookVerificationError

from _sdkio import body, headers, verdict

try:
    Webhook(sys.argv[1]).verify(body(), headers(sys.argv[2:]), json_parse=False)
except WebhookVerificationError as e:
    verdict(False, str(e))
verdict(True)
