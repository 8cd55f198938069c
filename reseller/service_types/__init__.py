"""The service types of API v2, one row each: the fields an `add` of it takes, the rule that
checks them (`rules.py` beside this), how it is priced and what goes upstream. Adding a type is
a row here (and a rule in `rules.py` when none of the existing ones fits).

The config, the catalog build, `add`, dispatch, the upstream match and the OpenAPI description
all read this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reseller.service_types import rules
from reseller.service_types.rules import Field, FieldKind

__all__ = ["TYPES", "Field", "FieldKind", "ServiceType", "validate"]


@dataclass(frozen=True, slots=True)
class ServiceType:
    name: str
    rule: rules.Rule
    fields: tuple[Field, ...] = ()  # beside link, quantity, runs and interval
    per_package: bool = False  # the rate is per package, not per 1000
    sends_quantity: bool = True  # the upstream `add` takes a quantity (others derive it)


TYPES: tuple[ServiceType, ...] = (
    ServiceType("Default", rules.default),
    ServiceType("Package", rules.package, per_package=True, sends_quantity=False),
    ServiceType("SEO", rules.with_quantity, (Field("keywords", "lines"),)),
    ServiceType(
        "Custom Comments", rules.line_counted, (Field("comments", "lines"),), sends_quantity=False
    ),
    ServiceType(
        "Custom Comments Package",
        rules.comments_package,
        (Field("comments", "lines"),),
        per_package=True,
        sends_quantity=False,
    ),
    ServiceType("Mentions", rules.with_quantity, (Field("usernames", "lines"),)),
    ServiceType(
        "Mentions with Hashtags",
        rules.with_quantity,
        (Field("usernames", "lines"), Field("hashtags", "lines")),
    ),
    ServiceType(
        "Mentions Custom List",
        rules.line_counted,
        (Field("usernames", "lines"),),
        sends_quantity=False,
    ),
    ServiceType("Mentions Hashtag", rules.with_quantity, (Field("hashtag", "text"),)),
    ServiceType("Mentions User Followers", rules.with_quantity, (Field("username", "text"),)),
    ServiceType("Mentions Media Likers", rules.media_likers, (Field("media", "link"),)),
    ServiceType("Comment Likes", rules.with_quantity, (Field("username", "text"),)),
    ServiceType(
        "Comment Replies",
        rules.line_counted,
        (Field("comments", "lines"), Field("username", "text")),
        sends_quantity=False,
    ),
    ServiceType("Poll", rules.poll, (Field("answer_number", "integer"),)),
    ServiceType("Invites from Groups", rules.with_quantity, (Field("groups", "lines"),)),
    ServiceType(
        "Subscriptions",
        rules.subscriptions,
        (
            Field("username", "text"),
            Field("min", "integer"),
            Field("max", "integer"),
            Field("posts", "integer"),
            Field("old_posts", "integer"),
            Field("delay", "integer"),
            Field("expiry", "date"),
        ),
        sends_quantity=False,
    ),
    ServiceType(
        "Web Traffic",
        rules.web_traffic,
        (
            Field("country", "text"),
            Field("device", "integer"),
            Field("type_of_traffic", "integer"),
            Field("google_keyword", "text"),
            Field("referring_url", "link"),
        ),
    ),
)
_BY_NAME = {t.name: t for t in TYPES}
SERVICE_TYPES: tuple[str, ...] = tuple(_BY_NAME)  # what the config and the catalog accept
PACKAGE_TYPES = frozenset(t.name for t in TYPES if t.per_package)  # for costs, by type name


def validate(service: rules.Offered, params: rules.Params) -> rules.OrderRequest:
    """The order an `add` for `service` asks for, or the exact API error."""
    service_type = _BY_NAME[service.type]
    return service_type.rule(service_type, service, params)


def upstream_fields(
    service_type: str,
    *,
    link: str | None,
    quantity: int,
    runs: int | None,
    interval: int | None,
    fields: Mapping[str, object],
) -> dict[str, object]:
    """The `add` fields to forward upstream: what the customer sent, unchanged."""
    out: dict[str, object] = {}
    if link is not None:
        out["link"] = link
    known = _BY_NAME.get(service_type)  # an unknown type (no longer sold) sends none
    if known is not None and known.sends_quantity:
        out["quantity"] = quantity
    if runs is not None:
        out["runs"], out["interval"] = runs, interval
    out.update(fields)
    return out
