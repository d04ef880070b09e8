"""The running bot process holds no pydantic (its config came from the resolver process), and a
config the validator refuses still stops the bot at once with the validator's words (exit 78)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.bot.conftest import Bot, Paper, wait_for
from tests.integration.bot.helpers import PERP, MakeBot, live


def _mapped(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def test_running_bot_maps_no_pydantic_and_trades(paper: Paper, make_bot: MakeBot) -> None:
    bot: Bot = make_bot("lean", symbol=PERP, strategy="perp_grid", grid_num=11).start()
    wait_for(lambda: len(live(bot)) == 10, what="10 live grid orders")
    assert bot.proc is not None
    maps = _mapped(bot.proc.pid)
    # pydantic_core is a compiled extension: imported anywhere in the process, it is mapped.
    assert "pydantic_core" not in maps
    # The strategy config from the resolver drives the grid as the file says.
    grid = bot.get("/api/grid")
    assert (grid["grid_lower_price"], grid["grid_upper_price"], grid["grid_num"]) == (
        "90",
        "110",
        11,
    )
    assert grid["quantity"] == "1" and grid["grid_mode"] == "arithmetic"


def test_refused_config_exits_78_with_the_validators_words(paper: Paper, make_bot: MakeBot) -> None:
    bot = make_bot("refused")
    data = json.loads(bot.config_path.read_text())
    data["strategy_config"]["grid_lower_price"] = "120"
    bot.config_path.write_text(json.dumps(data))
    bot.start(wait=False)
    assert bot.proc is not None and bot.proc.wait(timeout=60) == 78
    out = bot.output()
    assert "error: " in out
    assert "strategy_config.grid_lower_price" in out
    assert "must be below grid_upper_price (110)" in out
    assert str(bot.config_path) in out


def test_a_config_path_that_looks_like_an_option_still_runs(
    paper: Paper, make_bot: MakeBot
) -> None:
    """`gridkeeper bot --config -grid.json` (relative, a leading dash) reached the resolver as
    `--config -grid.json`, which argparse read as a missing value: exit 1, a restart loop."""
    bot = make_bot("dashed")
    dashed = bot.project / "-dashed.json"
    bot.config_path.rename(dashed)
    bot.config_path = Path(dashed.name)  # relative to the bot's cwd, the project
    bot.start()
    assert bot.get("/health")["instance"] == "dashed"
