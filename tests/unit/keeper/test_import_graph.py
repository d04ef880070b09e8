"""The keeper's modules import each other without a cycle (TYPE_CHECKING imports included):
api.py depends on the supervisor, never the other way round (names.py holds what both need)."""

from __future__ import annotations

import ast
from pathlib import Path

import gridkeeper.keeper

PACKAGE = "gridkeeper.keeper"


def _graph() -> dict[str, set[str]]:
    folder = Path(gridkeeper.keeper.__file__).parent if gridkeeper.keeper.__file__ else None
    if folder is None:  # a namespace package
        folder = Path(next(iter(gridkeeper.keeper.__path__)))
    modules = {p.stem: p for p in folder.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith(PACKAGE + "."):
                    deps.add(node.module.removeprefix(PACKAGE + ".").split(".")[0])
                elif node.module == PACKAGE:
                    deps.update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(PACKAGE + "."):
                        deps.add(alias.name.removeprefix(PACKAGE + ".").split(".")[0])
        graph[name] = deps & set(modules) - {name}
    return graph


def test_no_import_cycle_in_the_keeper() -> None:
    graph = _graph()
    assert "api" not in graph["supervisor"]
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
