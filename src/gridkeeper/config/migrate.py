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
