"""Building the local catalog from the config and what the providers offer. Pure: no I/O.

Every local service comes out either enabled, with a sell rate at or above its cost, or
disabled with the reason (gone upstream, below cost, unsupported type, no import rule covering
it any more, its provider naming another currency than configured, the operator …), never sold
at a loss.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fnmatch import fnmatchcase

from reseller.catalog import pricing
from reseller.catalog.model import Offer, Service
from reseller.config import Config, ProviderConfig, ServiceConfig
from reseller.service_types import SERVICE_TYPES

MAX_QUANTITY = 2**31 - 1
# Off-sale reasons that are the operator's own doing or not known yet (alerts leave them out).
NO_IMPORT_RULE = "no import rule covers it any more"
NOT_SYNCED = "not synced yet"
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
    offered: Mapping[UpstreamKey, Offer],
    import_ids: Mapping[UpstreamKey, int],
    reported_currencies: Mapping[str, str] | None = None,
    disabled_by_operator: Mapping[int, str] | None = None,
    routes: Mapping[int, Sequence[int]] | None = None,
) -> Built:
    """`offered`: what providers offer now; `import_ids`: local IDs given to imports before;
    `reported_currencies`: the currency each provider last named in its answers;
    `disabled_by_operator`: local ID → the operator's reason for keeping it off sale;
    `routes`: local ID → its candidates' priorities in the order routing tries them (a service
    is priced from the first it would send to, not the first in the file)."""
    providers = {p.name: p for p in config.providers}
    mismatched = pricing.currency_mismatches(config.providers, reported_currencies or {})
    synced = {provider for provider, _ in offered}
    # A mismatched provider's rates cannot be converted: none of its offers is usable.
    offered = {k: s for k, s in offered.items() if k[0] not in mismatched}
    built = Built()
    explicit = {(c.provider, c.service) for s in config.services for c in s.upstreams}
    for service in config.services:
        route = (routes or {}).get(service.id, ())
        built.entries.append(_explicit(config, providers, service, offered, synced, route))
    built.entries += _imports(config, providers, offered, import_ids, explicit, built)
    built.entries = [_unless_mismatched(e, mismatched) for e in built.entries]
    operator = disabled_by_operator or {}
    built.entries = [_unless_disabled_by_operator(e, operator) for e in built.entries]
    return built


def operator_reason(reason: str) -> str:
    """A service's disabled reason when the operator took it off sale for `reason`."""
    return f"by operator: {reason}"


def _unless_disabled_by_operator(entry: Entry, disabled: Mapping[int, str]) -> Entry:
    """Off sale while the operator says so; this reason wins over any other, being the one no
    sync or reload can clear."""
    reason = disabled.get(entry.service.id)
    return entry if reason is None else replace(entry, disabled_reason=operator_reason(reason))


def _unless_mismatched(entry: Entry, mismatched: Mapping[str, str]) -> Entry:
    """Off sale when any candidate is on a mismatched provider: dispatch could still reach it
    (failover), at a cost we cannot know; this reason overrides any other."""
    reason = next(
        (mismatched[c.provider] for c in entry.candidates if c.provider in mismatched), None
    )
    return entry if reason is None else replace(entry, disabled_reason=reason)


def _imports(
    config: Config,
    providers: Mapping[str, ProviderConfig],
    offered: Mapping[UpstreamKey, Offer],
    import_ids: Mapping[UpstreamKey, int],
    explicit: set[UpstreamKey],
    built: Built,
) -> list[Entry]:
    """Every imported service, old and new, each priced by the rule that covers it now; new
    ones get the next free IDs from their rule's `first_id` (kept in `built.new_import_ids`)."""
    covering = _covering_rules(config, offered, explicit)
    explicit_ids = {s.id for s in config.services}
    taken = explicit_ids | set(import_ids.values())
    next_ids = [rule.first_id for rule in config.imports]
    for key, i in covering.items():
        if key in import_ids:
            continue
        while next_ids[i] in taken:
            next_ids[i] += 1
        built.new_import_ids[key] = next_ids[i]
        taken.add(next_ids[i])
    # An explicit mapping wins over an import of the same upstream service or the same ID.
    local_ids = {
        key: local_id
        for key, local_id in {**import_ids, **built.new_import_ids}.items()
        if key not in explicit and local_id not in explicit_ids
    }
    imported_providers = {rule.provider for rule in config.imports}
    entries = []
    for key, local_id in sorted(local_ids.items(), key=lambda item: item[1]):
        candidate = _import_candidate(config, providers, key, offered)
        upstream, index = offered.get(key), covering.get(key)
        if upstream is None and key[0] in imported_providers:
            entries.append(_gone(local_id, candidate, f"gone from {key[0]}"))
        elif upstream is None or index is None:
            entries.append(_gone(local_id, candidate, NO_IMPORT_RULE))
        else:
            rule = config.imports[index]
            entry = _priced(config, local_id, upstream, (candidate,), rule.markup_percent, None)
            entries.append(
                replace(entry, service=replace(entry.service, allow_overlap=rule.allow_overlap))
            )
    return entries


def _covering_rules(
    config: Config, offered: Mapping[UpstreamKey, Offer], explicit: set[UpstreamKey]
) -> dict[UpstreamKey, int]:
    """Offered service → index of the first import rule matching it now, in rule order and,
    within a rule, in upstream ID order (so new IDs come out in that order)."""
    covering: dict[UpstreamKey, int] = {}
    for i, rule in enumerate(config.imports):
        matches = sorted(
            (
                key
                for key, s in offered.items()
                if key[0] == rule.provider
                and fnmatchcase(s.category.lower(), rule.category.lower())
                and key not in explicit
            ),
            key=lambda k: (len(k[1]), k[1]),
        )
        for key in matches:
            covering.setdefault(key, i)
    return covering


def _import_candidate(
    config: Config,
    providers: Mapping[str, ProviderConfig],
    key: UpstreamKey,
    offered: Mapping[UpstreamKey, Offer],
) -> CandidateCost:
    provider = providers.get(key[0])
    if provider is None:  # dropped from the config: nothing to price it with
        return CandidateCost(0, key[0], key[1], None)
    return _candidate(config, provider, 0, key[1], offered)


def _explicit(
    config: Config,
    providers: Mapping[str, ProviderConfig],
    service: ServiceConfig,
    offered: Mapping[UpstreamKey, Offer],
    synced: set[str],
    route: Sequence[int],
) -> Entry:
    candidates = tuple(
        _candidate(config, providers[c.provider], i, c.service, offered)
        for i, c in enumerate(service.upstreams)
    )
    routed = _in_route_order(candidates, route)
    base = next(
        (offered[(c.provider, c.upstream_service)] for c in routed if c.cost_rate is not None),
        None,
    )
    if base is None:
        static = _static(service, candidates)
        if static is not None:
            return static
        first = service.upstreams[0]
        reason = f"gone from {first.provider}" if first.provider in synced else NOT_SYNCED
        return _gone(service.id, candidates[0], reason, candidates)
    return _priced(config, service.id, base, candidates, service.markup_percent, service, route)


def _in_route_order(
    candidates: tuple[CandidateCost, ...], route: Sequence[int]
) -> list[CandidateCost]:
    """As routing tries them: those `route` names first, in its order, then the rest by
    priority (no route: the file's order)."""
    rank = {priority: i for i, priority in enumerate(route)}
    return sorted(candidates, key=lambda c: (rank.get(c.priority, len(rank)), c.priority))


def _priced(
    config: Config,
    local_id: int,
    upstream: Offer,
    candidates: tuple[CandidateCost, ...],
    markup: Decimal | None,
    overrides: ServiceConfig | None,
    route: Sequence[int] = (),
) -> Entry:
    """Priced from the first candidate offered now in the route's order (`upstream`);
    `markup`: the service's or its import rule's own, if any."""
    first = next(c for c in _in_route_order(candidates, route) if c.cost_rate is not None)
    assert first.cost_rate is not None
    o = overrides or ServiceConfig(id=local_id, upstreams=())
    category = o.category or upstream.category
    dripfeed = upstream.dripfeed if o.dripfeed is None else o.dripfeed and upstream.dripfeed
    emulated = o.emulate_dripfeed and not upstream.dripfeed and o.dripfeed is not False
    rate, below_cost = pricing.price(
        first.cost_rate,
        config.pricing,
        provider=first.provider,
        category=category,
        markup_percent=markup,
        fixed_rate=o.rate,
    )
    low = max(o.min or upstream.min, upstream.min)
    high = min(o.max or upstream.max, upstream.max, MAX_QUANTITY)
    service = Service(
        id=local_id,
        name=o.name or upstream.name,
        type=o.type or upstream.type,
        category=category,
        rate=rate,
        min=min(low, MAX_QUANTITY),
        max=max(high, 1),
        refill=upstream.refill if o.refill is None else o.refill and upstream.refill,
        cancel=upstream.cancel if o.cancel is None else o.cancel and upstream.cancel,
        dripfeed=dripfeed or emulated,
        cost=first.cost_rate,
        allow_overlap=o.allow_overlap,
        dripfeed_emulated=emulated,
    )
    reason = None
    if service.type not in SERVICE_TYPES:
        reason = f"unsupported type {service.type!r}"
    elif below_cost is not None:
        reason = below_cost
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
            dripfeed=bool(service.dripfeed) or service.emulate_dripfeed,
            allow_overlap=service.allow_overlap,
            dripfeed_emulated=service.emulate_dripfeed and not service.dripfeed,
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
    offered: Mapping[UpstreamKey, Offer],
) -> CandidateCost:
    upstream = offered.get((provider.name, upstream_service))
    cost = None
    if upstream is not None:
        cost = pricing.convert(
            upstream.rate, provider.currency, rates=config.currency_rates, base=config.api.currency
        )
    return CandidateCost(priority, provider.name, upstream_service, cost)
