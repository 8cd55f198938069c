"""Price groups (`pricing.groups`): what a group's customers pay, and which services they see.

```yaml
pricing:
  groups:
    wholesale:
      discount_percent: 10          # or markup_percent: 5; on the price list everyone else gets
      categories: {"Telegram*": {markup_percent: 0}}   # first matching glob wins
      services: {1: {rate: 0.95}}   # or discount_percent / markup_percent; most specific wins
      deny: [3, "Web*"]             # or allow: [...]; service IDs and category globs
      tiers:                        # more off for what the customer paid in the last 30 days
        - {spent: 1000, discount_percent: 3}    # in api.currency, net of refunds
        - {spent: 10000, discount_percent: 6}
```
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import Any

from reseller.config.reader import Section, decimal, matching

MAX_ID = 2**31 - 1
NO_GROUP = "none"  # `customers set --group none`: so no group may be called that
_NAME = matching(r"[A-Za-z0-9_-]+", "a group name is letters, digits, - and _")
_DISCOUNT = decimal(Decimal(0), Decimal(100))
_MARKUP = decimal(Decimal(0), Decimal(100_000))
_RATE = decimal(Decimal(0), Decimal("1e9"))
_SPENT = decimal(Decimal(0), Decimal("1e12"))


@dataclass(frozen=True, slots=True)
class PriceRule:
    """At most one is set: a discount or a markup on the base sell rate, or a fixed sell rate
    in the base currency. None set: the base sell rate."""

    discount_percent: Decimal | None = None
    markup_percent: Decimal | None = None
    rate: Decimal | None = None


@dataclass(frozen=True, slots=True)
class SpendTier:
    """From `spent` (paid in the last 30 days, base currency) on, `discount_percent` more off
    the group's rates."""

    spent: Decimal
    discount_percent: Decimal


@dataclass(frozen=True, slots=True)
class GroupConfig:
    name: str
    rule: PriceRule = PriceRule()  # the group's own: a discount or a markup, never a rate
    categories: tuple[tuple[str, PriceRule], ...] = ()  # (glob, rule) in file order
    services: dict[int, PriceRule] = field(default_factory=dict)
    # Service IDs and category globs; with `allow` only those are seen, with `deny` all but those.
    allow: tuple[int | str, ...] | None = None
    deny: tuple[int | str, ...] = ()
    tiers: tuple[SpendTier, ...] = ()  # by spent, ascending

    def tier_discount(self, spent: Decimal) -> Decimal:
        """The discount of the highest tier `spent` reaches (0: none)."""
        reached = [t.discount_percent for t in self.tiers if spent >= t.spent]
        return reached[-1] if reached else Decimal(0)


KnownService = Callable[[int], bool]


def read_groups(
    pricing: Section, known_service: KnownService, *, unknown_hint: str
) -> dict[str, GroupConfig]:
    """`known_service(id)`: whether a local service may have that ID (`unknown_hint` says
    where IDs come from, for the problem's message)."""
    section = pricing.section("groups")
    groups = {}
    for key in _keys(section):
        name, group = str(key), section.section(key)
        try:
            _NAME(name)
        except ValueError as exc:
            section.problem(name, str(exc))
            continue
        if name == NO_GROUP:
            section.problem(name, f"reserved: `--group {NO_GROUP}` takes a customer out of groups")
            continue
        groups[name] = _group(group, name, known_service, unknown_hint)
    section.finish()
    return groups


def _group(s: Section, name: str, known: KnownService, hint: str) -> GroupConfig:
    rule = _rule(s, fixed=False)
    by_category = s.section("categories")
    categories = []
    for glob in _keys(by_category):
        rule_of_glob = _override(by_category, glob, by_category.section(glob))
        categories.append((str(glob), rule_of_glob))
    by_service = s.section("services")
    services = {}
    for key in _keys(by_service):
        overrides = by_service.section(key)  # read below only when the key is an ID
        if isinstance(key, bool) or not isinstance(key, int) or not 1 <= key <= MAX_ID:
            by_service.problem(str(key), "not a service ID")
        elif not known(key):
            by_service.problem(str(key), f"unknown service {key} ({hint})")
        else:
            services[key] = _override(by_service, key, overrides)
    allow = _visibility(s, "allow", known, hint)
    deny = _visibility(s, "deny", known, hint)
    if allow is not None and deny is not None:
        s.problem("deny", "set either allow or deny, not both")
    tiers = _tiers(s)
    for section in (by_category, by_service, s):
        section.finish()
    return GroupConfig(name, rule, tuple(categories), services, allow, deny or (), tiers)


def _tiers(s: Section) -> tuple[SpendTier, ...]:
    """Ascending in both: spending more never earns less off (an order of tiers that says
    otherwise is a typo, refused rather than guessed at)."""
    tiers = []
    for item in s.items("tiers"):
        tier = item.read(SpendTier, spent=_SPENT, discount_percent=_DISCOUNT)
        item.finish()
        if None not in tier.values():
            tiers.append(SpendTier(**tier))
    for i, (low, high) in enumerate(pairwise(tiers), start=1):
        if high.spent <= low.spent:
            s.problem(f"tiers[{i}]", "spent must grow from one tier to the next")
        elif high.discount_percent < low.discount_percent:
            s.problem(f"tiers[{i}]", "a higher tier must not give less off than a lower one")
    return tuple(tiers)


def _override(parent: Section, key: Any, s: Section) -> PriceRule:
    rule = _rule(s, fixed=True)
    if not _keys(s):
        parent.problem(str(key), "needs one of discount_percent, markup_percent or rate")
    s.finish()
    return rule


def _rule(s: Section, *, fixed: bool) -> PriceRule:
    parsers: dict[str, Any] = {"discount_percent": _DISCOUNT, "markup_percent": _MARKUP}
    if fixed:
        parsers["rate"] = _RATE
    rule = PriceRule(**s.read(PriceRule, **parsers))
    given = [key for key in parsers if getattr(rule, key) is not None]
    if len(given) > 1:
        s.problem(given[1], f"set only one of {', '.join(parsers)}")
    return rule


def _visibility(
    s: Section, key: str, known: KnownService, hint: str
) -> tuple[int | str, ...] | None:
    raw = s.get(key, _entries, None)
    if raw is None:
        return None
    entries: list[int | str] = []
    for i, entry in enumerate(raw):
        if isinstance(entry, int) and not known(entry):
            s.problem(f"{key}[{i}]", f"unknown service {entry} ({hint})")
        else:
            entries.append(entry)
    return tuple(entries)


def _entries(value: Any) -> list[int | str]:
    if not isinstance(value, list):
        raise ValueError("must be a list of service IDs and category globs")
    for entry in value:
        is_id = isinstance(entry, int) and not isinstance(entry, bool) and 1 <= entry <= MAX_ID
        if not is_id and not (isinstance(entry, str) and entry.strip()):
            raise ValueError(f"not a service ID or a category glob: {entry!r}")
    return [e.strip() if isinstance(e, str) else e for e in value]


def known_service_ids(explicit: Collection[int], import_first_ids: Collection[int]) -> KnownService:
    """A local ID may be an explicit service's, or an import's (from its rule's first_id)."""
    lowest_import = min(import_first_ids, default=None)

    def known(service_id: int) -> bool:
        return service_id in explicit or (lowest_import is not None and service_id >= lowest_import)

    return known


def _keys(section: Section) -> list[Any]:
    """As written: service IDs stay numbers."""
    return section.keys()
