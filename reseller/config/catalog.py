"""The catalog part of the config: local services, category imports, pricing, currency rates.

```yaml
services:                       # explicit mappings: local ID → upstream candidates
  - id: 1
    upstreams: [{provider: main, service: 101}, {provider: backup, service: 7}]
    name: Instagram Followers   # optional overrides of the upstream's values
    markup_percent: 40          # or `rate: 0.90` for a fixed sell rate
imports:                        # whole upstream categories, local IDs from first_id, stable
  - {provider: main, category: "Instagram*", first_id: 1000}
pricing:
  markup_percent: 30            # default; then per provider, per category glob, per service
  providers: {backup: {markup_percent: 20}}
  categories: {"Telegram*": {markup_percent: 50}}
  min_rate: 0.01
  rounding: {decimals: 2, mode: up}
  groups: {wholesale: {discount_percent: 10}}   # see config.groups
currency_rates: {EUR: 1.08}     # 1 EUR = 1.08 of api.currency
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from reseller.config.groups import GroupConfig, known_service_ids, read_groups
from reseller.config.reader import (
    Section,
    boolean,
    currency,
    decimal,
    default_of,
    integer,
    one_of,
    text,
)
from reseller.service_types import SERVICE_TYPES

MAX_ID = 2**31 - 1
_RATE = decimal(Decimal(0), Decimal("1e9"))
# Below 0 would sell under cost: never meant, and the catalog would only take it off sale.
_MARKUP = decimal(Decimal(0), Decimal(100_000))
ROUNDING_MODES = ("up", "half_up", "down")


@dataclass(frozen=True, slots=True)
class Candidate:
    provider: str
    service: str  # the provider's service ID


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    id: int
    upstreams: tuple[Candidate, ...]
    # Overrides; None means: take the upstream's value.
    name: str | None = None
    category: str | None = None
    type: str | None = None
    min: int | None = None
    max: int | None = None
    refill: bool | None = None
    cancel: bool | None = None
    dripfeed: bool | None = None
    rate: Decimal | None = None  # a fixed sell rate
    markup_percent: Decimal | None = None
    # Orders may run side by side on one link (views, likes on a post stack fine); otherwise a
    # new order waits while its link has an active order on the same upstream service.
    allow_overlap: bool = False
    # Offer drip-feed even when the upstream has none: runs are sent as separate orders.
    emulate_dripfeed: bool = False


@dataclass(frozen=True, slots=True)
class ImportConfig:
    provider: str
    category: str  # a glob on the upstream category
    first_id: int
    markup_percent: Decimal | None = None
    allow_overlap: bool = False  # as for a service, for every service the rule imports


@dataclass(frozen=True, slots=True)
class PricingConfig:
    markup_percent: Decimal = Decimal(0)
    providers: dict[str, Decimal] = field(default_factory=dict)
    categories: tuple[tuple[str, Decimal], ...] = ()  # (glob, markup) in file order
    min_rate: Decimal = Decimal(0)
    decimals: int = 5
    rounding: str = "up"
    groups: dict[str, GroupConfig] = field(default_factory=dict)


def read_services(root: Section, providers: list[str]) -> tuple[ServiceConfig, ...]:
    return tuple(_service(s, providers) for s in root.items("services"))


def read_imports(root: Section, providers: list[str]) -> tuple[ImportConfig, ...]:
    imports = []
    for s in root.items("imports"):
        imports.append(
            ImportConfig(
                **s.read(
                    ImportConfig,
                    provider=_known(providers),
                    category=text,
                    first_id=integer(1, MAX_ID),
                    markup_percent=_MARKUP,
                    allow_overlap=boolean,
                )
            )
        )
        s.finish()
    return tuple(imports)


def read_pricing(
    root: Section,
    providers: list[str],
    services: tuple[ServiceConfig, ...] = (),
    imports: tuple[ImportConfig, ...] = (),
) -> PricingConfig:
    """`services` and `imports`: the IDs price groups may name."""
    s = root.section("pricing")
    rounding = s.section("rounding")
    by_provider = s.section("providers")
    by_category = s.section("categories")
    # Read in this order so the problems keep their order; `rounding.mode` fills the field
    # `rounding`, a key of another name, so its default is looked up by the field's name.
    pricing = PricingConfig(
        **s.read(PricingConfig, markup_percent=_MARKUP),
        providers={name: _markup_of(by_provider, name) for name in _keys(by_provider)},
        categories=tuple((glob, _markup_of(by_category, glob)) for glob in _keys(by_category)),
        **s.read(PricingConfig, min_rate=_RATE),
        **rounding.read(PricingConfig, decimals=integer(0, 5)),
        rounding=rounding.get(
            "mode", _choice(ROUNDING_MODES), default_of(PricingConfig, "rounding")
        ),
        groups=read_groups(
            s,
            known_service_ids([c.id for c in services], [rule.first_id for rule in imports]),
            unknown_hint="not in services, nor at or above an import's first_id",
        ),
    )
    for name in pricing.providers:
        if name not in providers:
            by_provider.problem(name, "unknown provider (not in providers)")
    for section in (rounding, by_provider, by_category, s):
        section.finish()
    return pricing


def read_currency_rates(root: Section) -> dict[str, Decimal]:
    s = root.section("currency_rates")
    rates = {}
    for code in _keys(s):
        try:
            currency(code)
        except ValueError as exc:
            s.problem(code, str(exc))
            continue
        rates[code] = s.get(code, decimal(Decimal("0.000001"), Decimal("1e9")))
    s.finish()
    return rates


def _service(s: Section, providers: list[str]) -> ServiceConfig:
    upstreams = []
    for u in s.items("upstreams"):
        provider = u.get("provider", _known(providers))
        upstreams.append(Candidate(provider, u.get("service", upstream_id)))
        u.finish()
    shorthand = (
        s.get("provider", _known(providers), None),
        s.get("upstream_service", upstream_id, None),
    )
    if any(shorthand):
        if upstreams:
            s.problem("provider", "use either provider/upstream_service or upstreams, not both")
        upstreams = [Candidate(*shorthand)]
    if not upstreams:
        s.problem("upstreams", "required (or provider + upstream_service)")
    service = ServiceConfig(
        upstreams=tuple(upstreams),
        **s.read(
            ServiceConfig,
            id=integer(1, MAX_ID),
            name=text,
            category=text,
            type=_choice(SERVICE_TYPES),
            min=integer(1, MAX_ID),
            max=integer(1, MAX_ID),
            refill=boolean,
            cancel=boolean,
            dripfeed=boolean,
            rate=decimal(Decimal("0.00001"), Decimal("1e9")),
            markup_percent=_MARKUP,
            allow_overlap=boolean,
            emulate_dripfeed=boolean,
        ),
    )
    if service.min is not None and service.max is not None and service.min > service.max:
        s.problem("max", f"less than min ({service.min})")
    if service.rate is not None and service.markup_percent is not None:
        s.problem("rate", "set either rate or markup_percent, not both")
    s.finish()
    return service


def _markup_of(section: Section, key: str) -> Decimal:
    rule = section.section(key)
    markup = rule.get("markup_percent", _MARKUP)
    rule.finish()
    return markup


def _keys(section: Section) -> list[str]:
    return [str(k) for k in section.keys()]  # noqa: SIM118 - a Section, not a dict


def _known(providers: list[str]) -> Any:
    return one_of(providers, "unknown provider {!r} (not in providers)")


def _choice(options: tuple[str, ...]) -> Any:
    return one_of(options, "unknown value {!r}; one of: " + ", ".join(options))


def upstream_id(value: Any) -> str:
    # Upstream IDs are numbers in practice but strings on some panels; keep them as text.
    if isinstance(value, bool):
        raise ValueError("not a service ID")
    return text(str(value) if isinstance(value, int | Decimal) else value)
