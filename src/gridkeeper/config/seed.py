"""The seed system's instance files, read as they are: its key names, its ignored keys, its strays.

Pure: a raw (not yet substituted) JSON document in, the document our models validate plus the
warnings an operator should read out. Renames happen before `${VAR}` substitution so that the
literal-secret check and error paths already use our names; value styles (a boolean
`auto_restart`, a negative `stop_loss`) are the models' business (their `before` validators).
"""

from __future__ import annotations

from typing import Any

from gridkeeper.errors import ConfigError

SECTIONS = ("metadata", "daemon_config", "exchange_config", "strategy_config")

# seed name -> our name, per section; both spellings in one file is an error (which one wins?).
RENAMES: dict[str, dict[str, str]] = {
    "daemon_config": {"bot_stop_timeout": "stop_timeout"},
    "exchange_config": {"secret_key": "api_secret", "default_window": "window_ms"},
    "strategy_config": {"interval": "poll_interval_s", "duration": "duration_s"},
}

# Keys the seed documented that mean nothing here: accepted, with one warning each saying why.
IGNORED: dict[str, dict[str, str]] = {
    "daemon_config": {
        "db_path": "the keeper keeps its state in <home>/state.db and each bot in "
        "<home>/bots/<name>.db",
        "bot_kill_timeout": "the keeper SIGKILLs the whole process group after stop_timeout and "
        "waits until it is gone",
    },
    "exchange_config": {
        "api_version": "the client speaks the one Backpack API version it was written for",
    },
    "strategy_config": {
        "auto_borrow": "the grid never borrows: a perp grid trades on margin and a spot grid "
        "only with what the account holds",
        "auto_borrow_repay": "the grid never borrows, so there is nothing to repay",
    },
}

# Exchanges the seed had templates for that gridkeeper does not trade on.
UNSUPPORTED_EXCHANGES = frozenset({"aster", "paradex", "lighter", "apex"})
SUPPORTED_EXCHANGES = ("backpack", "paper")

# Top-level keys some seed files carry beside the sections (the seed ignored them): the section
# each belongs in, so the warning can say where it would have to go to mean something.
_STRAY_HOME = {
    "exchange": "metadata",
    "symbol": "metadata",
    "market_type": "metadata",
    "strategy": "metadata",
    "instance_id": "metadata",
    "name": "metadata",
    "api_key": "exchange_config",
    "secret_key": "exchange_config",
    "api_secret": "exchange_config",
    "base_url": "exchange_config",
    "web_port": "daemon_config",
}


def _stray_section(key: str, known: dict[str, set[str]]) -> str | None:
    if key in _STRAY_HOME:
        return _STRAY_HOME[key]
    for section in SECTIONS:
        if key in known.get(section, set()) or key in RENAMES.get(section, {}):
            return section
        if key in IGNORED.get(section, {}):
            return section
    return None


def translate(
    raw: dict[str, Any], known: dict[str, set[str]], *, file: str
) -> tuple[dict[str, Any], list[str]]:
    """The document with seed names renamed, ignored keys and stray top-level keys dropped,
    and the warnings for each. `known` maps each section to the keys our model accepts there
    (a top-level key that is none of them stays, so validation reports it with "did you mean")."""
    warnings: list[str] = []
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in SECTIONS:
            out[key] = value
            continue
        home = _stray_section(key, known)
        if home is None:
            out[key] = value  # nobody's key: validation names it
            continue
        warnings.append(
            f"{file}: top-level key '{key}' is ignored (the seed ignored it too); it means "
            f"something only inside {home}"
        )
    for section in SECTIONS:
        body = out.get(section)
        if not isinstance(body, dict):
            continue
        body = dict(body)
        for old, new in RENAMES.get(section, {}).items():
            if old not in body:
                continue
            if new in body:
                raise ConfigError(
                    f"both '{old}' (the seed's name) and '{new}' are set; keep one",
                    file=file,
                    loc=f"{section}.{old}",
                )
            body[new] = body.pop(old)
        for old, why in IGNORED.get(section, {}).items():
            if old in body:
                body.pop(old)
                warnings.append(f"{file}: {section}.{old} is ignored: {why}")
        out[section] = body
    check_exchange(out, file=file)
    return out, warnings


def check_exchange(data: dict[str, Any], *, file: str) -> None:
    """A grid for an exchange we do not trade on is refused in one line (before the model
    produces a dozen errors about keys that exchange's template has)."""
    meta = data.get("metadata")
    exchange = meta.get("exchange") if isinstance(meta, dict) else None
    if not isinstance(exchange, str) or "$" in exchange:
        return
    name = exchange.strip().lower()
    grid = "strategy_config" in data or "exchange_config" in data
    if name in UNSUPPORTED_EXCHANGES and grid:
        raise ConfigError(
            f"exchange '{exchange}' is not supported: gridkeeper trades on Backpack only "
            '(metadata.exchange "backpack", or "paper" for the local paper exchange)',
            file=file,
            loc="metadata.exchange",
        )


def is_ignored(section: str, key: str) -> bool:
    return key in IGNORED.get(section, {})
