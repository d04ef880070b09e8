"""Where `${VAR}` values come from, highest first (docs/config.md, "Where variables come from"):

1. the environment of the command that starts the instance (`start`, `restart`, `reload`);
2. the instance's `daemon_config.env_file`;
3. the settings file's `env_file`;
4. `.env` in the instance's working directory (the seed's habit);
5. what the last command that started this instance resolved (kept by the keeper, so an
   automatic restart, or a `restart` from a shell without the keys, uses the same values);
6. the environment of the process reading the config (the keeper's, for the keeper).

The files are explicit, durable configuration, so they win over values kept from an earlier
shell: editing an env_file and restarting applies the edit. A shell export wins over both.

Files are dotenv format (python-dotenv: `KEY=value`, `export KEY=value`, quotes, `#` comments);
no interpolation inside them (a value holding `$` stays as written). A file readable by group or
others gets a warning with the chmod that fixes it; a missing `.env` is fine, a missing named
env_file is an error.
"""

from __future__ import annotations

import stat
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gridkeeper.errors import ConfigError

COMMAND = "command"
KEPT = "kept"
BASE = "process"
DOTENV = ".env"

# The seed's run.py (and ours: gridkeeper.cli.legacy) read these itself, not through a config.
LEGACY_RUN_VARS = frozenset({"BACKPACK_KEY", "BACKPACK_SECRET", "BASE_URL"})


@dataclass
class Layers:
    """Named sources of variables, highest first, and the warnings reading them produced."""

    sources: list[tuple[str, Mapping[str, str]]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def mapping(self) -> ChainMap[str, str]:
        return ChainMap(*(values for _, values in self.sources))  # type: ignore[arg-type]

    def source(self, name: str) -> str | None:
        for label, values in self.sources:
            if name in values:
                return label
        return None

    def split(self, refs: set[str]) -> tuple[dict[str, str], dict[str, str]]:
        """(what the program must be given, what the keeper keeps for the next start) for the
        referenced variables. Values only the process's own environment has are neither: the
        program inherits that environment anyway."""
        given: dict[str, str] = {}
        kept: dict[str, str] = {}
        for name in sorted(refs):
            label = self.source(name)
            if label is None or label == BASE:
                continue
            value = self.mapping[name]
            given[name] = value
            if label in (COMMAND, KEPT):
                kept[name] = value
        return given, kept


def read_env_file(path: Path, *, required: bool, what: str) -> tuple[dict[str, str], list[str]]:
    """A dotenv file's variables and its permission warning (if any)."""
    from dotenv import dotenv_values

    if not path.is_file():
        if required:
            raise ConfigError(f"{what} not found", file=str(path))
        return {}, []
    try:
        raw = dotenv_values(path, interpolate=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what}: {exc}", file=str(path)) from None
    values = {k: v for k, v in raw.items() if v is not None}
    warnings: list[str] = []
    mode = path.stat().st_mode
    if values and mode & (stat.S_IRGRP | stat.S_IROTH):
        warnings.append(
            f"{path}: {what} (keys for your bots) is readable by group or others "
            f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}"
        )
    return values, warnings


def build(
    *,
    base: Mapping[str, str],
    command: Mapping[str, str] | None = None,
    kept: Mapping[str, str] | None = None,
    instance_file: Path | None = None,
    settings_file: Path | None = None,
    workdir: Path | None = None,
) -> Layers:
    layers = Layers()
    if command is not None:
        layers.sources.append((COMMAND, command))
    for label, path, required in (
        ("instance env_file", instance_file, True),
        ("settings env_file", settings_file, True),
        (DOTENV, workdir / DOTENV if workdir is not None else None, False),
    ):
        if path is None:
            continue
        values, warnings = read_env_file(path, required=required, what=label)
        layers.sources.append((f"{label} {path}", values))
        layers.warnings += warnings
    if kept:
        layers.sources.append((KEPT, kept))
    layers.sources.append((BASE, base))
    return layers
