"""Sends events to the Orbita collector with Segment's official Python client, unchanged except
for its host. Run by segment-clients.test.mjs with the collector's URL and write key."""
import os
import sys

import segment.analytics as analytics

errors = []
analytics.write_key = os.environ["ORBITA_WRITE_KEY"]
analytics.host = os.environ["ORBITA_BASE_URL"]
analytics.gzip = sys.argv[2] == "gzip"
analytics.max_retries = 2
analytics.on_error = lambda error, batch: errors.append(repr(error))

user = sys.argv[1]
analytics.identify(user, {"email": "python@example.com", "plan": "gold"})
analytics.track(user, "Order Completed", {
    "order_id": user + "-order",
    "total": 54.9,
    "currency": "EUR",
    "products": [{"product_id": "LL-1001", "quantity": 1, "price": 54.9}],
})
analytics.page(user, "Shop", "Home", {"path": "/"})
analytics.flush()
analytics.shutdown()
if errors:
    print("errors:", errors)
    sys.exit(1)
print("sent")
