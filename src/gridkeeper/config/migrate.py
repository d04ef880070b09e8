"""`gridkeeper config migrate`: a seed instance file rewritten in our names, secrets turned into
`${VAR}` references. Pure: a parsed document in, the cleaned document and a report out (the
report never holds a secret's value)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gridkeeper.config.seed import IGNORED, RENAMES, SECTIONS, translate

# exchange_config secret -> the variable the shipped templates and run.py use.
SECRET_VARS = {"api_key": "BACKPACK_KEY", "api_secret": "BACKPACK_SECRET"}
STRAY_SECRETS = frozenset({"api_key", "secret_key", "api_secret"})


@dataclass
class Migration:
    doc: dict[str, Any]
    report: list[str] = field(default_factory=list)
    literal_secrets: list[str] = field(default_factory=list)  # JSON paths, never values

    @property
    def changed(self) -> bool:
        return bool(self.report)


def _literal(value: Any) -> bool:
    return isinstance(value, str) and value != "" and "$" not in value


def migrate(raw: dict[str, Any], known: dict[str, set[str]], *, file: str) -> Migration:
    """The cleaned document: seed names renamed, ignored and stray keys dropped (each said in
    the report), literal keys replaced by `${BACKPACK_KEY}` / `${BACKPACK_SECRET}`."""
    out = Migration(doc={})
    for key, value in raw.items():
        if key not in SECTIONS and key in STRAY_SECRETS and _literal(value):
            out.literal_secrets.append(key)
            out.report.append(
                f"{key}: a literal key at the top level (the seed ignored it): removed"
            )
    for section in SECTIONS:
        body = raw.get(section)
        if not isinstance(body, dict):
            continue
        for old, new in RENAMES.get(section, {}).items():
            if old in body:
                out.report.append(f"{section}.{old}: renamed {section}.{new}")
        for old, why in IGNORED.get(section, {}).items():
            if old in body:
                out.report.append(f"{section}.{old}: removed ({why})")
    doc, warnings = translate(raw, known, file=file)
    for key in raw:
        if key not in SECTIONS and key not in doc and key not in STRAY_SECRETS:
            out.report.append(f"{key}: top-level key the seed ignored: removed")
    exchange = doc.get("exchange_config")
    if isinstance(exchange, dict):
        exchange = dict(exchange)
        for key, var in SECRET_VARS.items():
            if _literal(exchange.get(key)):
                exchange[key] = f"${{{var}}}"
                out.literal_secrets.append(f"exchange_config.{key}")
                out.report.append(
                    f"exchange_config.{key}: a literal key (value not shown): now ${{{var}}}; "
                    f"export {var}=... before `gridkeeper start`, or put it in an env_file "
                    "(chmod 600)"
                )
        doc["exchange_config"] = exchange
    daemon = doc.get("daemon_config")
    if isinstance(daemon, dict) and isinstance(daemon.get("auto_restart"), bool):
        value = "always" if daemon["auto_restart"] else "never"
        out.report.append(f"daemon_config.auto_restart: {daemon['auto_restart']} -> {value!r}")
        doc["daemon_config"] = {**daemon, "auto_restart": value}
    del warnings  # every warning translate gives is already in the report, in our words
    out.doc = doc
    return out


# Secrets of a settings file (notification channels) -> the variable the shipped settings use.
SETTINGS_SECRET_VARS: dict[tuple[str, ...], str] = {
    ("email", "password"): "SMTP_PASSWORD",
    ("telegram", "bot_token"): "TELEGRAM_BOT_TOKEN",
    ("webhook", "secret"): "WEBHOOK_SECRET",
    ("alertmanager", "password"): "ALERTMANAGER_PASSWORD",
}
SETTINGS_SECRET_KEYS = frozenset({"password", "bot_token", "secret", "token", "api_secret"})


def is_instance_file(raw: dict[str, Any]) -> bool:
    """An instance file has one of the four seed sections; anything else is a settings file."""
    return any(section in raw for section in SECTIONS)


def migrate_settings(raw: dict[str, Any]) -> Migration:
    """A settings file with its literal secrets (notification passwords, tokens) turned into
    `${VAR}` references: the shipped names for the known channels, GRIDKEEPER_<PATH> else."""
    out = Migration(doc={})

    def walk(node: Any, path: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            return {key: walk(value, (*path, str(key))) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value, (*path, str(i))) for i, value in enumerate(node)]
        if path and path[-1] in SETTINGS_SECRET_KEYS and _literal(node):
            named = [p for p in path if p != "notifications" and not p.isdigit()]
            var = SETTINGS_SECRET_VARS.get(tuple(named[-2:]))
            var = var or "GRIDKEEPER_" + "_".join(named).upper()
            where = ".".join(path)
            out.literal_secrets.append(where)
            out.report.append(
                f"{where}: a literal secret (value not shown): now ${{{var}}}; export {var}=... "
                "before `gridkeeper start`, or put it in an env_file (chmod 600)"
            )
            return f"${{{var}}}"
        return node

    out.doc = walk(raw, ())
    return out
