"""Adyen's Python library as the receiver: `adyen_verify.py HEX_KEY < notification` prints
whether `Adyen.util.is_valid_hmac_notification` accepts every item (the library checks one
item at a time)."""

import json
import sys

from Adyen.util import is_valid_hmac_notification

from _sdkio import body, verdict

key = sys.argv[1]
notification = json.loads(body())
items = [w["NotificationRequestItem"] for w in notification["notificationItems"]]
verdict(bool(items) and all(is_valid_hmac_notification(item, key) for item in items))
