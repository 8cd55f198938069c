"""API v2 as a typical panel implements it: params in, answer (before any fault) out."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from reseller.money import format_amount, quantize
from reseller.simulator.catalog import SimService
from reseller.simulator.models import SimError, SimOrder
from reseller.simulator.state import Simulator

Params = dict[str, str]
MAX_IDS = 100
INCORRECT_ORDER = "Incorrect order ID"
REFILL_NOT_FOUND = "Refill not found"

# Extra `add` fields a type cannot do without, and the field whose lines count the units.
_REQUIRED = {
    "SEO": ("keywords",),
    "Mentions": ("usernames",),
    "Mentions with Hashtags": ("usernames", "hashtags"),
    "Mentions Hashtag": ("hashtag",),
    "Mentions User Followers": ("username",),
    "Mentions Media Likers": ("media",),
    "Comment Likes": ("username",),
    "Comment Replies": ("username",),
    "Poll": ("answer_number",),
    "Invites from Groups": ("groups",),
}
_COUNTED = {
    "Custom Comments": "comments",
    "Custom Comments Package": "comments",
    "Comment Replies": "comments",
    "Mentions Custom List": "usernames",
}


def dispatch(sim: Simulator, params: Params) -> Any:
    if not hmac.compare_digest(params.get("key", "").encode(), sim.config.key.encode()):
        return {"error": "Invalid API key"}
    action = params.get("action") or _legacy_action(params)
    handler = _ACTIONS.get(action)
    if handler is None:
        return {"error": "Incorrect request" if action == "" else "Invalid action"}
    try:
        return handler(sim, params)
    except SimError as exc:
        return {"error": exc.message}


def _legacy_action(params: Params) -> str:
    """Old PHP clients send refill calls without an action; panels still honour them."""
    if "order" in params or "orders" in params:
        return "refill"
    if "refill" in params or "refills" in params:
        return "refill_status"
    return ""


def _services(sim: Simulator, params: Params) -> list[dict[str, Any]]:
    return [s.to_json() for s in sim.services.values()]


def _add(sim: Simulator, params: Params) -> dict[str, int]:
    service_id = _as_id(params.get("service", ""))
    if service_id is None:
        raise SimError("Incorrect service ID")
    service = sim.services.get(service_id)
    if service is None:
        raise SimError("Invalid service ID")
    for name in _REQUIRED.get(service.type, ()):
        if name not in params:
            raise SimError("Incorrect request")
    if service.type == "Subscriptions":
        return {"order": _add_subscription(sim, service, params).id}
    link = params.get("link", "")
    if not link or len(link) > 2048 or any(c.isspace() for c in link):
        raise SimError("Invalid link")
    runs = _drip_feed_runs(service, params)
    if service.type in _COUNTED:
        quantity = len(
            [x for x in params.get(_COUNTED[service.type], "").splitlines() if x.strip()]
        )
    elif service.type == "Package":
        quantity = 1
    else:
        quantity = _int(params.get("quantity"), "Invalid quantity")
    if service.type != "Custom Comments Package":
        _check_limits(service, quantity)
    if quantity < 1:
        raise SimError("Incorrect request")
    charge = quantize(service.cost(quantity) * runs)
    units = 1 if service.type == "Package" else quantity * runs
    fields = {k: v for k, v in params.items() if k != "key"}
    return {"order": sim.place_order(service, link, units, charge, fields, runs).id}


def _add_subscription(sim: Simulator, service: SimService, params: Params) -> SimOrder:
    username = params.get("username", "")
    if not username or any(c.isspace() for c in username):
        raise SimError("Invalid link")
    low, high = (
        _int(params.get("min"), "Incorrect request"),
        _int(params.get("max"), "Incorrect request"),
    )
    posts = _int(params.get("posts"), "Incorrect request")
    if low > high or posts < 1:
        raise SimError("Incorrect request")
    _check_limits(service, low)
    _check_limits(service, high)
    fields = {k: v for k, v in params.items() if k != "key"}
    return sim.place_order(
        service, username, high * posts, quantize(service.cost(high) * posts), fields
    )


def _drip_feed_runs(service: SimService, params: Params) -> int:
    if "runs" not in params:
        return 1
    runs = _int(params["runs"], "Incorrect request")
    if runs < 1:
        raise SimError("Incorrect request")
    if runs > 1 and not service.dripfeed:
        raise SimError("Drip-feed is not available for this service")
    if runs > 1 and _int(params.get("interval"), "Incorrect request") < 1:
        raise SimError("Incorrect request")
    return runs


def _check_limits(service: SimService, quantity: int) -> None:
    if quantity < service.min:
        raise SimError(f"Quantity less than minimal {service.min}")
    if quantity > service.max:
        raise SimError(f"Quantity more than maximal {service.max}")


def _status_body(sim: Simulator, order: SimOrder) -> dict[str, str]:
    return {
        "charge": format_amount(order.current_charge),
        "start_count": str(order.start_count),
        "status": order.status,
        "remains": str(order.remains),
        "currency": sim.config.currency,
    }


def _status(sim: Simulator, params: Params) -> dict[str, Any]:
    if "orders" in params:
        answer: dict[str, Any] = {}
        for token in _id_list(params["orders"]):
            order = sim.order(_as_id(token))
            answer[token] = _status_body(sim, order) if order else {"error": INCORRECT_ORDER}
        return answer
    order = sim.order(_as_id(_required(params, "order")))
    if order is None:
        raise SimError(INCORRECT_ORDER)
    return _status_body(sim, order)


def _balance(sim: Simulator, params: Params) -> dict[str, str]:
    return {"balance": format_amount(sim.balance), "currency": sim.config.currency}


def _refill(sim: Simulator, params: Params) -> Any:
    if "orders" in params:
        return [
            {"order": _echo(t), "refill": _each(sim.request_refill, t)}
            for t in _id_list(params["orders"])
        ]
    return {"refill": sim.request_refill(_as_id(_required(params, "order")))}


def _refill_status(sim: Simulator, params: Params) -> Any:
    if "refills" in params:
        answer = []
        for token in _id_list(params["refills"]):
            refill = sim.refill(_as_id(token))
            status = refill.status if refill else {"error": REFILL_NOT_FOUND}
            answer.append({"refill": _echo(token), "status": status})
        return answer
    refill = sim.refill(_as_id(_required(params, "refill")))
    if refill is None:
        raise SimError(REFILL_NOT_FOUND)
    return {"status": refill.status}


def _cancel(sim: Simulator, params: Params) -> list[dict[str, Any]]:
    tokens = _id_list(params["orders"]) if "orders" in params else [_required(params, "order")]

    def cancel(order_id: int | None) -> int:
        sim.request_cancel(order_id)
        return 1  # panels answer 1 for an accepted cancel

    return [{"order": _echo(t), "cancel": _each(cancel, t)} for t in tokens]


def _each(call: Callable[[int | None], int], token: str) -> int | dict[str, str]:
    """One item of a bulk call on one order ID token: its result or its own error."""
    try:
        return call(_as_id(token))
    except SimError as exc:
        return {"error": exc.message}


def _required(params: Params, name: str) -> str:
    if name not in params:
        raise SimError("Incorrect request")
    return params[name]


def _id_list(text: str) -> list[str]:
    tokens = list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    if not tokens or len(tokens) > MAX_IDS:
        raise SimError("Incorrect request")
    return tokens


def _as_id(token: str) -> int | None:
    token = token.strip()
    return int(token) if token.isascii() and token.isdigit() and len(token) <= 18 else None


def _int(text: str | None, error: str) -> int:
    if text is None or not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 18:
        raise SimError(error)
    return int(text)


def _echo(token: str) -> int | str:
    value = _as_id(token)
    return value if value is not None else token


_ACTIONS: dict[str, Callable[[Simulator, Params], Any]] = {
    "services": _services,
    "add": _add,
    "status": _status,
    "balance": _balance,
    "refill": _refill,
    "refill_status": _refill_status,
    "cancel": _cancel,
}
