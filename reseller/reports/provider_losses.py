"""What providers kept beyond their rates (`orders.provider_check` finds it): the losses order
by order, and per provider the share of refunds it honoured and the amounts at stake. Amounts
are in the provider's currency, and in the base one (`api.currency`) at today's
`currency_rates`, as `report` converts costs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from reseller import db
from reseller.catalog import pricing
from reseller.config import Config
from reseller.db import Q


@dataclass(frozen=True, slots=True)
class LossLine:
    order_id: int
    provider: str
    kind: str  # unrefunded, overcharged
    status: str
    expected: Decimal  # what the provider should have charged
    charged: Decimal  # what it reports charging
    at_stake: Decimal
    currency: str  # the provider's
    at_stake_base: Decimal | None  # None: no rate for its currency


@dataclass(frozen=True, slots=True)
class ProviderFigures:
    provider: str
    currency: str
    refunds_owed: int  # settled Partial/Canceled orders it should have refunded us
    refunds_honoured: int
    unrefunded: Decimal
    overcharged: Decimal

    @property
    def honoured_share(self) -> Decimal | None:
        """None: it owed no refund."""
        return self.refunds_honoured / Decimal(self.refunds_owed) if self.refunds_owed else None


def provider_currency(config: Config, provider: str) -> str:
    currencies = {p.name: p.currency for p in config.providers}
    return currencies.get(provider, config.api.currency)


def in_base(config: Config, amount: Decimal, currency: str) -> Decimal | None:
    base = config.api.currency
    if currency != base and currency not in config.currency_rates:
        return None
    return pricing.convert(amount, currency, rates=config.currency_rates, base=base)


async def losses(
    pool: db.Database, config: Config, *, start: datetime, end: datetime
) -> list[LossLine]:
    """The losses on orders placed in [start, end), by order."""
    lines = []
    for row in await pool.fetch(Q.report_losses, start, end):
        currency = provider_currency(config, row["provider"])
        lines.append(
            LossLine(
                order_id=row["order_id"],
                provider=row["provider"],
                kind=row["kind"],
                status=row["status"],
                expected=row["expected"],
                charged=row["charged"],
                at_stake=row["at_stake"],
                currency=currency,
                at_stake_base=in_base(config, row["at_stake"], currency),
            )
        )
    return lines


async def figures(
    pool: db.Executor, config: Config, *, start: datetime, end: datetime
) -> list[ProviderFigures]:
    """Per provider, over the orders placed in [start, end)."""
    return [
        ProviderFigures(
            provider=row["provider"],
            currency=provider_currency(config, row["provider"]),
            refunds_owed=row["refunds_owed"],
            refunds_honoured=row["refunds_honoured"],
            unrefunded=row["unrefunded"],
            overcharged=row["overcharged"],
        )
        for row in await pool.fetch(Q.provider_loss_figures, start, end)
    ]
