"""Fault 6: a config path that is a symlink loop is one clear line naming the file, exit 2 —
never a traceback — wherever the path comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.conftest import Project


def loop(folder: Path, name: str) -> Path:
    """`name` -> `name`.b -> `name`: a two-link loop."""
    first, second = folder / name, folder / f"{name}.b"
    second.symlink_to(first.name)
    first.symlink_to(second.name)
    return first


def assert_one_clear_line(proc: object, path: Path) -> None:
    rc, err = proc.returncode, proc.stderr  # type: ignore[attr-defined]
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert path.name in lines[0] and "symlink loop" in lines[0], err


@pytest.mark.parametrize(
    "command",
    [
        ("start", "-d", "--config"),
        ("stop", "--config"),
        ("restart", "--config"),
        ("status", "--config"),
        ("config", "check"),
        ("status", "--settings"),
        ("start", "-d", "--settings"),
        ("status", "--home"),
    ],
)
def test_loop_given_on_the_command_line(project: Project, command: tuple[str, ...]) -> None:
    path = loop(project.root, "bot.json")
    assert_one_clear_line(project.gk(*command, str(path)), path)
    assert not (project.home / "keeper.pid").exists()  # refused before any keeper started


def test_loop_inside_the_active_directory(project: Project) -> None:
    path = loop(project.active, "looped.json")
    for command in (("start", "-d"), ("config", "check")):
        assert_one_clear_line(project.gk(*command), path)


def test_list_warns_about_a_looped_active_file(project: Project) -> None:
    project.instance("fine")
    path = loop(project.active, "looped.json")
    proc = project.gk("list", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{path}: symlink loop" in proc.stderr
    assert '"fine"' in proc.stdout


def test_a_config_error_on_reload_is_said_once(project: Project) -> None:
    config = project.instance("fine")
    project.gk("start", "-d", "--config", str(config), check=True)
    config.write_text('{"metadata": {"instance_id": "fine"}, "daemon_config": {"stop_timeout": 1}}')
    proc = project.gk("reload")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(config) in lines[0], proc.stderr
