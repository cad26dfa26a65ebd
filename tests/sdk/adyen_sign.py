"""Adyen's Python library as the sender: `adyen_sign.py HEX_KEY < notification` prints the
notification with every item's `additionalData.hmacSignature` set by
`Adyen.util.generate_notification_sig`."""

import json
import sys

from Adyen.util import generate_notification_sig

from _sdkio import body

key = sys.argv[1]
notification = json.loads(body())
for wrapped in notification["notificationItems"]:
    item = wrapped["NotificationRequestItem"]
    item.setdefault("additionalData", {})
    signed = {k: v for k, v in item.items() if k != "additionalData"}
    item["additionalData"]["hmacSignature"] = generate_notification_sig(signed, key).decode()
sys.stdout.write(json.dumps(notification))
