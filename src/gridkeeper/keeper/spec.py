"""What the keeper knows of a config: plain dataclasses read from `gridkeeper config resolve`.

The keeper never imports pydantic or the config models (they would double its memory, see
benchmarks/keeper.py). It runs the resolver as a short-lived process and reads its JSON; the
config package owns every rule about what a config means.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any, Literal

from gridkeeper.errors import ConfigError

RESOLVE_TIMEOUT = 120.0


@dataclass(frozen=True)
class DaemonSpec:
    auto_restart: Literal["always", "on-failure", "never"] = "on-failure"
    max_restart_attempts: int = 3
    restart_window_s: float = 300.0
    restart_delay: float = 5.0
    restart_delay_max: float = 300.0
    restart_jitter: float = 0.1
    fatal_exit_codes: list[int] = field(default_factory=lambda: [78])
    startsecs: float = 1.0
    stop_timeout: float = 25.0
    health_check_interval: float = 30.0
    memory_limit_mb: float | None = None
    cpu_limit_percent: float | None = None
    cpu_limit_action: Literal["event", "restart"] = "event"
    limit_samples: int = 3
    log_dir: str = "logs"
    log_retention_days: float = 30.0
    log_cleanup_interval: float = 3600.0


@dataclass(frozen=True)
class HealthSpec:
    type: Literal["http", "tcp", "file"]
    url: str | None = None
    host: str = "127.0.0.1"
    port: int | None = None
    path: str | None = None
    max_age_s: float = 60.0
    timeout_s: float = 5.0
    failures: int = 3
    start_grace_s: float = 30.0


@dataclass(frozen=True)
class InstanceSpec:
    name: str
    path: Path
    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str]
    web_port: int | None
    fingerprint: str
    daemon: DaemonSpec
    health: HealthSpec | None = None
    grid_bot: bool = False
    depends_on: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    own_log_dir: str | None = None  # the seed's per-instance daemon_config.log_dir
    # Variables the config refers to, as the starting command resolved them (given to the
    # program, which reads its config itself), and those of them kept for the next start.
    # Stored in state.db (0600) so automatic restarts and a new keeper use the same values.
    ref_env: dict[str, str] = field(default_factory=dict)
    kept_env: dict[str, str] = field(default_factory=dict)

    def log_dir(self, home: Path) -> Path:
        if self.own_log_dir:
            return Path(self.own_log_dir)
        base = Path(self.daemon.log_dir).expanduser()
        if not base.is_absolute():
            base = home / base
        return base / self.name


@dataclass(frozen=True)
class SettingsSpec:
    path: Path | None
    log_dir: str = "logs"
    log_retention_days: float = 30.0
    log_cleanup_interval: float = 3600.0
    logging: dict[str, Any] = field(default_factory=dict)
    monitor_enabled: bool = False
    legacy: bool = False
    instances_dir: Path | None = None
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resolution:
    settings: SettingsSpec
    instances: list[InstanceSpec]
    errors: list[tuple[str, str]]
    monitor: InstanceSpec | None
    web: InstanceSpec | None = None  # the built-in dashboard (settings: web.enabled)


def _pick(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def instance_from_wire(data: dict[str, Any]) -> InstanceSpec:
    health = data.get("health")
    return InstanceSpec(
        name=data["name"],
        path=Path(data["path"]),
        argv=tuple(data["argv"]),
        cwd=Path(data["cwd"]),
        env=dict(data["env"]),
        web_port=data.get("web_port"),
        fingerprint=data["fingerprint"],
        daemon=DaemonSpec(**_pick(DaemonSpec, data["daemon"])),
        health=HealthSpec(**_pick(HealthSpec, health)) if health else None,
        grid_bot=bool(data.get("grid_bot")),
        depends_on=tuple(data.get("depends_on", ())),
        secrets=tuple(data.get("secrets", ())),
        warnings=tuple(data.get("warnings", ())),
        own_log_dir=data.get("own_log_dir"),
        ref_env=dict(data.get("ref_env") or {}),
        kept_env=dict(data.get("kept_env") or {}),
    )


def settings_from_wire(data: dict[str, Any]) -> SettingsSpec:
    return SettingsSpec(
        path=Path(data["path"]) if data.get("path") else None,
        log_dir=data["log_dir"],
        log_retention_days=data["log_retention_days"],
        log_cleanup_interval=data["log_cleanup_interval"],
        logging=dict(data["logging"]),
        monitor_enabled=bool(data["monitor_enabled"]),
        legacy=bool(data["legacy"]),
        instances_dir=Path(data["instances_dir"]) if data.get("instances_dir") else None,
        secrets=tuple(data.get("secrets", ())),
    )


def _resolver(
    settings_path: Path | None,
    files: list[str] | tuple[str, ...],
    defaults: bool,
    home: Path | None,
    command_env: dict[str, str] | None,
    kept: dict[str, dict[str, str]] | None,
) -> tuple[list[str], dict[str, str], bytes]:
    """argv, environment and stdin of the resolver process."""
    # -P: never import modules from the cwd (see gridkeeper.resolver)
    argv = [sys.executable, "-P", "-m", "gridkeeper", "config", "resolve", "--env-stdin"]
    if settings_path is not None:
        argv += ["--settings", str(settings_path)]
    if defaults:
        argv.append("--defaults")
    if home is not None:
        argv += ["--home", str(home)]
    argv += ["--", *[str(f) for f in files]]
    env = {k: v for k, v in os.environ.items() if k != "GRIDKEEPER_INSTANCE"}
    stdin = json.dumps({"command_env": command_env, "kept": kept or {}}).encode()
    return argv, env, stdin


def _resolution(stdout: bytes, stderr: bytes) -> Resolution:
    # The keeper reaps every child on SIGCHLD, so the exit status may be lost: the JSON says
    # whether it worked, and no JSON means it did not.
    try:
        doc = json.loads(stdout)
    except ValueError:
        detail = stderr.decode("utf-8", "replace").strip().splitlines()
        raise ConfigError(
            "cannot resolve configs: " + (detail[-1] if detail else "the resolver printed nothing")
        ) from None
    if not doc.get("ok"):
        raise ConfigError(str(doc.get("error", "unknown error")))
    return Resolution(
        settings=settings_from_wire(doc["settings"]),
        instances=[instance_from_wire(d) for d in doc["instances"]],
        errors=[(e["file"], e["message"]) for e in doc["errors"]],
        monitor=instance_from_wire(doc["monitor"]) if doc.get("monitor") else None,
        web=instance_from_wire(doc["web"]) if doc.get("web") else None,
    )


def resolve(
    settings_path: Path | None,
    files: list[str] | tuple[str, ...] = (),
    *,
    defaults: bool = False,
    home: Path | None = None,
    command_env: dict[str, str] | None = None,
    kept: dict[str, dict[str, str]] | None = None,
) -> Resolution:
    """Ask the config package (in its own process) to load and resolve configs. The command's
    environment and the kept values travel on the resolver's stdin (never its argv). Blocking:
    for the keeper's start, before its event loop runs (see `resolve_async`)."""
    argv, env, stdin = _resolver(settings_path, files, defaults, home, command_env, kept)
    proc = subprocess.run(
        argv, input=stdin, capture_output=True, env=env, timeout=RESOLVE_TIMEOUT, check=False
    )
    return _resolution(proc.stdout, proc.stderr)


async def resolve_async(
    settings_path: Path | None,
    files: list[str] | tuple[str, ...] = (),
    *,
    defaults: bool = False,
    home: Path | None = None,
    command_env: dict[str, str] | None = None,
    kept: dict[str, dict[str, str]] | None = None,
) -> Resolution:
    """`resolve` on the running event loop, without a thread: the resolver's output pipes are
    read by the loop, its stdin is an in-memory file (no pipe to keep fed), and the keeper's SIGCHLD
    handler reaps it (asyncio's own subprocess support would add a watcher thread that races
    that handler)."""
    argv, env, stdin = _resolver(settings_path, files, defaults, home, command_env, kept)
    # An anonymous in-memory file (not `tempfile`: its imports cost the daemon 0.75 MiB).
    feed = os.memfd_create("gridkeeper-resolve", os.MFD_CLOEXEC)
    try:
        view = memoryview(stdin)
        while view:
            view = view[os.write(feed, view) :]
        os.lseek(feed, 0, os.SEEK_SET)
        proc = subprocess.Popen(
            argv, stdin=feed, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
    finally:
        os.close(feed)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        out, err = await asyncio.wait_for(
            asyncio.gather(_read_all(proc.stdout), _read_all(proc.stderr)), RESOLVE_TIMEOUT
        )
    except TimeoutError:
        with contextlib.suppress(OSError):
            proc.kill()
        raise ConfigError(
            f"cannot resolve configs: the resolver did not finish within {RESOLVE_TIMEOUT:g}s"
        ) from None
    finally:
        proc.stdout.close()
        proc.stderr.close()
    with contextlib.suppress(OSError):
        proc.poll()  # collects it unless the SIGCHLD handler got there first (then ECHILD: 0)
    return _resolution(out, err)


async def _read_all(pipe: IO[bytes]) -> bytes:
    """Everything a child writes to `pipe`, read by the event loop until EOF."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        return await reader.read()
    finally:
        transport.close()


def check_unique(specs: list[InstanceSpec]) -> None:
    """Two instances may not share a name or a web_port (same rule as `config check`)."""
    names: dict[str, InstanceSpec] = {}
    ports: dict[int, InstanceSpec] = {}
    for spec in specs:
        if spec.name in names and names[spec.name].path != spec.path:
            raise ConfigError(
                f"duplicate instance_id {spec.name!r}: also used by {names[spec.name].path}",
                file=str(spec.path),
                loc="metadata.instance_id",
            )
        names[spec.name] = spec
        if spec.web_port is not None:
            other = ports.get(spec.web_port)
            if other is not None and other.name != spec.name:
                raise ConfigError(
                    f"duplicate web_port {spec.web_port}: also used by {other.path} ({other.name})",
                    file=str(spec.path),
                    loc="daemon_config.web_port",
                )
            ports[spec.web_port] = spec


def instance_to_wire(spec: InstanceSpec) -> dict[str, Any]:
    """The inverse of instance_from_wire (stored in state.db beside the running process)."""
    data = asdict(spec)
    data["path"] = str(spec.path)
    data["cwd"] = str(spec.cwd)
    data["argv"] = list(spec.argv)
    data["depends_on"] = list(spec.depends_on)
    data["secrets"] = list(spec.secrets)
    data["warnings"] = list(spec.warnings)
    return data
