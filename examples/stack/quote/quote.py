"""Prices an order: {"items": [{"sku", "qty"}]} in, line totals and a total out."""

import json
import os

PRICES = {"mug": 12.5, "tee": 20.0, "sticker": 2.0}


def handler(event, context):
    order = json.loads(event.get("body") or "{}")
    lines = []
    for item in order.get("items", []):
        price = PRICES.get(item.get("sku"), 0.0)
        lines.append({"sku": item.get("sku"), "qty": item.get("qty", 1), "total": price * item.get("qty", 1)})
    return {
        "shop": os.environ.get("SHOP_NAME"),
        "currency": os.environ.get("CURRENCY", "EUR"),
        "lines": lines,
        "total": sum(line["total"] for line in lines),
    }
