"""The rules an `add` is checked by (the service types in the README), and what it costs.

A rule turns the request's fields into an OrderRequest or raises the exact API error; each
service type names its rule in `reseller.service_types`, and the generic rules read the fields
its row declares. The type's own fields are kept as sent (normalised) and forwarded upstream
unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol
from urllib.parse import unquote, urlsplit

from reseller import errors, money

MAX_INT = 2**31 - 1
MAX_TEXT = 10_000
MAX_LINK = 2_000
MAX_RUNS = 1_000
MAX_INTERVAL = 10_080  # minutes: one week between runs
MAX_POSTS = 10_000
# Delays (minutes) the standard Subscriptions API accepts.
SUBSCRIPTION_DELAYS = frozenset(
    {0, 5, 10, 15, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360, 420, 480, 540, 600}
)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    link: str | None
    quantity: int  # units per run (the whole order when not drip-fed)
    charge: Decimal
    runs: int | None = None
    interval: int | None = None
    fields: dict[str, object] = field(default_factory=dict)


Params = Mapping[str, str]
FieldKind = Literal["text", "lines", "integer", "link", "date"]


@dataclass(frozen=True, slots=True)
class Field:
    """One of a type's own `add` fields, as a client sends it (described in the OpenAPI)."""

    name: str
    kind: FieldKind


class Declared(Protocol):
    """What a rule reads of its type's row (`service_types.ServiceType`)."""

    @property
    def fields(self) -> tuple[Field, ...]: ...
    @property
    def per_package(self) -> bool: ...


class Offered(Protocol):
    """What a rule reads of the service ordered (`catalog.Service`)."""

    @property
    def type(self) -> str: ...
    @property
    def rate(self) -> Decimal: ...
    @property
    def min(self) -> int: ...
    @property
    def max(self) -> int: ...
    @property
    def dripfeed(self) -> bool: ...


# Protocols, not the concrete classes: the type table and the catalog build on this module.
Rule = Callable[[Declared, Offered, Params], OrderRequest]


# --- field readers: each raises the API error a client should see ---


def _link(params: Params, name: str = "link") -> str:
    value = params.get(name)
    if value is None:
        raise errors.IncorrectRequest(detail=f"{name}: missing")
    if not _is_link(value):
        raise errors.InvalidLink(detail=f"{name}: not an http(s) URL, host/path or username")
    return value


_USERNAME = re.compile(r"^@?[A-Za-z0-9_.]{1,100}$")
_HOST = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$")


def _is_link(value: str) -> bool:
    """An http(s) URL, a bare `host/path`, or a username: what panels take as a target."""
    if len(value) > MAX_LINK or not value.isprintable() or any(c.isspace() for c in value):
        return False
    if _USERNAME.match(value):
        return True
    # U+FFFD is what aiohttp's form and query decoding leaves of a %ff it could not decode:
    # the client's real link is lost, so storing (and forwarding) the stand-in is wrong.
    if "\ufffd" in value or not _escapes_are_utf8(value):
        return False
    address = value if "://" in value else f"https://{value}"
    try:
        parts = urlsplit(address)
        host, port = parts.hostname, parts.port  # .port raises on 99999 or a non-number
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and "@" not in parts.netloc  # credentials: never ours to store or forward
        and port != 0
        and host is not None
        and bool(_HOST.match(host))
    )


def _escapes_are_utf8(value: str) -> bool:
    """`%ff%fe` in a link sent as text (JSON, or a form encoded twice) is the same invalid
    UTF-8 the decoders turn into U+FFFD: refused the same whichever way it came."""
    try:
        unquote(value, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


def _integer(
    params: Params,
    name: str,
    *,
    low: int = 0,
    high: int = MAX_INT,
    error: type[errors.ApiError] = errors.IncorrectRequest,
) -> int:
    value = params.get(name)
    if value is None:
        raise error(detail=f"{name}: missing")
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise error(detail=f"{name}: not a whole number")
    number = int(value)
    if not low <= number <= high:
        raise error(detail=f"{name}: {number} is not within {low}-{high}")
    return number


def _optional_integer(
    params: Params, name: str, *, low: int = 0, high: int = MAX_INT
) -> int | None:
    return _integer(params, name, low=low, high=high) if name in params else None


def _text(params: Params, name: str) -> str:
    value = params.get(name)
    if value is None or not value.strip():
        raise errors.IncorrectRequest(detail=f"{name}: missing")
    if len(value) > MAX_TEXT or "\x00" in value:
        raise errors.IncorrectRequest(detail=f"{name}: over {MAX_TEXT} characters, or a NUL")
    return value.strip()


def _lines(params: Params, name: str) -> list[str]:
    """One item per line (comments, usernames, keywords …); blank lines dropped."""
    items = [line.strip() for line in _text(params, name).splitlines()]
    return [item for item in items if item]


def _quantity(service: Offered, params: Params) -> int:
    return _checked_quantity(service, _integer(params, "quantity", error=errors.InvalidQuantity))


def _checked_quantity(service: Offered, quantity: int) -> int:
    if quantity < service.min:
        raise errors.InvalidQuantity(f"Quantity less than minimal {service.min}")
    if quantity > service.max:
        raise errors.InvalidQuantity(f"Quantity more than maximal {service.max}")
    return quantity


def _counted(service: Offered, params: Params, items: list[str]) -> int:
    """Types whose quantity is the number of lines: a quantity sent along must agree."""
    if "quantity" in params and params["quantity"] != str(len(items)):
        raise errors.InvalidQuantity(
            detail=f"quantity: {params['quantity']} for {len(items)} lines"
        )
    return _checked_quantity(service, len(items))


def _drip_feed(service: Offered, params: Params) -> tuple[int | None, int | None]:
    runs = _optional_integer(params, "runs", low=1, high=MAX_RUNS)
    interval = _optional_integer(params, "interval", low=1, high=MAX_INTERVAL)
    if runs is None or runs == 1:
        return None, None
    if not service.dripfeed:
        raise errors.IncorrectRequest(detail="runs: this service has no drip-feed")
    if interval is None:
        raise errors.IncorrectRequest(detail="interval: required with runs")
    return runs, interval


def _priced(
    service_type: Declared, service: Offered, quantity: int, runs: int | None = None
) -> Decimal:
    amount = money.charge_for(
        service.rate, quantity * (runs or 1), per_package=service_type.per_package
    )
    if amount >= money.LIMIT:
        raise errors.InvalidQuantity(detail=f"charge {amount} over the limit")
    return amount


# --- the rules a service type names ---


def default(service_type: Declared, service: Offered, params: Params) -> OrderRequest:
    """link + quantity, drip-fed when the service allows it."""
    link, quantity = _link(params), _quantity(service, params)
    runs, interval = _drip_feed(service, params)
    charge = _priced(service_type, service, quantity, runs)
    return OrderRequest(link, quantity, charge, runs, interval)


def package(service_type: Declared, service: Offered, params: Params) -> OrderRequest:
    return OrderRequest(_link(params), 1, _priced(service_type, service, 1))


def with_quantity(service_type: Declared, service: Offered, params: Params) -> OrderRequest:
    """link + quantity + the type's fields, each kept as sent (SEO keywords, Mentions
    usernames, …)."""
    link, quantity = _link(params), _quantity(service, params)
    fields: dict[str, object] = {f.name: _text(params, f.name) for f in service_type.fields}
    return OrderRequest(link, quantity, _priced(service_type, service, quantity), fields=fields)


def line_counted(service_type: Declared, service: Offered, params: Params) -> OrderRequest:
    """Quantity = the number of lines in the type's one `lines` field (Custom Comments, Mentions
    Custom List, …); its other fields are kept as sent."""
    (counted,) = [f.name for f in service_type.fields if f.kind == "lines"]
    link, items = _link(params), _lines(params, counted)
    quantity = _counted(service, params, items)
    fields: dict[str, object] = {
        f.name: _text(params, f.name) for f in service_type.fields if f.name != counted
    }
    fields[counted] = "\n".join(items)
    return OrderRequest(link, quantity, _priced(service_type, service, quantity), fields=fields)


def comments_package(service_type: Declared, service: Offered, params: Params) -> OrderRequest:
    link, comments = _link(params), _lines(params, "comments")
    charge = _priced(service_type, service, 1)
    return OrderRequest(link, 1, charge, fields={"comments": "\n".join(comments)})


def poll(service_type: Declared, service: Offered, params: Params) -> OrderRequest:
    link, quantity = _link(params), _quantity(service, params)
    answer = _integer(params, "answer_number", low=1, high=100)
    charge = _priced(service_type, service, quantity)
    return OrderRequest(link, quantity, charge, fields={"answer_number": answer})


def media_likers(service_type: Declared, service: Offered, params: Params) -> OrderRequest:
    link, quantity = _link(params), _quantity(service, params)
    media = _link(params, "media")
    charge = _priced(service_type, service, quantity)
    return OrderRequest(link, quantity, charge, fields={"media": media})


def subscriptions(service_type: Declared, service: Offered, params: Params) -> OrderRequest:
    """Charged up front for the most it can deliver: max per post × posts; what is not
    delivered comes back through the upstream's Partial/Canceled status."""
    username = _text(params, "username")
    if not _USERNAME.match(username) and not _is_link(username):
        raise errors.InvalidLink(detail="username: not a username or link")
    low = _checked_quantity(service, _integer(params, "min", error=errors.InvalidQuantity))
    high = _checked_quantity(service, _integer(params, "max", error=errors.InvalidQuantity))
    posts = _integer(params, "posts", high=MAX_POSTS)
    old_posts = _optional_integer(params, "old_posts", high=MAX_POSTS) or 0
    delay = _integer(params, "delay", high=600)
    if low > high:
        raise errors.InvalidQuantity(detail=f"min {low} is more than max {high}")
    if posts + old_posts == 0:
        raise errors.IncorrectRequest(detail="posts and old_posts: both 0")
    if delay not in SUBSCRIPTION_DELAYS:
        raise errors.IncorrectRequest(detail=f"delay: {delay} is not one of {SUBSCRIPTION_DELAYS}")
    fields: dict[str, object] = {
        "username": username,
        "min": low,
        "max": high,
        "posts": posts,
        "old_posts": old_posts,
        "delay": delay,
    }
    if "expiry" in params:
        fields["expiry"] = _expiry(params["expiry"])
    quantity = high * (posts + old_posts)
    if quantity > MAX_INT:
        raise errors.InvalidQuantity(detail=f"max × posts = {quantity}, too many")
    return OrderRequest(None, quantity, _priced(service_type, service, quantity), fields=fields)


def _expiry(value: str) -> str:
    try:
        datetime.strptime(value, "%d/%m/%Y")
    except ValueError:
        raise errors.IncorrectRequest(detail=f"expiry: {value!r} is not a d/m/Y date") from None
    return value


def web_traffic(service_type: Declared, service: Offered, params: Params) -> OrderRequest:
    link, quantity = _link(params), _quantity(service, params)
    runs, interval = _drip_feed(service, params)
    traffic = _integer(params, "type_of_traffic", low=1, high=3)
    fields: dict[str, object] = {
        "country": _text(params, "country"),
        "device": _integer(params, "device", low=1, high=5),
        "type_of_traffic": traffic,
    }
    if traffic == 1:
        fields["google_keyword"] = _text(params, "google_keyword")
    if traffic == 2:
        fields["referring_url"] = _link(params, "referring_url")
    charge = _priced(service_type, service, quantity, runs)
    return OrderRequest(link, quantity, charge, runs, interval, fields)
