"""Writing a grid's range back into its config file keeps everything else byte for byte."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from gridkeeper.config.edit import check_grid_range, replace_values, write_grid_range
from gridkeeper.errors import ConfigError

FILE = """{
  "metadata": {"instance_id": "sol", "symbol": "SOL_USDC"},
  "daemon_config": { "web_port": 8001 },
  "strategy_config": {
    "grid_upper_price" :  "110",
    "grid_lower_price": 90,
    "grid_num": 11,
    "levels": [1, {"grid_num": 3}],
    "order_quantity": "1"
  }
}
"""


def test_only_the_three_values_change(tmp_path: Path) -> None:
    path = tmp_path / "sol.json"
    path.write_text(FILE)
    path.chmod(0o640)
    write_grid_range(path, lower=Decimal("94.5"), upper=Decimal("114"), num=7)
    text = path.read_text()
    # A string stays a string, a number a number; spacing and key order as written.
    expected = (
        FILE.replace('"grid_upper_price" :  "110"', '"grid_upper_price" :  "114"')
        .replace('"grid_lower_price": 90', '"grid_lower_price": 94.5')
        .replace('"grid_num": 11', '"grid_num": 7')
    )
    assert text == expected
    assert json.loads(text)["strategy_config"]["levels"] == [1, {"grid_num": 3}]
    assert path.stat().st_mode & 0o777 == 0o640


def test_a_symlinked_file_keeps_its_link(tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    target.write_text(FILE)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    write_grid_range(link, lower=Decimal(95), upper=Decimal(105), num=11)
    assert link.is_symlink()
    assert json.loads(target.read_text())["strategy_config"]["grid_lower_price"] == 95


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (FILE.replace('"110"', '"${UPPER}"'), "environment reference"),
        (FILE.replace('"grid_num": 11,', ""), "grid_num is not in the file"),
        ("{", "invalid JSON"),
    ],
)
def test_files_that_cannot_take_the_range_are_refused(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / "sol.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=reason):
        check_grid_range(path)
    assert path.read_text() == text


def test_replace_values_rejects_unknown_paths() -> None:
    with pytest.raises(KeyError):
        replace_values(FILE, {("strategy_config", "nope"): 1})
