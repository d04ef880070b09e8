"""The bot's own error: a problem no restart can fix (exit 78, EX_CONFIG, so the keeper stops)."""

from __future__ import annotations

from gridkeeper.errors import GridkeeperError

FATAL_EXIT = 78


class BotFatal(GridkeeperError):
    """Bad config, refused keys, a busy port, or not enough funds to start the grid."""

    exit_code = FATAL_EXIT
