"""Building the local catalog from the config and what the providers offer. Pure: no I/O.

Every local service comes out either enabled, with a sell rate at or above its cost, or
disabled with the reason (gone upstream, below cost, unsupported type …), never sold at a loss.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fnmatch import fnmatchcase

from reseller import pricing
from reseller.catalog import Service
from reseller.config import Config, ProviderConfig, ServiceConfig
from reseller.service_types import SERVICE_TYPES
from reseller.upstream import UpstreamService

MAX_QUANTITY = 2**31 - 1
UpstreamKey = tuple[str, str]  # (provider, upstream service ID)


@dataclass(frozen=True, slots=True)
class CandidateCost:
    priority: int
    provider: str
    upstream_service: str
    cost_rate: Decimal | None  # in our currency; None: not offered upstream now


@dataclass(frozen=True, slots=True)
class Entry:
    service: Service
    candidates: tuple[CandidateCost, ...]
    disabled_reason: str | None = None

    @property
    def enabled(self) -> bool:
        return self.disabled_reason is None


@dataclass
class Built:
    entries: list[Entry] = field(default_factory=list)
    new_import_ids: dict[UpstreamKey, int] = field(default_factory=dict)


def build(
    config: Config,
    offered: Mapping[UpstreamKey, UpstreamService],
    import_ids: Mapping[UpstreamKey, int],
) -> Built:
    """`offered`: what providers offer now; `import_ids`: local IDs given to imports before."""
    providers = {p.name: p for p in config.providers}
    synced = {provider for provider, _ in offered}
    built = Built()
    explicit = {(c.provider, c.service) for s in config.services for c in s.upstreams}
    for service in config.services:
        built.entries.append(_explicit(config, providers, service, offered, synced))
    taken = {s.id for s in config.services} | set(import_ids.values())
    emitted: set[UpstreamKey] = set()
    for rule in config.imports:
        for key, local_id in _imported_ids(rule, offered, import_ids, explicit, taken, built):
            if key in emitted:  # two import rules covering one service: the first wins
                continue
            emitted.add(key)
            candidate = _candidate(config, providers[key[0]], 0, key[1], offered)
            upstream = offered.get(key)
            if upstream is None:
                built.entries.append(_gone(local_id, candidate, f"gone from {key[0]}"))
                continue
            markup = pricing.markup_for(
                config.pricing,
                provider=key[0],
                category=upstream.category,
                service_markup=rule.markup_percent,
            )
            built.entries.append(_priced(config, local_id, upstream, (candidate,), markup, None))
    return built


def _imported_ids(rule, offered, import_ids, explicit, taken, built):  # type: ignore[no-untyped-def]
    """(upstream key, local ID) for every service this import covers, old and new; new IDs are
    the next free ones from `first_id`, remembered in `built.new_import_ids`."""
    matches = sorted(
        (
            key
            for key, s in offered.items()
            if key[0] == rule.provider and fnmatchcase(s.category.lower(), rule.category.lower())
        ),
        key=lambda k: (len(k[1]), k[1]),
    )
    covered = {k for k in import_ids if k[0] == rule.provider}
    next_id = rule.first_id
    for key in matches:
        if key in explicit or key in import_ids or key in built.new_import_ids:
            continue
        while next_id in taken:
            next_id += 1
        built.new_import_ids[key] = next_id
        taken.add(next_id)
    for key in sorted(covered | set(matches), key=lambda k: (len(k[1]), k[1])):
        if key in explicit:
            continue
        local_id = import_ids.get(key) or built.new_import_ids.get(key)
        if local_id is not None:
            yield key, local_id


def _explicit(
    config: Config,
    providers: Mapping[str, ProviderConfig],
    service: ServiceConfig,
    offered: Mapping[UpstreamKey, UpstreamService],
    synced: set[str],
) -> Entry:
    candidates = tuple(
        _candidate(config, providers[c.provider], i, c.service, offered)
        for i, c in enumerate(service.upstreams)
    )
    base = next(
        (offered[(c.provider, c.upstream_service)] for c in candidates if c.cost_rate is not None),
        None,
    )
    if base is None:
        static = _static(service, candidates)
        if static is not None:
            return static
        first = service.upstreams[0]
        reason = f"gone from {first.provider}" if first.provider in synced else "not synced yet"
        return _gone(service.id, candidates[0], reason, candidates)
    provider = next(c.provider for c in candidates if c.cost_rate is not None)
    markup = pricing.markup_for(
        config.pricing,
        provider=provider,
        category=service.category or base.category,
        service_markup=service.markup_percent,
    )
    return _priced(config, service.id, base, candidates, markup, service)


def _priced(
    config: Config,
    local_id: int,
    upstream: UpstreamService,
    candidates: tuple[CandidateCost, ...],
    markup: Decimal,
    overrides: ServiceConfig | None,
) -> Entry:
    cost = next(c.cost_rate for c in candidates if c.cost_rate is not None)
    assert cost is not None
    o = overrides or ServiceConfig(id=local_id, upstreams=())
    if o.rate is not None:
        rate = max(o.rate, config.pricing.min_rate)
    else:
        rate = pricing.sell_rate(cost, markup, config.pricing)
    low = max(o.min or upstream.min, upstream.min)
    high = min(o.max or upstream.max, upstream.max, MAX_QUANTITY)
    service = Service(
        id=local_id,
        name=o.name or upstream.name,
        type=o.type or upstream.type,
        category=o.category or upstream.category,
        rate=rate,
        min=min(low, MAX_QUANTITY),
        max=max(high, 1),
        refill=upstream.refill if o.refill is None else o.refill and upstream.refill,
        cancel=upstream.cancel if o.cancel is None else o.cancel and upstream.cancel,
        dripfeed=upstream.dripfeed if o.dripfeed is None else o.dripfeed and upstream.dripfeed,
    )
    reason = None
    if service.type not in SERVICE_TYPES:
        reason = f"unsupported type {service.type!r}"
    elif rate < cost:
        reason = f"sell rate {rate} below cost {cost}"
    elif low > high:
        reason = f"min/max outside the upstream's {upstream.min}-{upstream.max}"
    return Entry(service, candidates, reason)


def _static(service: ServiceConfig, candidates: tuple[CandidateCost, ...]) -> Entry | None:
    """A service the config describes fully (name, category, rate, min, max) sells as written
    while its upstream has not been synced; its cost is checked once it is."""
    name, category, rate = service.name, service.category, service.rate
    low, high = service.min, service.max
    if name is None or category is None or rate is None or low is None or high is None:
        return None
    return Entry(
        Service(
            id=service.id,
            name=name,
            type=service.type or "Default",
            category=category,
            rate=rate,
            min=low,
            max=high,
            refill=bool(service.refill),
            cancel=bool(service.cancel),
            dripfeed=bool(service.dripfeed),
        ),
        candidates,
    )


def _gone(
    local_id: int,
    candidate: CandidateCost,
    reason: str,
    candidates: Iterable[CandidateCost] | None = None,
) -> Entry:
    placeholder = Service(
        id=local_id,
        name=f"Service {local_id}",
        type="Default",
        category="Unavailable",
        rate=Decimal(0),
        min=1,
        max=1,
        refill=False,
        cancel=False,
        dripfeed=False,
    )
    return Entry(placeholder, tuple(candidates or (candidate,)), reason)


def _candidate(
    config: Config,
    provider: ProviderConfig,
    priority: int,
    upstream_service: str,
    offered: Mapping[UpstreamKey, UpstreamService],
) -> CandidateCost:
    upstream = offered.get((provider.name, upstream_service))
    cost = None
    if upstream is not None:
        cost = pricing.convert(
            upstream.rate, provider.currency, rates=config.currency_rates, base=config.api.currency
        )
    return CandidateCost(priority, provider.name, upstream_service, cost)
