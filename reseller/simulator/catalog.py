"""The simulated panel's services, shaped like a real `services` answer."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from reseller.money import format_amount

# Priced per package, not per 1000 units.
PACKAGE_TYPES = frozenset({"Package", "Custom Comments Package"})

# Real panels disagree on whether min/max are strings or numbers: the default catalog has both.
DEFAULT_SERVICES: tuple[dict[str, Any], ...] = (
    {"service": 1, "name": "Instagram Followers [Refill 30 days]", "type": "Default",
     "category": "Instagram Followers", "rate": "0.90", "min": "50", "max": "10000",
     "refill": True, "cancel": True, "dripfeed": True},
    {"service": 2, "name": "Instagram Likes [No refill]", "type": "Default",
     "category": "Instagram Likes", "rate": "0.25", "min": 10, "max": 50000,
     "refill": False, "cancel": False, "dripfeed": False},
    {"service": 3, "name": "YouTube Views", "type": "Default", "category": "YouTube",
     "rate": "2.10", "min": 100, "max": 1000000, "refill": False, "cancel": True,
     "dripfeed": True},
    {"service": 4, "name": "TikTok Views", "type": "Default", "category": "TikTok",
     "rate": "0.01234", "min": "1000", "max": "10000000", "refill": False, "cancel": False,
     "dripfeed": False},
    {"service": 5, "name": "Instagram Starter Package", "type": "Package",
     "category": "Packages", "rate": "5.50", "min": "1", "max": "1", "refill": False,
     "cancel": False, "dripfeed": False},
    {"service": 6, "name": "Instagram Custom Comments", "type": "Custom Comments",
     "category": "Instagram Comments", "rate": "8", "min": "10", "max": "1500",
     "refill": False, "cancel": True, "dripfeed": False},
    {"service": 7, "name": "Instagram Mentions with Hashtags", "type": "Mentions with Hashtags",
     "category": "Instagram Mentions", "rate": "4.00", "min": 100, "max": 10000,
     "refill": False, "cancel": False, "dripfeed": False},
    {"service": 8, "name": "Instagram Auto Likes", "type": "Subscriptions",
     "category": "Instagram Auto Likes", "rate": "0.40", "min": "50", "max": "5000",
     "refill": False, "cancel": False, "dripfeed": False},
    {"service": 9, "name": "Telegram Poll Votes", "type": "Poll", "category": "Telegram",
     "rate": "0.75", "min": "100", "max": "100000", "refill": False, "cancel": True,
     "dripfeed": False},
    {"service": 10, "name": "Website Traffic [Worldwide]", "type": "Web Traffic",
     "category": "Website Traffic", "rate": "0.05", "min": 1000, "max": 1000000,
     "refill": False, "cancel": True, "dripfeed": True},
    {"service": 11, "name": "Instagram Comments Package", "type": "Custom Comments Package",
     "category": "Instagram Comments", "rate": "3.00", "min": "1", "max": "1",
     "refill": False, "cancel": False, "dripfeed": False},
)  # fmt: skip


@dataclass(slots=True)
class SimService:
    service: int
    name: str
    type: str
    category: str
    rate: Decimal  # per 1000 units, or per package
    min: int
    max: int
    refill: bool = False
    cancel: bool = False
    dripfeed: bool = False
    numeric_limits: bool = False  # answer min/max as JSON numbers rather than strings

    @property
    def per_package(self) -> bool:
        return self.type in PACKAGE_TYPES

    def cost(self, quantity: int) -> Decimal:
        """Unrounded price of one run of `quantity` units."""
        return self.rate if self.per_package else self.rate * quantity / 1000

    def to_json(self) -> dict[str, Any]:
        limit = (lambda n: n) if self.numeric_limits else str
        return {
            "service": self.service,
            "name": self.name,
            "type": self.type,
            "category": self.category,
            "rate": format_amount(self.rate),
            "min": limit(self.min),
            "max": limit(self.max),
            "refill": self.refill,
            "cancel": self.cancel,
            "dripfeed": self.dripfeed,
        }


def from_dict(spec: dict[str, Any]) -> SimService:
    """A service from the dict a `services` answer would hold; ValueError if it is not one."""
    try:
        rate = Decimal(str(spec["rate"]))
        service = SimService(
            service=int(spec["service"]),
            name=str(spec.get("name", f"Service {spec['service']}")),
            type=str(spec.get("type", "Default")),
            category=str(spec.get("category", "Other")),
            rate=rate,
            min=int(spec.get("min", 1)),
            max=int(spec.get("max", 1_000_000)),
            refill=bool(spec.get("refill", False)),
            cancel=bool(spec.get("cancel", False)),
            dripfeed=bool(spec.get("dripfeed", False)),
            numeric_limits=isinstance(spec.get("min", 1), int),
        )
    except InvalidOperation:
        raise ValueError(f"bad simulator service {spec!r}: rate is not a decimal") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"bad simulator service {spec!r}: {exc!r}") from None
    if not rate.is_finite() or rate < 0 or not 0 < service.min <= service.max:
        raise ValueError(f"bad simulator service {spec!r}: rate or min/max out of range")
    return service


def load(specs: list[dict[str, Any]] | None) -> dict[int, SimService]:
    services = [from_dict(s) for s in (DEFAULT_SERVICES if specs is None else specs)]
    return {s.service: s for s in services}
