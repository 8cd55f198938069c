"""`reseller orders show ID [--json]`: the whole story of one order (`orders.story`)."""

from __future__ import annotations

import argparse
from typing import Any

import orjson

from reseller import errors
from reseller.cli import common, output
from reseller.orders import story
from reseller.orders.story import TIME, Event


def show(args: argparse.Namespace) -> int:
    facts = common.with_database(args, lambda pool, _: story.gather(pool, args.id))
    if facts is None:
        raise errors.NotFound(f"no order {args.id}")
    fields, events = story.order_fields(facts.order), story.events(facts)
    if args.json:
        output.emit_document({**fields, "story": [_event_record(e) for e in events]})
        return 0
    for label, value in fields.items():
        print(f"{label:18} {_text(value)}")
    print()
    rows = [list(_event_record(e).values()) for e in events]
    print(common.table([("AT", "EVENT", "DETAIL"), *rows]))
    return 0


def _event_record(event: Event) -> dict[str, str]:
    return {"at": event.at.strftime(TIME), "event": event.event, "detail": event.detail}


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    return str(value)
