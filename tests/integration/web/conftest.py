"""The dashboard served by a real `gridkeeper web` process, in front of a real keeper running
paper grid bots (tests/integration/operations/conftest.py), driven by a real headless Chromium
(Debian's `chromium`, through Playwright's Python API with `executable_path`; never `playwright
install`).

Screenshots: every test saves its pages under the test's tmp dir; with
GRIDKEEPER_WEB_SCREENSHOTS=DIR (e.g. docs/images) they go there, which is how the ones in
docs/web.md were made."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from gridkeeper.keeper.client import KeeperClient
from tests.integration.bot.conftest import wait_for
from tests.integration.keeper.conftest import FAST
from tests.integration.operations.conftest import Ops, ops  # noqa: F401 (the fixture)
from tests.support import free_port

SCREENSHOTS_ENV = "GRIDKEEPER_WEB_SCREENSHOTS"


@dataclass
class Web:
    url: str
    home: Path
    proc: subprocess.Popen[bytes]
    shots: Path

    @property
    def token(self) -> str:
        return (self.home / "tokens" / "web.token").read_text().strip()

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10, follow_redirects=False, **kwargs)

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def subscribers(home: Path) -> int:
    """The keeper's open `subscribe` streams (its `ping`): the monitor's, one per live feed."""
    count = KeeperClient(home).ping()
    assert count is not None, "no keeper answers"
    return int(count["subscribers"])


def quiet_subscribers(home: Path) -> int:
    """The count with no dashboard feed open, once the monitor (started by the keeper after
    `start`) holds its one subscription: what a released feed must bring the count back to."""
    wait_for(lambda: subscribers(home) == 1, timeout=60, what="the monitor's subscription")
    return 1


@pytest.fixture
def web(ops: Ops, tmp_path: Path) -> Iterator[Web]:  # noqa: F811 (ops is the fixture)
    # The monitor on, sampling every second: the dashboard shows its host metrics and alerts.
    # The port comes from the settings' `web` section, so `gridkeeper web url` agrees with it.
    port = free_port()
    settings = {**FAST, "monitor": {"enabled": True, "interval": 1}, "web": {"port": port}}
    (ops.root / "config" / "daemon_config.json").write_text(json.dumps(settings))
    out = (tmp_path / "web.out").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridkeeper", "web", "--refresh", "1"],
        cwd=ops.root,
        env=ops.env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    server = Web(f"http://127.0.0.1:{port}", ops.home, proc, shots)
    try:
        wait_for(lambda: server.get("/login").status_code == 200, what="gridkeeper web")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("gridkeeper web did not stop within 10 s of SIGTERM") from None
        finally:
            out.close()


@dataclass
class Console:
    """What the page said on its console and what it threw."""

    errors: list[str] = field(default_factory=list)

    def on_message(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@pytest.fixture
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is not installed (make test installs it)"
    with sync_playwright() as play:
        # --no-sandbox: the tests may run as root (a container), where Chromium's sandbox refuses.
        instance = play.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield instance
        finally:
            with contextlib.suppress(Exception):
                instance.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, Console]]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    console = Console()
    tab.on("console", console.on_message)
    tab.on("pageerror", lambda exc: console.errors.append(f"uncaught: {exc}"))
    tab.set_default_timeout(30_000)
    try:
        yield tab, console
    finally:
        context.close()
