"""The orders pages: search and filter (`orders.search`, as `reseller orders list`), one
order's whole story (`orders.story`, as `reseller orders show`), and the uncertain queue with
the operator's resolutions (`orders.resolve`, as `reseller orders resolve*`)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiMapping

from reseller import days, money
from reseller.console import keys, pages
from reseller.orders import resolve, search, story
from reseller.states import DispatchState, OrderStatus

PAGE = 50  # rows per page, as `orders list`
QUEUES = ("uncertain", "flagged", "waiting")  # the CLI's --uncertain, --flagged, --waiting
LARGEST_ID = 2**63 - 1  # bigint: a larger number is no id at all

routes = web.RouteTableDef()


@routes.get("/orders")
@aiohttp_jinja2.template("orders.html")
async def listing(request: web.Request) -> dict[str, Any]:
    query = request.query
    problems: list[str] = []
    filters = _filters(query, problems)
    before = _whole(query.get("before", ""), "Before", problems)
    found = None
    if not problems:
        found = await search.find(request.app[keys.POOL], filters, limit=PAGE, before=before)
    return await pages.context(
        request,
        query=query,
        problems=problems,
        statuses=tuple(OrderStatus),
        dispatch_states=tuple(DispatchState),
        queues=QUEUES,
        orders=[_row(r) for r in found.orders] if found else [],
        next_page=_next_page(query, found.orders[-1]["id"]) if found and found.more else None,
    )


@routes.get("/orders/uncertain")
@aiohttp_jinja2.template("uncertain.html")
async def uncertain(request: web.Request) -> dict[str, Any]:
    problems: list[str] = []
    before = _whole(request.query.get("before", ""), "Before", problems)
    filters = search.Filters(dispatch_state=DispatchState.UNCERTAIN)
    found = search.Page([], False)
    if not problems:
        found = await search.find(request.app[keys.POOL], filters, limit=PAGE, before=before)
    return await pages.context(
        request,
        problems=problems,
        orders=[_row(r) for r in found.orders],
        refills=[{**r, "upstream": search.upstream(r)} for r in found.refills],
        runs=[{**r, "upstream": search.upstream(r)} for r in found.runs],
        more_refills=found.more_refills,
        more_runs=found.more_runs,
        next_page=f"/orders/uncertain?before={found.orders[-1]['id']}" if found.more else None,
    )


@routes.get("/orders/{id}")
async def order(request: web.Request) -> web.Response:
    order_id = _path_id(request.match_info["id"])
    facts = None if order_id is None else await story.gather(request.app[keys.POOL], order_id)
    if facts is None:
        context = await pages.context(request, missing=request.match_info["id"])
        return aiohttp_jinja2.render_template("order.html", request, context, status=404)
    row = facts.order
    context = await pages.context(
        request,
        order=story.order_fields(row),
        events=story.events(facts),
        uncertain=row["dispatch_state"] == DispatchState.UNCERTAIN,
        frozen=row["frozen"] is not None and row["settled_at"] is None,
        uncertain_refills=[
            {**r, "order_id": order_id}
            for r in facts.refills
            if r["dispatch_state"] == DispatchState.UNCERTAIN
        ],
        uncertain_runs=[r for r in facts.runs if r["dispatch_state"] == DispatchState.UNCERTAIN],
        settle_statuses=resolve.SETTLE_STATUSES,
    )
    return aiohttp_jinja2.render_template("order.html", request, context)


@routes.post("/orders/{id}/resolve")
async def resolve_order(request: web.Request) -> web.StreamResponse:
    order_id, form = _posted_id(request, "id"), await request.post()
    upstream_order, by = _text(form, "upstream_order"), pages.actor(request, _text(form, "reason"))
    pool = request.app[keys.POOL]

    async def work() -> str:
        if form.get("how") == "refund":
            moved = await resolve.refund(pool, order_id, by=by)
            return f"Order {order_id}: canceled, {money.format_amount(moved)} refunded."
        if form.get("how") != "link" or upstream_order is None:
            raise ValueError("Give the upstream order ID to link, or refund: nothing changed.")
        await resolve.link(pool, request.app[keys.UPSTREAMS], order_id, upstream_order, by=by)
        return f"Order {order_id}: linked to upstream order {upstream_order}."

    await pages.act(request, f"/orders/{order_id}", work())


@routes.post("/orders/{id}/settle")
async def settle_order(request: web.Request) -> web.StreamResponse:
    order_id, form = _posted_id(request, "id"), await request.post()
    status, by = str(form.get("status", "")), pages.actor(request, _text(form, "reason"))
    config = request.app[keys.CONFIG].current

    async def work() -> str:
        if status not in resolve.SETTLE_STATUSES:
            raise ValueError(f"Choose a final status ({', '.join(resolve.SETTLE_STATUSES)}).")
        problems: list[str] = []
        remains = _whole(str(form.get("remains", "")), "Remains", problems)
        if problems:
            raise ValueError(problems[0])
        if (remains is not None) != (status == OrderStatus.PARTIAL):
            raise ValueError("Remains go with Partial, and only with it: nothing changed.")
        moved = await resolve.settle_frozen(
            request.app[keys.POOL],
            order_id,
            status,
            remains,
            by=by,
            loss_tolerance=config.sync.loss_tolerance,
        )
        return f"Order {order_id}: {status}, {money.format_amount(moved)} refunded."

    await pages.act(request, f"/orders/{order_id}", work())


@routes.post("/refills/{id}/resolve")
async def resolve_refill(request: web.Request) -> web.StreamResponse:
    refill_id, form = _posted_id(request, "id"), await request.post()
    upstream_refill = _text(form, "upstream_refill")
    pool, by = request.app[keys.POOL], pages.actor(request, _text(form, "reason"))
    order_id = _path_id(str(form.get("order", "")))  # the page to return to

    async def work() -> str:
        if form.get("how") == "reject":
            await resolve.reject_refill(pool, refill_id, by=by)
            return f"Refill {refill_id}: rejected."
        if form.get("how") != "link" or upstream_refill is None:
            raise ValueError("Give the upstream refill ID to link, or reject: nothing changed.")
        upstreams = request.app[keys.UPSTREAMS]
        await resolve.link_refill(pool, upstreams, refill_id, upstream_refill, by=by)
        return f"Refill {refill_id}: linked to upstream refill {upstream_refill}."

    back = "/orders/uncertain" if order_id is None else f"/orders/{order_id}"
    await pages.act(request, back, work())


@routes.post("/orders/{id}/runs/{run}/resolve")
async def resolve_run(request: web.Request) -> web.StreamResponse:
    order_id, run = _posted_id(request, "id"), _posted_id(request, "run")
    form = await request.post()
    upstream_order, by = _text(form, "upstream_order"), pages.actor(request, _text(form, "reason"))
    pool = request.app[keys.POOL]

    async def work() -> str:
        if form.get("how") == "refund":
            moved = await resolve.refund_run(pool, order_id, run, by=by)
            return f"Order {order_id} run {run}: not sent, {money.format_amount(moved)} refunded."
        if form.get("how") != "link" or upstream_order is None:
            raise ValueError("Give the upstream order ID to link, or refund: nothing changed.")
        upstreams = request.app[keys.UPSTREAMS]
        await resolve.link_run(pool, upstreams, order_id, run, upstream_order, by=by)
        return f"Order {order_id} run {run}: linked to upstream order {upstream_order}."

    await pages.act(request, f"/orders/{order_id}", work())


def _filters(query: MultiMapping[str], problems: list[str]) -> search.Filters:
    """The form's filters; what cannot be read is named in `problems`."""
    if any("\x00" in value for value in query.values()):
        problems.append("A filter holds a NUL character: no order has one.")
        return search.Filters()
    status, dispatch = _text(query, "status"), _text(query, "dispatch")
    queue = _text(query, "queue")
    if status is not None and status not in tuple(OrderStatus):
        problems.append(f"Unknown status {status!r}.")
    if dispatch is not None and dispatch not in tuple(DispatchState):
        problems.append(f"Unknown dispatch state {dispatch!r}.")
    if queue is not None and queue not in QUEUES:
        problems.append(f"Unknown queue {queue!r}.")
    if queue == "uncertain":
        if dispatch not in (None, DispatchState.UNCERTAIN):
            problems.append("The uncertain queue holds orders whose dispatch is uncertain.")
        dispatch = DispatchState.UNCERTAIN
    since, until = _day(query, "since", problems), _day(query, "until", problems)
    if since and until and since > until:
        problems.append("Since is after until: no day is both.")
    return search.Filters(
        customer=_text(query, "customer"),
        service=_whole(query.get("service", ""), "Service", problems),
        provider=_text(query, "provider"),
        status=status,
        dispatch_state=dispatch,
        link=_text(query, "link"),
        since=since,
        until=until,
        flagged=queue == "flagged",
        waiting=queue == "waiting",
    )


def _row(order: Any) -> dict[str, Any]:
    """A listed order as `orders list` shows it, with its link and day."""
    return {
        **order,
        "upstream": search.upstream(order),
        "charge": f"{money.format_amount(order['charge'])} {order['currency']}",
        "refunded": money.format_amount(order["refunded"]),
        "created": order["created_at"].strftime("%Y-%m-%d %H:%M"),
    }


def _next_page(query: MultiMapping[str], before: int) -> str:
    """The same search, orders before `before`."""
    kept = [(name, value) for name, value in query.items() if name != "before" and value]
    return "/orders?" + urlencode([*kept, ("before", str(before))])


def _text(values: Any, name: str) -> str | None:
    """A form or query field, trimmed; None when empty."""
    return str(values.get(name, "")).strip() or None


def _whole(text: str, label: str, problems: list[str]) -> int | None:
    """A whole number from 1 (None: empty); a problem named otherwise."""
    text = text.strip()
    if not text:
        return None
    # At most 19 digits (a bigint), checked before Python reads it (it reads no more than 4300).
    if (
        not (text.isascii() and text.isdigit())
        or len(text) > 19
        or not 1 <= int(text) <= LARGEST_ID
    ):
        problems.append(f"{label} must be a whole number from 1, not {text[:40]!r}.")
        return None
    return int(text)


def _day(query: MultiMapping[str], name: str, problems: list[str]) -> date | None:
    text = _text(query, name)
    if text is None:
        return None
    try:
        return days.utc_midnight(text).date()
    except ValueError:
        problems.append(f"{name.capitalize()} must be a date (YYYY-MM-DD), not {text!r}.")
        return None


def _path_id(text: str) -> int | None:
    return _whole(text, "", [])


def _posted_id(request: web.Request, name: str) -> int:
    found = _path_id(request.match_info[name])
    if found is None:
        raise web.HTTPNotFound(text=f"No such {name}: {request.match_info[name]!r}.")
    return found
