"""The keeper runs the monitor; a crash under the keeper reaches every notification channel."""

from __future__ import annotations

import pytest

from tests.integration.keeper.conftest import Project, wait_for
from tests.integration.monitor.servers import (
    HttpReceiver,
    Request,
    SmtpReceiver,
    valid_signature,
)

pytestmark = pytest.mark.integration

SECRET = "hook-secret-1234"
TOKEN = "123456:TELEGRAM-TOKEN"


def test_crash_reaches_email_telegram_and_webhook(project: Project) -> None:
    hook = HttpReceiver().start()
    tg = HttpReceiver().start()
    smtp = SmtpReceiver().start()
    try:
        project.settings(
            max_restart_attempts=5,
            restart_delay=0.5,
            restart_delay_max=1,
            monitor={"enabled": True, "interval": 0.2, "rules": {"resolve_after": 1}},
            notifications={
                "retry_initial": 0.2,
                "webhook": {
                    "enabled": True,
                    "url": hook.url + "/alerts",
                    "secret": SECRET,
                    "min_level": "warning",
                },
                "telegram": {
                    "enabled": True,
                    "bot_token": TOKEN,
                    "chat_id": "42",
                    "api_base": tg.url,
                    "min_level": "warning",
                },
                "email": {
                    "enabled": True,
                    "smtp_server": "127.0.0.1",
                    "smtp_port": smtp.port,
                    "security": "none",
                    "from_email": "gk@example.com",
                    "to_emails": ["ops@example.com"],
                    "min_level": "warning",
                },
            },
        )
        marker = project.root / "crashed-once"
        project.instance(
            "crashy", "crash-once", "--after", "1", "--code", "3", "--marker", str(marker)
        )
        proc = project.gk("start", "-d")
        assert proc.returncode == 0, proc.stderr
        rows = {r["name"]: r for r in project.status()}
        assert rows["gridkeeper-monitor"]["state"] in ("starting", "running")

        def webhook(kind: str) -> list[Request]:
            return [
                r
                for r in hook.received()
                if r.json().get("rule") == "instance_crashed" and r.json().get("kind") == kind
            ]

        def telegram(word: str) -> list[Request]:
            return [r for r in tg.received() if word in r.json().get("text", "")]

        def email(word: str) -> list[object]:
            return [
                m
                for _, m in smtp.received()
                if str(m["Subject"]).startswith(f"[gridkeeper] {word}")
            ]

        # The recovery (the second generation running) resolves the alert on every channel.
        wait_for(lambda: webhook("resolved"), timeout=30, what="webhook resolved")
        wait_for(lambda: telegram("RESOLVED"), timeout=30, what="telegram resolved")
        wait_for(lambda: email("RESOLVED"), timeout=30, what="email resolved")
        # Each channel got the crash exactly once and the recovery exactly once.
        assert len(webhook("firing")) == 1 and len(webhook("resolved")) == 1
        assert all(valid_signature(r, SECRET) for r in hook.received())
        assert "crashy" in webhook("firing")[0].json()["summary"]
        assert len(telegram("FIRING")) == 1 and len(telegram("RESOLVED")) == 1
        assert all(f"/bot{TOKEN}/sendMessage" in r.path for r in tg.received())
        assert len(email("FIRING")) == 1 and len(email("RESOLVED")) == 1
        assert project.one("crashy")["restarts"] == 1
        assert TOKEN not in project.gk("logs", "gridkeeper-monitor", "-n", "500").stdout
    finally:
        hook.stop()
        tg.stop()
        smtp.stop()
