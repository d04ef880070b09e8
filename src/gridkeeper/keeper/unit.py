"""The systemd unit that runs the keeper in the foreground at boot (pure: text in, text out).

`Type=notify`: the keeper sends READY=1 once it listens and has restored its instances
(`gridkeeper.keeper.sdnotify`). `KillMode=mixed`: SIGTERM goes to the keeper only, which stops
its instances gracefully (each within its own stop_timeout) and saves them as wanted running,
so they start again with the next keeper; whatever is left when `TimeoutStopSec` runs out is
SIGKILLed by systemd, hence a stop timeout longer than any instance's.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

STOP_MARGIN = 30.0  # seconds for the keeper itself after the slowest instance's stop timeout


@dataclass(frozen=True)
class UnitSpec:
    python: str
    home: Path
    log_dir: Path
    workdir: Path
    settings: Path | None
    env_file: Path
    stop_timeout: float  # the longest instance stop_timeout
    system: bool
    user: str | None = None  # system units: the account the keeper runs as
    writable: tuple[Path, ...] = field(default_factory=tuple)


def exec_start(spec: UnitSpec) -> list[str]:
    # -P: never import modules from the cwd (see gridkeeper.resolver)
    argv = [spec.python, "-P", "-m", "gridkeeper", "keeper", "--home", str(spec.home)]
    if spec.settings is not None:
        argv += ["--settings", str(spec.settings)]
    return argv


def _quote(path: Path) -> str:
    # systemd splits these lists on whitespace; a path with a space must be quoted
    text = str(path)
    return f'"{text}"' if any(c.isspace() for c in text) else text


def render(spec: UnitSpec) -> str:
    writable = [spec.home, spec.log_dir, *spec.writable]
    seen: list[str] = []
    for p in writable:
        if _quote(p) not in seen:
            seen.append(_quote(p))
    lines = [
        "# Written by `gridkeeper startup`; `gridkeeper startup --remove` removes it.",
        "[Unit]",
        f"Description=gridkeeper keeper ({spec.home})",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={shlex.join(exec_start(spec))}",
        f"WorkingDirectory={_quote(spec.workdir)}",
        # '-': a missing file is not an error; keys go there (mode 600), never in the unit.
        f"EnvironmentFile=-{_quote(spec.env_file)}",
        f"Environment={shlex.quote('GRIDKEEPER_HOME=' + str(spec.home))}",
        "Environment=PYTHONUNBUFFERED=1",
    ]
    if spec.settings is not None:
        lines.append(f"Environment={shlex.quote('GRIDKEEPER_SETTINGS=' + str(spec.settings))}")
    if spec.system and spec.user:
        lines.append(f"User={spec.user}")
    lines += [
        "Restart=on-failure",
        "RestartSec=5",
        "KillMode=mixed",
        "KillSignal=SIGTERM",
        f"TimeoutStopSec={int(spec.stop_timeout + STOP_MARGIN)}",
        "TimeoutStartSec=120",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        f"ReadWritePaths={' '.join(seen)}",
        "PrivateTmp=yes",
        "",
        "[Install]",
        f"WantedBy={'multi-user.target' if spec.system else 'default.target'}",
        "",
    ]
    return "\n".join(lines)


def parse(text: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values]}} (systemd allows repeated keys)."""
    out: dict[str, dict[str, list[str]]] = {}
    section: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = out.setdefault(line[1:-1], {})
            continue
        if section is None or "=" not in line:
            raise ValueError(f"not a unit file line: {raw!r}")
        key, value = line.split("=", 1)
        section.setdefault(key.strip(), []).append(value.strip())
    return out
