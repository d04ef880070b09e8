"""Checks across instance files: no two instances share a name or a web_port, and every
`depends_on` names an instance of the set, without a cycle."""

from __future__ import annotations

from collections.abc import Iterable

from gridkeeper.config.instance import InstanceConfig
from gridkeeper.errors import ConfigError


def check_dependencies(configs: Iterable[InstanceConfig]) -> None:
    """Every `depends_on` names an instance of the set, and there is no cycle."""
    by_name = {c.name: c for c in configs}
    for cfg in by_name.values():
        for dep in cfg.daemon.depends_on:
            if dep not in by_name:
                raise ConfigError(
                    f"depends on {dep!r}, which is not an active instance",
                    file=str(cfg.path),
                    loc="daemon_config.depends_on",
                )
    state: dict[str, int] = {}

    def visit(name: str, chain: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*chain[chain.index(name) :], name])
            raise ConfigError(
                f"dependency cycle: {cycle}",
                file=str(by_name[name].path),
                loc="daemon_config.depends_on",
            )
        state[name] = 1
        for dep in by_name[name].daemon.depends_on:
            visit(dep, [*chain, name])
        state[name] = 2

    for name in by_name:
        visit(name, [])


def check_unique(configs: Iterable[InstanceConfig]) -> None:
    """Two instances may not share a name or a web_port."""
    names: dict[str, InstanceConfig] = {}
    ports: dict[int, InstanceConfig] = {}
    for cfg in configs:
        if cfg.name in names:
            raise ConfigError(
                f"duplicate instance_id {cfg.name!r}: also used by {names[cfg.name].path}",
                file=str(cfg.path),
                loc="metadata.instance_id",
            )
        names[cfg.name] = cfg
        port = cfg.web_port
        if port is not None:
            if port in ports:
                raise ConfigError(
                    f"duplicate web_port {port}: also used by {ports[port].path} "
                    f"({ports[port].name})",
                    file=str(cfg.path),
                    loc="daemon_config.web_port",
                )
            ports[port] = cfg
