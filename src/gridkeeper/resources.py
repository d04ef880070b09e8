"""The config files the package ships: the settings template, the paper exchange's markets, the
grid templates and the demo instances.

In a wheel they are package data (`gridkeeper/data/config`, copied from the repository's
`config/` at build time, see pyproject.toml); in a checkout (editable install) they are the
repository's own `config/`, so there is one copy to edit. Read through importlib.resources so a
zipped install works too.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from gridkeeper.errors import GridkeeperError

DEMO_FILES = (
    "daemon_config.json",
    "paper_exchange.json",
    "active/paper_exchange.json",
    "active/paper_sol_spot_grid.json",
    "active/paper_sol_perp_grid.json",
)


class ResourceError(GridkeeperError):
    """The installation lacks its packaged config files (a broken build)."""


def config_tree() -> Traversable:
    """The packaged `config/` directory."""
    packaged = resources.files("gridkeeper") / "data" / "config"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "config"
    if (checkout / "daemon_config.json").is_file():
        return checkout
    raise ResourceError(
        "the packaged config files are missing (gridkeeper/data/config); reinstall gridkeeper"
    )


def config_file(relative: str) -> Traversable:
    """One packaged file, e.g. `templates/backpack_sol_spot_grid.json`."""
    node = config_tree()
    for part in relative.split("/"):
        node = node / part
    if not node.is_file():
        raise ResourceError(f"packaged config file {relative} is missing; reinstall gridkeeper")
    return node


def walk(node: Traversable | None = None, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    """(relative path, file) for every packaged config file, sorted."""
    node = config_tree() if node is None else node
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name.startswith((".", "__")):
            continue
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            yield from walk(child, rel + "/")
        elif child.name.endswith(".json"):
            yield rel, child


def install_demo(target: Path) -> Path:
    """Write the demo config tree into `target` (files already identical are left alone) and
    return its settings file. The demo is ours: a stale copy from an older version is replaced."""
    for rel in DEMO_FILES:
        data = config_file(rel).read_bytes()
        dest = target / rel
        if dest.is_file() and dest.read_bytes() == data:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(dest)
    return target / "daemon_config.json"
