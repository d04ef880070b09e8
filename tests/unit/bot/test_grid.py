"""Grid maths: points, rounding, collapse removal, fee coverage."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from gridkeeper.bot.grid import GridError, build_layout, ceil_to, floor_to, raw_points
from gridkeeper.config.strategy import GridStrategyConfig


def layout(**over: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "lower": D("100"),
        "upper": D("110"),
        "num": 11,
        "mode": "arithmetic",
        "quantity": D("1"),
        "tick_size": D("0.01"),
        "step_size": D("0.01"),
        "min_quantity": D("0.01"),
        "maker_fee": D("0.0002"),
    }
    args.update(over)
    return build_layout(**args)  # type: ignore[arg-type]


def test_arithmetic_points_include_both_bounds() -> None:
    """Arithmetic points are evenly spaced and both bounds are points."""
    assert raw_points(D(100), D(110), 6, "arithmetic") == [
        D(100),
        D(102),
        D(104),
        D(106),
        D(108),
        D(110),
    ]


def test_geometric_points_have_equal_ratio() -> None:
    """Geometric points keep a constant ratio between neighbours."""
    pts = raw_points(D(100), D(400), 3, "geometric")
    assert pts[0] == D(100) and pts[-1] == D(400)
    assert abs(pts[1] - D(200)) < D("0.000001")


def test_bids_round_down_asks_round_up() -> None:
    """A point off the tick becomes a lower buy and a higher sell."""
    grid = layout(lower=D("100"), upper=D("101"), num=4, tick_size=D("0.1"), maker_fee=D(0))
    # points 100, 100.333.., 100.666.., 101
    assert [s.buy for s in grid.slots] == [D("100.0"), D("100.3"), D("100.6")]
    assert [s.sell for s in grid.slots] == [D("100.4"), D("100.7"), D("101.0")]
    assert floor_to(D("1.29"), D("0.1")) == D("1.2") and ceil_to(D("1.21"), D("0.1")) == D("1.3")


def test_collapsed_points_are_removed() -> None:
    """Points that round to the same tick leave one slot, not a zero-width one."""
    grid = layout(lower=D("100"), upper=D("101"), num=11, tick_size=D("0.5"), maker_fee=D(0))
    buys = [s.buy for s in grid.slots]
    assert len(buys) == len(set(buys))
    assert all(s.sell > s.buy for s in grid.slots)
    assert len(grid.slots) == 2


def test_quantity_rounded_to_step_and_checked_against_minimum() -> None:
    """Quantity rounds down to the step; below the minimum is an error naming order_quantity."""
    assert layout(quantity=D("1.239"), step_size=D("0.01")).quantity == D("1.23")
    with pytest.raises(GridError) as err:
        layout(quantity=D("0.009"))
    assert err.value.field == "order_quantity"


def test_step_not_covering_twice_the_fee_is_rejected() -> None:
    """A 0.1% step with a 0.1% maker fee loses money each round trip: refused with a reason."""
    with pytest.raises(GridError, match="twice the maker fee") as err:
        layout(lower=D(100), upper=D(101), num=11, maker_fee=D("0.001"))
    assert err.value.field == "grid_num"
    assert len(layout(maker_fee=D("0.001")).slots) == 10


def test_config_rejects_inverted_range_naming_the_field() -> None:
    """grid_lower_price >= grid_upper_price fails with loc grid_lower_price."""
    with pytest.raises(ValidationError) as err:
        GridStrategyConfig(grid_upper_price=D(2900), grid_lower_price=D(3200), order_quantity=D(1))
    locs = [e["loc"] for e in err.value.errors()]
    assert ("grid_lower_price",) in locs
    assert "must be below grid_upper_price" in str(err.value)


def test_config_fields_all_described() -> None:
    """Every strategy field carries a description (it feeds the JSON Schema)."""
    for name, field in GridStrategyConfig.model_fields.items():
        assert field.description, name
