"""The strict answer table, without a database: which parsed answers may move an order's money."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reseller.orders import strict
from reseller.upstream import parse

DEFAULT = strict.Limits.of(
    {"type": "Default", "total_quantity": 1000, "runs": None, "upstream_rate": Decimal("0.9")}
)
PACKAGE = strict.Limits.of(
    {"type": "Package", "total_quantity": 2, "runs": 2, "upstream_rate": Decimal("5")}
)
UNRATED = strict.Limits.of(
    {"type": "Default", "total_quantity": 1000, "runs": None, "upstream_rate": None}
)


def answer(**fields: object) -> parse.StatusAnswer:
    sent = {"status": "In progress", "charge": "0.9", "remains": "10", **fields}
    return parse.order_status(sent, {"done": "Completed"})


@pytest.mark.parametrize(
    ("limits", "fields", "why"),
    [
        (DEFAULT, {}, None),
        (DEFAULT, {"status": "Done"}, None),  # the provider's alias
        (DEFAULT, {"status": "in_progress", "remains": "Unknown"}, None),  # lenient in form
        (DEFAULT, {"status": "Fail"}, "unknown status 'Fail'"),
        (DEFAULT, {"status": ""}, "no status"),
        (DEFAULT, {"remains": 1000}, None),
        (DEFAULT, {"remains": 1001}, "remains 1001 above the order's 1000"),
        (DEFAULT, {"status": "Completed", "remains": "-3"}, "negative remains -3"),
        (DEFAULT, {"charge": "0.91"}, None),  # a cent of rounding
        (DEFAULT, {"charge": "0.91001"}, "charge 0.91001 above the most the order can cost, 0.90"),
        (PACKAGE, {"remains": 500, "charge": "10"}, None),  # remains in the panel's own unit
        (PACKAGE, {"charge": "10.02"}, "charge 10.02 above the most the order can cost, 10.00"),
        (UNRATED, {"charge": "1000"}, None),  # no rate kept: nothing to compare with
    ],
)
def test_answers_inside_and_outside_the_table(limits, fields, why) -> None:
    assert strict.outside(answer(**fields), limits) == why
