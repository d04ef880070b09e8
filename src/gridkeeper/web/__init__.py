"""The web dashboard (`gridkeeper web`): a thin client of the keeper's socket API, the bots'
control APIs and the monitor's store, served by starlette. See docs/web.md."""
