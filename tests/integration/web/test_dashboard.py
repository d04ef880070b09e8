"""The web dashboard end to end: a real browser, a real keeper, real paper grid bots."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.integration.bot.conftest import wait_for
from tests.integration.operations.conftest import Ops
from tests.integration.web.conftest import Console, Web, quiet_subscribers, subscribers


def _login(tab: Page, web: Web) -> None:
    tab.goto(web.url + "/")
    expect(tab).to_have_url(re.compile(r"/login$"))  # no token: the form, nothing else
    tab.fill("#token", web.token)
    tab.click("button[type=submit]")
    expect(tab).to_have_url(web.url + "/")


def _row(ops: Ops, name: str) -> dict[str, object]:
    return next(r for r in ops.status() if r["name"] == name)


def test_requests_without_the_token_or_with_a_foreign_host_are_refused(ops: Ops, web: Web) -> None:
    assert web.get("/api/instances").status_code == 401
    assert web.get("/api/events").status_code == 401
    assert web.get("/static/app.js").status_code == 401
    page = web.get("/")
    assert page.status_code == 303 and page.headers["location"] == "/login"
    wrong = web.get("/api/info", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert web.get("/api/info", cookies={"gridkeeper_web": "nope"}).status_code == 401
    assert web.get("/api/info", headers=web.auth()).json()["home"] == str(ops.home)
    # DNS rebinding: a page on evil.example reaching 127.0.0.1 is refused before any route.
    foreign = web.get("/api/info", headers={**web.auth(), "Host": "evil.example"})
    assert foreign.status_code == 400
    # A cross-site form cannot send JSON: state changes that are not JSON are refused.
    form = httpx.post(web.url + "/api/silences", data={"pattern": "x"}, headers=web.auth())
    assert form.status_code == 415
    # The login form: a wrong token is refused, the right one sets a strict HttpOnly cookie.
    assert httpx.post(web.url + "/login", data={"token": "nope"}).status_code == 401
    good = httpx.post(web.url + "/login", data={"token": web.token})
    assert good.status_code == 303
    cookie = good.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and web.token in cookie
    assert (web.home / "tokens" / "web.token").stat().st_mode & 0o777 == 0o600
    # Behind a proxy under /gk (prefix stripped or not), redirects and the cookie follow it.
    prefixed = web.get("/gk/", headers={"X-Forwarded-Prefix": "/gk"})
    assert prefixed.headers["location"] == "/gk/login"
    stripped = web.get("/api/info", headers={**web.auth(), "X-Forwarded-Prefix": "/gk"})
    assert stripped.status_code == 200
    login = httpx.get(
        web.url + "/gk/login", params={"token": web.token}, headers={"X-Forwarded-Prefix": "/gk"}
    )
    assert login.headers["location"] == "/gk/" and "Path=/gk/" in login.headers["set-cookie"]
    # `gridkeeper web url` prints the link that logs in.
    link = subprocess.run(
        [sys.executable, "-m", "gridkeeper", "web", "url"],
        cwd=ops.root,
        env=ops.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert link.endswith(f"/login?token={web.token}")


def test_the_table_follows_a_kill_9_live(ops: Ops, web: Web, page: tuple[Page, Console]) -> None:
    tab, console = page
    ops.grid("sol-a")
    started = ops.gk("start", "-d")
    assert started.returncode == 0, started.stderr
    _login(tab, web)
    row = tab.locator('#instances tr[data-name="sol-a"]')
    expect(row.locator("td.state")).to_have_text("running")
    expect(row.locator("td.grid")).to_contain_text("trading")
    expect(tab.locator("#conn")).to_have_text("live")
    expect(tab.locator("#host .card").first).to_be_visible()  # the monitor's host metrics
    before = _row(ops, "sol-a")
    pid, restarts = int(str(before["pid"])), int(str(before["restarts"]))
    expect(row.locator("td.pid")).to_have_text(str(pid))

    os.kill(pid, signal.SIGKILL)
    # Pushed, not polled by the page: the keeper's event reaches the table.
    expect(row.locator("td.restarts")).to_have_text(str(restarts + 1))
    expect(row.locator("td.state")).to_have_text("running")
    expect(row.locator("td.pid")).not_to_have_text(str(pid))
    expect(tab.locator("#events")).to_contain_text("sol-a")
    # The monitor's crash alert shows up in the alert list; ack it from the page.
    alert = tab.locator("#alerts tr", has_text="instance_crashed")
    expect(alert.first).to_be_visible(timeout=60_000)
    tab.screenshot(path=str(web.shots / "web-overview.png"), full_page=True)
    ack = tab.locator("#alerts button[data-ack]").first
    if ack.count():
        ack.click()
        tab.click("#c-ok")
        expect(tab.locator("#alerts")).to_contain_text("acked")
    assert console.errors == []


def test_adjust_pause_and_read_a_grid_through_the_ui(
    ops: Ops, web: Web, page: tuple[Page, Console]
) -> None:
    tab, console = page
    port = ops.grid("sol-b")
    assert ops.gk("start", "-d").returncode == 0
    wait_for(lambda: ops.view("sol-b", port)["open_orders"], what="grid orders placed")
    link = subprocess.run(
        [sys.executable, "-m", "gridkeeper", "web", "url"],
        cwd=ops.root,
        env=ops.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tab.goto(link)  # the printed link logs in
    expect(tab).to_have_url(web.url + "/")
    tab.click('#instances tr[data-name="sol-b"] td.name a')
    expect(tab).to_have_url(web.url + "/#/grid/sol-b")
    expect(tab.locator('[data-card="range"] .v')).to_have_text("90 – 110")
    expect(tab.locator("#g-orders tbody tr").first).to_be_visible()
    expect(tab.locator("#g-chart line").first).to_be_attached()  # levels drawn
    expect(tab.locator("#g-log")).not_to_be_empty()

    # Adjust: a preview (or, from a bot without the dry-run contract, its refusal of the
    # field and nothing changed), confirmed, then the bot's own view has the new range.
    form = tab.locator("#adjust")
    form.locator("input[name=grid_lower_price]").fill("95")
    form.locator("input[name=grid_upper_price]").fill("105")
    form.locator("select[name=position]").select_option("keep")
    form.locator("button[type=submit]").click()
    dialog = tab.locator("#confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("New range 95 – 105")
    assert ops.view("sol-b", port)["grid_lower_price"] == "90"  # a preview changes nothing
    tab.screenshot(path=str(web.shots / "web-adjust-preview.png"))
    tab.click("#c-ok")
    wait_for(
        lambda: (
            (v := ops.view("sol-b", port))["grid_lower_price"] == "95"
            and v["grid_upper_price"] == "105"
        ),
        what="the bot's new range",
    )
    expect(tab.locator('[data-card="range"] .v')).to_have_text("95 – 105")
    # The price falls through a buy level: the fill (from the bot's store) and its PnL point.
    ops.paper.set_price("SOL_USDC", "98.5")
    expect(tab.locator("#g-fills tbody tr", has_text="buy").first).to_be_visible()
    expect(tab.locator("#g-pnl path")).to_be_attached()
    tab.screenshot(path=str(web.shots / "web-grid.png"), full_page=True)

    # A bad range: the bot's reason, shown as it gave it; nothing changes.
    form.locator("input[name=grid_lower_price]").fill("120")
    form.locator("input[name=grid_upper_price]").fill("100")
    form.locator("button[type=submit]").click()
    refused, no_preview = tab.locator("#adjust-error"), tab.locator("#no-preview")
    expect(refused.or_(no_preview)).to_be_visible()
    if no_preview.is_visible():  # a bot without the preview: the refusal comes on Apply
        tab.click("#c-ok")
        expect(tab.locator("#banner")).to_contain_text("answered 400")
    else:
        expect(refused).to_contain_text("answered 400")
        tab.click("#c-cancel")
    assert ops.view("sol-b", port)["grid_lower_price"] == "95"

    tab.click("button[data-grid-action=pause]")
    tab.click("#c-ok")
    wait_for(lambda: ops.view("sol-b", port)["status"] == "paused", what="paused")
    expect(tab.locator("#g-trading")).to_have_text("paused")
    tab.click("button[data-grid-action=resume]")
    tab.click("#c-ok")
    wait_for(lambda: ops.view("sol-b", port)["status"] == "running", what="resumed")

    # Stop with "cancel the open orders": the bot cancels, then the keeper stops the process.
    tab.click("button[data-grid-action=stop]")
    tab.check("#stop-cancel")
    tab.click("#c-ok")
    wait_for(lambda: _row(ops, "sol-b")["state"] == "stopped", what="stopped")
    # Playwright's sync API runs an event loop on this thread: ask the exchange from another.
    with ThreadPoolExecutor(1) as pool:
        opened = pool.submit(ops.paper.query, "SOL_USDC").result()[0]
    assert opened == []
    # The only console errors allowed: the browser's own note of the 400s the bot gave on
    # purpose (the refused range; the dry-run field on a bot without the preview contract).
    unexpected = [e for e in console.errors if "status of 400" not in e]
    assert unexpected == []


def test_a_closed_tab_ends_its_keeper_subscription(ops: Ops, web: Web, browser: Browser) -> None:
    """A real tab in Chromium opens the live feed; closing the tab ends the dashboard's keeper
    subscription (was: sometimes held until the dashboard stopped, web/stream.py)."""
    ops.program("plain")
    assert ops.gk("start", "-d").returncode == 0
    baseline = quiet_subscribers(ops.home)
    for _ in range(3):
        context = browser.new_context()
        try:
            tab = context.new_page()
            _login(tab, web)
            expect(tab.locator("#conn")).to_have_text("live")
            wait_for(lambda: subscribers(ops.home) == baseline + 1, what="the tab's subscription")
            tab.close()
            wait_for(lambda: subscribers(ops.home) == baseline, timeout=10, what="its release")
        finally:
            context.close()
