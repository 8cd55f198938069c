"""Price groups in the config: every problem named by its key path; service IDs must be ones a
local service can have."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reseller import config, errors


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ("{g: {discount_percent: 101}}", "pricing.groups.g.discount_percent: must be between"),
        ("{g: {markup_percent: -1}}", "pricing.groups.g.markup_percent: must be between"),
        (
            "{g: {discount_percent: 5, markup_percent: 5}}",
            "pricing.groups.g.markup_percent: set only one of",
        ),
        ("{g: {rate: 1}}", "pricing.groups.g.rate: unknown key"),
        ("{g: {services: {1: {rate: -1}}}}", "pricing.groups.g.services.1.rate: must be between"),
        (
            "{g: {services: {1: {}}}}",
            "pricing.groups.g.services.1: needs one of discount_percent, markup_percent or rate",
        ),
        ("{g: {services: {8: {rate: 1}}}}", "pricing.groups.g.services.8: unknown service 8"),
        ("{g: {services: {x: {rate: 1}}}}", "pricing.groups.g.services.x: not a service ID"),
        (
            "{g: {categories: {'Tele*': {markup_percent: 1, rate: 2}}}}",
            "pricing.groups.g.categories.Tele*.rate: set only one of",
        ),
        ("{g: {deny: [1, 8]}}", "pricing.groups.g.deny[1]: unknown service 8"),
        ("{g: {allow: [1], deny: [2]}}", "pricing.groups.g.deny: set either allow or deny"),
        ("{g: {allow: 1}}", "pricing.groups.g.allow: must be a list"),
        ("{g g: {}}", "pricing.groups.g g: a group name is letters, digits, - and _"),
        ("{none: {}}", "pricing.groups.none: reserved"),
        ("{g: {tiers: {spent: 1}}}", "pricing.groups.g.tiers: must be a list"),
        ("{g: {tiers: [{spent: 1}]}}", "pricing.groups.g.tiers[0].discount_percent: required"),
        (
            "{g: {tiers: [{spent: -1, discount_percent: 2}]}}",
            "pricing.groups.g.tiers[0].spent: must be between",
        ),
        (
            "{g: {tiers: [{spent: 1, discount_percent: 2, rate: 1}]}}",
            "pricing.groups.g.tiers[0].rate: unknown key",
        ),
        (
            "{g: {tiers: [{spent: 10, discount_percent: 2}, {spent: 10, discount_percent: 3}]}}",
            "pricing.groups.g.tiers[1]: spent must grow from one tier to the next",
        ),
        (
            "{g: {tiers: [{spent: 10, discount_percent: 5}, {spent: 20, discount_percent: 3}]}}",
            "pricing.groups.g.tiers[1]: a higher tier must not give less off than a lower one",
        ),
    ],
)
def test_group_config_problems_are_named_by_their_key_path(groups: str, expected: str) -> None:
    text = (
        "providers: [{name: p, url: 'http://p/api', key_env: P}]\n"
        "services: [{id: 1, provider: p, upstream_service: 1},"
        " {id: 2, provider: p, upstream_service: 2}]\n"
        f"pricing: {{groups: {groups}}}\n"
    )
    with pytest.raises(errors.ConfigError) as caught:
        config.parse(text)
    assert expected in caught.value.message


def test_imported_ids_may_be_named_from_the_lowest_first_id() -> None:
    text = (
        "providers: [{name: p, url: 'http://p/api', key_env: P}]\n"
        "imports: [{provider: p, category: 'Tele*', first_id: 100}]\n"
        "pricing: {groups: {g: {services: {150: {rate: 1}}, allow: [100]}}}\n"
    )
    group = config.parse(text).pricing.groups["g"]
    assert (group.services[150].rate, group.allow) == (Decimal(1), (100,))


def test_a_customer_gets_the_discount_of_the_highest_tier_its_spend_reaches() -> None:
    text = (
        "pricing: {groups: {g: {tiers: [{spent: 1000, discount_percent: 3},"
        " {spent: 10000, discount_percent: 6}]}}}\n"
    )
    group = config.parse(text).pricing.groups["g"]
    reached = [group.tier_discount(Decimal(spent)) for spent in ("0", "999.99", "1000", "10000.5")]
    assert reached == [Decimal(0), Decimal(0), Decimal(3), Decimal(6)]
    assert config.parse("pricing: {groups: {g: {}}}").pricing.groups["g"].tier_discount(
        Decimal(10**9)
    ) == Decimal(0)
