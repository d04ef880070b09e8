"""`${VAR}` and `${VAR:-default}` substitution in every string of a parsed JSON document.

Pure: the environment is passed in. An unset variable without a default is an error naming the
variable and the JSON path; there is never a silent fallback to an empty string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gridkeeper.errors import ConfigError

# `$$` escapes a literal dollar; names follow POSIX shell rules.
_PATTERN = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{([^}]*)\}")


def format_loc(loc: tuple[str | int, ...]) -> str:
    """A JSON path as an operator reads it: `strategy_config.grid_num`, `targets[2].url`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def substitute(
    value: Any,
    env: Mapping[str, str],
    *,
    file: str | None = None,
    loc: tuple[str | int, ...] = (),
    substituted: set[tuple[str | int, ...]] | None = None,
    refs: set[str] | None = None,
) -> Any:
    """Return `value` with every `${...}` replaced; record changed paths in `substituted` and
    every variable name referenced (set or not, with a default or not) in `refs`."""
    if isinstance(value, str):
        if "$" not in value:
            return value
        result = _substitute_string(value, env, file=file, loc=loc, refs=refs)
        if substituted is not None and result != value:
            substituted.add(loc)
        return result
    if isinstance(value, dict):
        return {
            k: substitute(v, env, file=file, loc=(*loc, k), substituted=substituted, refs=refs)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            substitute(v, env, file=file, loc=(*loc, i), substituted=substituted, refs=refs)
            for i, v in enumerate(value)
        ]
    return value


def _substitute_string(
    text: str,
    env: Mapping[str, str],
    *,
    file: str | None,
    loc: tuple[str | int, ...],
    refs: set[str] | None = None,
) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group(3) is not None:
            raise ConfigError(
                f"invalid variable reference '${{{match.group(3)}}}': use ${{NAME}} or "
                "${NAME:-default}",
                file=file,
                loc=format_loc(loc),
            )
        name, default = match.group(1), match.group(2)
        if refs is not None:
            refs.add(name)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(
            f"environment variable {name} is not set (write ${{{name}:-default}} to allow a "
            "default)",
            file=file,
            loc=format_loc(loc),
        )

    return _PATTERN.sub(replace, text)


def references(value: Any) -> set[str]:
    """Every variable name a document refers to, without resolving anything."""
    names: set[str] = set()
    if isinstance(value, str):
        for match in _PATTERN.finditer(value):
            if match.group(1):
                names.add(match.group(1))
    elif isinstance(value, dict):
        for item in value.values():
            names |= references(item)
    elif isinstance(value, list):
        for item in value:
            names |= references(item)
    return names
