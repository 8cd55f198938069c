"""The Audit log page: every operator action, newest first, who did it, when and why
(`reseller audit`), filtered by dates, actor and subject, PAGE entries a page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp_jinja2
import orjson
from aiohttp import web

from reseller import audit, days
from reseller.console import keys, pages

PAGE = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FILTERS = ("since", "until", "actor", "subject")

routes = web.RouteTableDef()


@routes.get("/audit")
async def page(request: web.Request) -> web.StreamResponse:
    query = request.query
    shown = {name: query.get(name, "").strip() for name in _FILTERS}
    try:
        since = _day(shown["since"], "From") or _EPOCH
        until = _day(shown["until"], "Until")
        end = until or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        end += timedelta(days=1)  # the last day shown is included
        if end <= since:
            raise ValueError("“Until” must not be before “From”")
        before = _before(query.get("before", ""))
    except ValueError as exc:
        context = await pages.context(request, filters=shown, entries=[], more=None)
        context["messages"] = [*context["messages"], ["error", str(exc)]]
        return aiohttp_jinja2.render_template("audit.html", request, context, status=400)
    rows = await audit.entries(
        request.app[keys.POOL],
        since,
        end,
        subject=shown["subject"] or None,
        actor=shown["actor"] or None,
        newest_first=True,
        before=before,
        limit=PAGE + 1,
    )
    more = None
    if len(rows) > PAGE:
        rows = rows[:PAGE]
        more = {**{k: v for k, v in shown.items() if v}, "before": str(rows[-1]["id"])}
    entries = [
        {**r, "detail": orjson.dumps(r["detail"]).decode() if r["detail"] else ""} for r in rows
    ]
    return aiohttp_jinja2.render_template(
        "audit.html",
        request,
        await pages.context(request, filters=shown, entries=entries, more=more),
    )


def _day(text: str, label: str) -> datetime | None:
    """A YYYY-MM-DD date as its first instant, UTC; None when not given."""
    if not text:
        return None
    try:
        return days.utc_midnight(text)
    except ValueError:
        raise ValueError(f"“{label}” is not a date (YYYY-MM-DD): {text!r}") from None


def _before(text: str) -> int | None:
    """The page's position: entries older than this one; None: the newest."""
    if not text:
        return None
    if not text.isdigit() or len(text) > 18:
        raise ValueError(f"not a position in the audit log: {text!r}")
    return int(text)
