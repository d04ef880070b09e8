"""clientId packing, adjust-body validation and the token file."""

from __future__ import annotations

import random
import stat
from decimal import Decimal as D
from pathlib import Path

import pytest

from gridkeeper.bot.api import ensure_token, parse_adjust
from gridkeeper.bot.client_ids import CLOSE_SLOT, free_tag, make_client_id, split_client_id
from gridkeeper.bot.grid import GridError


def test_client_ids_are_deterministic_uint32_and_distinct() -> None:
    """Same inputs, same id; slots and generations never collide within a grid."""
    assert make_client_id(7, 3, 7) == make_client_id(7, 3, 7)
    ids = {make_client_id(7, slot, gen) for slot in range(50) for gen in range(1, 50)}
    assert len(ids) == 50 * 49
    assert all(0 <= i < 2**32 for i in ids)
    cid = make_client_id(255, CLOSE_SLOT, 8191)
    assert split_client_id(cid) == (255, CLOSE_SLOT, 8191)
    with pytest.raises(ValueError):
        make_client_id(7, CLOSE_SLOT + 1, 0)
    with pytest.raises(ValueError):
        make_client_id(256, 0, 0)


def test_a_new_grid_takes_a_tag_no_order_out_there_uses() -> None:
    """Two bots on one account (or one bot whose store was lost) never share clientIds."""
    taken = [make_client_id(tag, 1, 1) for tag in range(256) if tag != 42] + [None]
    assert free_tag(taken) == 42
    rng = random.Random(1)
    others = {make_client_id(5, s, 1) for s in range(20)}
    assert all(free_tag(others, rng) != 5 for _ in range(200))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"grid_lower_price": "abc"}, "grid_lower_price"),
        ({"grid_upper_price": -5}, "grid_upper_price"),
        ({"grid_upper_price": "1e30"}, "grid_upper_price"),
        ({"grid_num": 1}, "grid_num"),
        ({"grid_num": "7"}, "grid_num"),
        ({"grid_upper_price": True}, "grid_upper_price"),
        ({"uppr": 5}, "uppr"),
        ({"upper": "abc"}, "upper"),
        ({"lower": 5, "grid_lower_price": 5}, "grid_lower_price"),
        ({}, "body"),
        ([1, 2], "body"),
    ],
)
def test_bad_adjust_bodies_name_the_field(body: object, field: str) -> None:
    """Each malformed adjust request is refused naming the offending field."""
    with pytest.raises(GridError) as err:
        parse_adjust(body)
    assert err.value.field == field


def test_good_adjust_body_parses_decimals_exactly() -> None:
    """Numbers and strings both become exact Decimals."""
    assert parse_adjust({"grid_lower_price": 0.1, "grid_upper_price": "2.5"}) == (
        D("0.1"),
        D("2.5"),
        None,
    )


def test_token_is_created_0600_and_kept(tmp_path: Path) -> None:
    """The first start writes a 0600 token; later starts read the same one."""
    token = ensure_token(tmp_path, "bot-t")
    path = tmp_path / "tokens" / "bot-t.token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(token) >= 32 and ensure_token(tmp_path, "bot-t") == token


def test_saved_grid_remembers_its_order_quantity() -> None:
    """The state stores the size its slots were laid out with (checked against the config at
    start: mixing sizes would double a half-filled level)."""
    from decimal import Decimal

    from gridkeeper.bot.state import GridState, state_from_dict, state_to_dict

    state = GridState(lower=Decimal(1), upper=Decimal(2), num=2, slots=[], quantity=Decimal("0.1"))
    assert state_from_dict(state_to_dict(state)).quantity == Decimal("0.1")
