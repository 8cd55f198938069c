"""`/api/v2`: authenticate, rate-limit, dispatch on `action`; handlers stay thin.

Answers follow API v2 as the README documents it, to the letter: IDs are JSON numbers, money
and counts are strings, errors are `{"error": "<exact string>"}` with HTTP 200.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from reseller import currencies, customers, errors, logs, money, service_types
from reseller.api import params as api_params
from reseller.api.appkeys import (
    ACTION,
    ADDS,
    AUTH_LIMITER,
    CATALOG,
    CONFIG,
    DISPATCHER,
    KEY_CACHE,
    POOL,
    RATE_LIMITER,
    OrderDispatcher,
)
from reseller.api.openapi import Action
from reseller.catalog import Catalog, Service
from reseller.client_address import client_address
from reseller.config import Config
from reseller.config.groups import GroupConfig
from reseller.db import Database
from reseller.orders import place
from reseller.orders.batching import GroupCommit
from reseller.states import DispatchState

Params = dict[str, str]
log = logs.get_logger()


@dataclass(frozen=True, slots=True)
class Call:
    pool: Database
    adds: GroupCommit
    customer: customers.Customer
    base_catalog: Catalog  # in the base currency, at the customer's group's and own prices
    price_list: Catalog  # in the base currency, as customers without a group see it
    currency_rate: Decimal | None  # 1 customer currency unit in the base; None: no rate
    decimals: int  # the catalog's rounding, kept when converting
    dispatcher: OrderDispatcher | None
    inline_errors: bool

    def catalog(self) -> Catalog:
        """The catalog in the customer's currency. Without a rate for it nothing is priced,
        and nothing can be sold: never a base price read as a number in another currency."""
        return self._in_currency(self.base_catalog)

    def list_charge(self, service: Service, params: Params, charge: Decimal) -> Decimal | None:
        """What the price list would have charged for the order in the customer's currency
        (`charge`: what it is charged), for the discount `report` shows; None: not known."""
        listed = self._in_currency(self.price_list).get(service.id)
        if listed is None:
            return None
        if listed.rate == service.rate:
            return charge
        try:
            return service_types.validate(listed, params).charge
        except errors.ApiError:  # the list's rate would take the charge over the limit
            return None

    def _in_currency(self, catalog: Catalog) -> Catalog:
        if self.currency_rate is None:
            raise errors.CurrencyNotPriced()
        return catalog.priced_in(self.currency_rate, decimals=self.decimals)


async def endpoint(request: web.Request) -> web.Response:
    params = await api_params.read(request, request.app[CONFIG].current.server.body_timeout_seconds)
    pool = request.app[POOL]
    key = params.get("key")
    customer = await _authenticate(request, key)
    logs.bind(customer=customer.id)
    if customer.suspended:
        raise errors.AccountSuspended()
    if not await request.app[RATE_LIMITER].allow(customer.id, customer.rate_limit_per_minute):
        raise errors.TooManyRequests()
    action = params.get("action") or _legacy_action(params)
    request[ACTION] = action
    logs.bind(action=action)
    handler = _ACTIONS.get(action)
    if handler is None:
        raise errors.InvalidAction()
    config = request.app[CONFIG].current
    call = Call(
        pool,
        request.app[ADDS],
        customer,
        _catalog_of(request.app[CATALOG].current, customer, config),
        request.app[CATALOG].current,
        currencies.rate_of(config, customer.currency),
        config.pricing.decimals,
        request.app.get(DISPATCHER),
        config.dispatch.inline_errors,
    )
    answer = await handler(call, params)
    body = answer if isinstance(answer, bytes) else orjson.dumps(answer)
    return web.Response(body=body, content_type="application/json")


def _catalog_of(catalog: Catalog, customer: customers.Customer, config: Config) -> Catalog:
    """The catalog as the customer's price group, spend tier and own prices make it (base
    currency).
    A group the config no longer names (a reload removed it) prices its customers as the price
    list does: the operator removed the group's terms, not the customers' access; logged once
    per name."""
    group = _group_of(customer, config)
    tier = group.tier_discount(customer.spent_30d) if group is not None else Decimal(0)
    if customer.prices:
        return catalog.for_customer(group, tier, customer.prices, config.pricing)
    return catalog if group is None else catalog.for_group(group, config.pricing, tier)


def _group_of(customer: customers.Customer, config: Config) -> GroupConfig | None:
    name = customer.price_group
    if name is None:
        return None
    group = config.pricing.groups.get(name)
    if group is None and name not in _MISSING_GROUPS:
        _MISSING_GROUPS.add(name)
        log.warning("price_group_not_in_config", group=name)
    return group


_MISSING_GROUPS: set[str] = set()


async def _authenticate(request: web.Request, key: str | None) -> customers.Customer:
    """The key's customer. An address that keeps sending wrong keys gets `Too many requests`
    without a database lookup for any key this process does not already know, and wrong keys
    from everywhere at once are answered slowly: a flood of random keys must not slow the
    customers down. Waiting costs a timer, not CPU: a flood's clients wait instead of sending
    more."""
    cache, limiter = request.app[KEY_CACHE], request.app[AUTH_LIMITER]
    customer = cache.known(key) if key else None
    if customer is not None:
        return customer
    settings = request.app[CONFIG].current.api
    address = client_address(request, request.app[CONFIG].current.api.client_address_header)
    if await limiter.exhausted(address):
        await asyncio.sleep(float(settings.failed_auth_delay_seconds))
        raise errors.TooManyRequests()
    customer = await cache.customer(key) if key else None
    if customer is None:
        await limiter.allow(address)  # one failure spent
        if not await limiter.allow(_EVERYONE, settings.failed_auth_per_minute_all):
            await asyncio.sleep(float(settings.failed_auth_delay_seconds))
        raise errors.InvalidApiKey()
    return customer


_EVERYONE = "*"  # the failed-auth bucket all addresses share (no address is spelt "*")


def _legacy_action(params: Params) -> str:
    """Old copies of the PHP client send refill calls without an action."""
    if "order" in params or "orders" in params:
        return Action.REFILL
    if "refill" in params or "refills" in params:
        return Action.REFILL_STATUS
    raise errors.IncorrectRequest()


async def _services(call: Call, params: Params) -> bytes:
    return call.catalog().encoded


async def _add(call: Call, params: Params) -> dict[str, int]:
    catalog = call.catalog()
    service_id = api_params.as_id(params.get("service", ""))
    service = catalog.get(service_id) if service_id else None
    if service is None:
        raise errors.InvalidServiceId()
    request = service_types.validate(service, params)
    assert call.currency_rate is not None  # catalog() refused otherwise
    order_id = await call.adds.place(
        place.Placement(
            call.customer,
            service,
            request,
            call.currency_rate,
            call.list_charge(service, params, request.charge),
        )
    )
    sending = call.dispatcher.kick(order_id) if call.dispatcher is not None else None
    if sending is not None and call.inline_errors:
        # Wait for the upstream's answer: a refusal is the customer's answer, and the order's
        # charge has already gone back. Shielded: a client hanging up must not abandon the call.
        try:
            outcome, reason = await asyncio.shield(sending)
        except Exception:  # the order stays queued for the scan (the dispatcher logs why)
            return {"order": order_id}
        if outcome == DispatchState.REFUSED:
            raise errors.ApiError(reason)
    return {"order": order_id}


_INCORRECT_ORDER = {"error": errors.IncorrectOrderId().message}


async def _status(call: Call, params: Params) -> dict[str, Any] | bytes:
    if "orders" in params:
        tokens = api_params.id_list(params["orders"])
        return await place.statuses_answer(call.pool, call.customer.id, tokens)
    token = str(_single_id(params, "order"))
    # The same query as for many orders, so one order's answer is formatted the same way.
    answer = orjson.loads(await place.statuses_answer(call.pool, call.customer.id, [token]))
    if "error" in answer[token]:
        raise errors.IncorrectOrderId()
    return answer[token]


async def _balance(call: Call, params: Params) -> dict[str, str]:
    balance, currency = await place.balance(call.pool, call.customer.id)
    return {"balance": money.format_amount(balance), "currency": currency}


async def _refill(call: Call, params: Params) -> Any:
    if "orders" in params:
        return [
            {"order": _echo(token), "refill": await _per_order(call, token, place.request_refill)}
            for token in api_params.id_list(params["orders"])
        ]
    return {
        "refill": await place.request_refill(
            call.pool, call.customer.id, _single_id(params, "order")
        )
    }


async def _refill_status(call: Call, params: Params) -> Any:
    if "refills" in params:
        tokens = api_params.id_list(params["refills"])
        found = await place.refill_statuses(call.pool, call.customer.id, _valid_ids(tokens))
        not_found = {"error": errors.RefillNotFound().message}
        return [
            {"refill": _echo(t), "status": found.get(api_params.as_id(t) or 0, not_found)}
            for t in tokens
        ]
    refill_id = _single_id(params, "refill", errors.RefillNotFound)
    found = await place.refill_statuses(call.pool, call.customer.id, [refill_id])
    if refill_id not in found:
        raise errors.RefillNotFound()
    return {"status": found[refill_id]}


async def _cancel(call: Call, params: Params) -> list[dict[str, Any]]:
    if "orders" in params:
        tokens = api_params.id_list(params["orders"])
    elif "order" in params:
        tokens = [params["order"]]
    else:
        raise errors.IncorrectRequest()

    async def cancel(pool: Database, customer_id: int, order_id: int) -> int:
        await place.request_cancel(pool, customer_id, order_id)
        return 1

    return [{"order": _echo(t), "cancel": await _per_order(call, t, cancel)} for t in tokens]


async def _per_order(
    call: Call, token: str, action: Callable[[Database, int, int], Awaitable[int]]
) -> int | dict[str, str]:
    """One item of a bulk call: its result, or its own error."""
    order_id = api_params.as_id(token)
    if order_id is None:
        return _INCORRECT_ORDER
    try:
        return await action(call.pool, call.customer.id, order_id)
    except errors.ApiError as exc:
        return {"error": exc.message}


def _single_id(
    params: Params, name: str, error: type[errors.ApiError] = errors.IncorrectOrderId
) -> int:
    if name not in params:
        raise errors.IncorrectRequest()
    value = api_params.as_id(params[name])
    if value is None:
        raise error()
    return value


def _valid_ids(tokens: list[str]) -> list[int]:
    return [i for t in tokens if (i := api_params.as_id(t)) is not None]


def _echo(token: str) -> int | str:
    """IDs are echoed as numbers; a token that is not one is echoed as sent."""
    value = api_params.as_id(token)
    return value if value is not None else token


_ACTIONS: dict[str, Callable[[Call, Params], Awaitable[Any]]] = {
    Action.SERVICES: _services,
    Action.ADD: _add,
    Action.STATUS: _status,
    Action.BALANCE: _balance,
    Action.REFILL: _refill,
    Action.REFILL_STATUS: _refill_status,
    Action.CANCEL: _cancel,
}
