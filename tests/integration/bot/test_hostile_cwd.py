"""A bot started as the keeper starts it (`python -P -m gridkeeper bot`, cwd = the project
directory) with a hostile json.py / decimal.py / gridkeeper.py in that directory: neither the
bot nor its config resolver (gridkeeper.resolver) imports them."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from gridkeeper.config.instance import resolve_program
from gridkeeper.config.settings import InstanceDaemon
from tests.integration.bot.conftest import Bot, wait_for

HOSTILE = "import pathlib; pathlib.Path({marker!r}).write_text('imported')\n"


def test_hostile_modules_in_the_cwd_are_never_imported(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    bot = make_bot("hostile")
    marker = tmp_path / "imported.marker"
    for name in ("json", "decimal", "gridkeeper"):
        (bot.project / f"{name}.py").write_text(HOSTILE.format(marker=str(marker)))
    argv, cwd = resolve_program(InstanceDaemon(), bot.config_path, grid_bot=True)
    assert cwd == bot.project and "-P" in argv[: argv.index("-m")]
    log = bot.project / "hostile.log"
    with log.open("wb") as out:
        bot.proc = subprocess.Popen(
            [*argv, "--home", str(bot.home)], cwd=bot.project, stdout=out, stderr=subprocess.STDOUT
        )
    wait_for(lambda: bot.get("/health").get("status") == "healthy", what="bot healthy")
    assert not marker.exists(), log.read_text(errors="replace")
