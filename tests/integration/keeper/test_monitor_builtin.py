"""The keeper runs the monitor; a crash under the keeper reaches every notification channel."""

from __future__ import annotations

import pytest

from tests.integration.keeper.conftest import Project, wait_for
from tests.integration.monitor.servers import HttpReceiver, SmtpReceiver, valid_signature

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
            monitor={"enabled": True, "interval": 0.2},
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
        project.instance("crashy", "crash", "--after", "1.5", "--code", "3")
        proc = project.gk("start", "-d")
        assert proc.returncode == 0, proc.stderr
        rows = {r["name"]: r for r in project.status()}
        assert rows["gridkeeper-monitor"]["state"] in ("starting", "running")

        def crash_alerts() -> list[object]:
            return [
                r for r in hook.received() if b"instance_crashed" in r.body and b"crashy" in r.body
            ]

        first = wait_for(crash_alerts, timeout=30, what="webhook alert")[0]
        assert valid_signature(first, SECRET)  # type: ignore[arg-type]
        wait_for(
            lambda: any(f"/bot{TOKEN}/sendMessage" in r.path for r in tg.received()),
            timeout=30,
            what="telegram message",
        )
        wait_for(
            lambda: any("crashy" in str(m["Subject"]) for _, m in smtp.received()),
            timeout=30,
            what="email",
        )
        assert TOKEN not in project.gk("logs", "gridkeeper-monitor", "-n", "500").stdout
    finally:
        hook.stop()
        tg.stop()
        smtp.stop()
