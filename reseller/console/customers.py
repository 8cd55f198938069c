"""The customers: their list and a new one, a customer's page (top-up and adjustment, suspend
and resume, a new API key, rate limit and price group) and its statement, on screen or as CSV.
Everything reads and changes through `reseller.customers`, as `reseller customers …` does.

A new API key is shown in the answer to the form that made it (200, never a redirect): it
never passes through the session cookie or a URL, and no page shows it again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote, urlencode

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from reseller import csv_export, currencies, customers, days, errors, money, names
from reseller.config.groups import NO_GROUP
from reseller.console import keys, pages

routes = web.RouteTableDef()
T = TypeVar("T")


def _url(name: str, tail: str = "") -> str:
    """A customer's page (names may hold spaces, slashes, anything printable)."""
    return f"/customers/{quote(name, safe='')}{tail}"


def _row(customer: customers.Customer) -> dict[str, Any]:
    return {
        "name": customer.name,
        "url": _url(customer.name),
        "balance": money.format_amount(customer.balance),
        "currency": customer.currency,
        "state": "suspended" if customer.suspended else "active",
        "rate_limit": customer.rate_limit_per_minute or customers.DEFAULT_RATE_LIMIT,
        "group": customer.price_group or NO_GROUP,
        "spent_30d": money.format_amount(customer.spent_30d),
    }


@routes.get("/customers")
async def listing(request: web.Request) -> web.Response:
    config = request.app[keys.CONFIG].current
    found = await customers.list_all(request.app[keys.POOL])
    context = await pages.context(
        request,
        customers=[_row(c) for c in found],
        base=config.api.currency,
        groups=sorted(config.pricing.groups),
    )
    return aiohttp_jinja2.render_template("customers.html", request, context)


@routes.post("/customers")
async def create(request: web.Request) -> web.StreamResponse:
    """Nothing is created unless every field is right; the key is in this answer only."""
    form = await request.post()
    config = request.app[keys.CONFIG].current
    try:
        name = _field("Name", names.parse, str(form.get("name", "")))
        currency = str(form.get("currency", "")).strip() or config.api.currency
        currencies.require_rate(config, _field("Currency", currencies.parse_code, currency))
        limit = str(form.get("rate_limit", "")).strip()
        rate_limit = _field("Rate limit", customers.parse_rate_limit, limit) if limit else None
        group = str(form.get("group", "")).strip() or NO_GROUP
        customers.require_group(config, group)
        customer, key = await customers.create(
            request.app[keys.POOL],
            name,
            currency=currency,
            rate_limit=None if rate_limit == customers.DEFAULT_RATE_LIMIT else rate_limit,
            price_group=None if group == NO_GROUP else group,
            by=pages.actor(request),
        )
    except errors.DuplicateName:
        await _refused(request, f"a customer named {name!r} exists already; nothing created")
    except (errors.ResellerError, ValueError) as exc:
        await _refused(request, f"{exc}; nothing created")
    return await _new_key(request, customer.name, key, "created")


def _field(label: str, parse: Callable[[str], T], text: str) -> T:
    """`parse(text)`, its refusal naming the form's field."""
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"{label}: {exc}") from None


async def _refused(request: web.Request, message: str) -> NoReturn:
    """Back to the list, the form's refusal shown there (as `pages.act` ends)."""
    pages.flash(await get_session(request), "error", message)
    raise web.HTTPSeeOther("/customers")


async def _new_key(request: web.Request, name: str, key: str, done: str) -> web.Response:
    context = await pages.context(request, name=name, url=_url(name), key=key, done=done)
    return aiohttp_jinja2.render_template("customer_key.html", request, context)


async def _customer(request: web.Request) -> customers.Customer:
    """The customer the URL names; an unknown one is a 404 page saying so."""
    name = request.match_info["name"]
    try:
        return await customers.get(request.app[keys.POOL], name)
    except errors.NotFound:
        raise await _not_found(request, name) from None


async def _not_found(request: web.Request, name: str) -> web.HTTPNotFound:
    context = await pages.context(request, name=name)
    page = aiohttp_jinja2.render_string("customer_unknown.html", request, context)
    return web.HTTPNotFound(text=page, content_type="text/html")


@routes.get("/customers/{name}")
async def page(request: web.Request) -> web.Response:
    customer = await _customer(request)
    config = request.app[keys.CONFIG].current
    group = customers.group_terms(customer, config)
    context = await pages.context(
        request,
        customer=_row(customer),
        default_limit=config.api.rate_limit_per_minute,
        tier=f"{customers.tier_discount(customer, group).normalize():f}",
        base=config.api.currency,
        groups=sorted(config.pricing.groups),
        created=f"{customer.created_at:%Y-%m-%d %H:%M}",
    )
    return aiohttp_jinja2.render_template("customer.html", request, context)


@routes.post("/customers/{name}/balance")
async def balance(request: web.Request) -> web.StreamResponse:
    customer = await _customer(request)
    form = await request.post()
    reason = str(form.get("reason", "")).strip()

    async def work() -> str:
        amount = _field("Amount", money.parse_amount, str(form.get("amount", "")))
        actor = pages.actor(request, reason)
        new = await customers.add_balance(request.app[keys.POOL], customer.name, amount, by=actor)
        what = "top-up" if amount > 0 else "adjustment"
        return (
            f"{customer.name}: {what} of {money.format_amount(amount)} {customer.currency};"
            f" balance {money.format_amount(new)} {customer.currency}"
        )

    await pages.act(request, _url(customer.name), work())


@routes.post("/customers/{name}/suspend")
async def suspend(request: web.Request) -> web.StreamResponse:
    return await _suspend(request, suspended=True)


@routes.post("/customers/{name}/resume")
async def resume(request: web.Request) -> web.StreamResponse:
    return await _suspend(request, suspended=False)


async def _suspend(request: web.Request, *, suspended: bool) -> web.StreamResponse:
    customer = await _customer(request)

    async def work() -> str:
        await customers.set_suspended(
            request.app[keys.POOL], customer.name, suspended=suspended, by=pages.actor(request)
        )
        return f"{customer.name}: {'suspended' if suspended else 'active'}"

    await pages.act(request, _url(customer.name), work())


@routes.post("/customers/{name}/rotate")
async def rotate(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    try:
        key = await customers.rotate_key(request.app[keys.POOL], name, by=pages.actor(request))
    except errors.NotFound:
        raise await _not_found(request, name) from None
    return await _new_key(request, name, key, "given a new key (the old one no longer works)")


@routes.post("/customers/{name}/settings")
async def settings(request: web.Request) -> web.StreamResponse:
    """Rate limit and price group; only what differs is changed (and audited)."""
    customer = await _customer(request)
    form = await request.post()
    config = request.app[keys.CONFIG].current

    async def work() -> str:
        limit_text = str(form.get("rate_limit", "")).strip() or customers.DEFAULT_RATE_LIMIT
        limit = _field("Rate limit", customers.parse_rate_limit, limit_text)
        group = str(form.get("group", "")).strip() or NO_GROUP
        customers.require_group(config, group)
        row = _row(customer)
        if (limit, group) == (row["rate_limit"], row["group"]):
            return f"{customer.name}: nothing changed"
        changed = await customers.update(
            request.app[keys.POOL],
            customer.name,
            by=pages.actor(request),
            rate_limit=None if limit == row["rate_limit"] else limit,
            price_group=None if group == row["group"] else group,
        )
        now = _row(changed)
        return f"{customer.name}: rate limit {now['rate_limit']}, price group {now['group']}"

    await pages.act(request, _url(customer.name), work())


def _period(request: web.Request) -> tuple[datetime | None, datetime | None]:
    """?since and ?until, days (YYYY-MM-DD, UTC midnight); a malformed one is a 400."""
    found: list[datetime | None] = []
    for field in ("since", "until"):
        text = request.query.get(field, "").strip()
        try:
            found.append(days.utc_midnight(text) if text else None)
        except ValueError:
            raise web.HTTPBadRequest(text=f"{field}: not a date (YYYY-MM-DD): {text!r}") from None
    return found[0], found[1]


async def _statement(request: web.Request) -> customers.Statement:
    name = request.match_info["name"]
    since, until = _period(request)
    try:
        return await customers.statement(request.app[keys.POOL], name, since=since, until=until)
    except errors.NotFound:
        raise await _not_found(request, name) from None
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None


@routes.get("/customers/{name}/statement")
async def statement(request: web.Request) -> web.Response:
    found = await _statement(request)
    query = {k: v for k, v in request.query.items() if k in ("since", "until") and v}
    context = await pages.context(
        request,
        customer=_row(found.customer),
        since=query.get("since", ""),
        until=query.get("until", ""),
        columns=customers.STATEMENT_COLUMNS,
        rows=customers.statement_rows(found),
        opening=money.format_amount(found.opening),
        closing=money.format_amount(found.closing),
        csv=_url(found.customer.name, "/statement.csv") + (f"?{urlencode(query)}" if query else ""),
    )
    return aiohttp_jinja2.render_template("customer_statement.html", request, context)


@routes.get("/customers/{name}/statement.csv")
async def statement_csv(request: web.Request) -> web.Response:
    """The rows of `reseller customers statement NAME --csv`, from the same function."""
    found = await _statement(request)
    body = csv_export.text(customers.STATEMENT_COLUMNS, customers.statement_rows(found))
    filename = f"statement-{quote(found.customer.name, safe='')}.csv"
    return web.Response(
        text=body,
        content_type="text/csv",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )
