"""The keeper's, config's and logs' modules import each other without a cycle (TYPE_CHECKING
imports included), and the modules split out of a larger one never import it back: api.py
depends on the supervisor, never the other way round (names.py holds what both need); an
instance's parts, the journal and restore depend on what they serve, not the reverse."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGES = ("gridkeeper.keeper", "gridkeeper.config", "gridkeeper.logs")


def _graph(package: str) -> dict[str, set[str]]:
    module = importlib.import_module(package)
    folder = Path(module.__file__).parent if module.__file__ else None
    if folder is None:  # a namespace package
        folder = Path(next(iter(module.__path__)))
    modules = {p.stem: p for p in folder.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith(package + "."):
                    deps.add(node.module.removeprefix(package + ".").split(".")[0])
                elif node.module == package:
                    deps.update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(package + "."):
                        deps.add(alias.name.removeprefix(package + ".").split(".")[0])
        graph[name] = deps & set(modules) - {name}
    return graph


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(package: str) -> None:
    graph = _graph(package)
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 2:
            return
        assert state.get(node) != 1, f"import cycle: {' -> '.join([*path, node])}"
        state[node] = 1
        for dep in sorted(graph[node]):
            visit(dep, [*path, node])
        state[node] = 2

    for module in sorted(graph):
        visit(module, [])


def test_the_keeper_layers() -> None:
    graph = _graph("gridkeeper.keeper")
    assert "api" not in graph["supervisor"]
    # restore drives the supervisor (daemon.py calls it); the supervisor never calls back.
    assert "restore" not in graph["supervisor"]
    for part in ("journal", "resources"):
        assert not {"supervisor", "restore", "api"} & graph[part], part
    for part in ("instance_core", "instance_process", "instance_probes"):
        assert not {"instance", "supervisor", "journal"} & graph[part], part
    assert not {"instance_process", "instance_probes"} & graph["instance_core"]


def test_the_config_layers() -> None:
    graph = _graph("gridkeeper.config")
    for part in ("jsonfile", "crosscheck", "secret_checks"):
        assert "loader" not in graph[part], part


def test_the_logs_layers() -> None:
    graph = _graph("gridkeeper.logs")
    assert not {"sink", "sink_writer"} & graph["sink_config"]
    assert "sink" not in graph["sink_writer"]
