"""`gridkeeper monitor` as a real process with `telegram.commands` on: the settings file turns
the loop on, it answers, logs the operator action, never the token, and exits 0 on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests import support

from .conftest import CHAT, TOKEN, reply
from .standin import BotApiStandIn


def test_the_monitor_process_answers_commands(
    gk_home: Path, tmp_path: Path, api: BotApiStandIn
) -> None:
    settings = tmp_path / "daemon_config.json"
    telegram = {
        "enabled": False,
        "commands": True,
        "bot_token": "${TG_TOKEN}",
        "allowed_chat_ids": [CHAT],
        "api_base": api.url,
        "poll_timeout": 2,
    }
    settings.write_text(
        json.dumps(
            {
                "monitor": {
                    "interval": 1,
                    "restart_keeper": False,
                    "rules": {"keeper_down": {"for_seconds": 3600}},
                },
                "notifications": {"telegram": telegram},
            }
        )
    )
    env = {**os.environ, "TG_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridkeeper", "monitor", "--settings", str(settings)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        api.say(CHAT, "/alerts")
        assert (
            reply(api, CHAT, 1).text.startswith("no firing alerts")
            or "firing" in reply(api, CHAT, 1).text
        )
        api.say(CHAT, "/status")
        assert "keeper" in reply(api, CHAT, 2).text  # no keeper runs: the reply says so
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    log = out.decode(errors="replace")
    assert proc.returncode == 0, log
    actions = [json.loads(x) for x in log.splitlines() if '"operator_action"' in x]
    assert [(a["command"], a["outcome"]) for a in actions] == [
        ("/alerts", "ok"),
        ("/status", "failed"),
    ]
    assert TOKEN not in log and "TEST-token" not in log
    support.wait_for(lambda: api.confirmed_offset > 0, 5, "updates confirmed by offset")
