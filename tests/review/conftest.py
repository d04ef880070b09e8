"""Review (R1) regression tests: real paper exchange and bot subprocesses, as in
tests/integration/bot, whose fixtures are reused here."""

from tests.integration.bot.conftest import make_bot, paper, paper_config  # noqa: F401
