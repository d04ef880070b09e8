"""The config resolver runner the bot and the monitor share (gridkeeper/resolver.py): a real
child process; its JSON is the answer, and a failure says the last line of its stderr only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gridkeeper.resolver import ResolverFailed, run_resolver


def test_the_answer_is_the_json_the_child_prints(tmp_path: Path) -> None:
    doc = tmp_path / "doc.json"
    doc.write_text('{"a": [1, "two"]}')
    assert run_resolver("json.tool", [str(doc)]) == {"a": [1, "two"]}


def test_a_failing_child_is_its_last_stderr_line_never_its_stdout(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("secret-looking stdout is never echoed {")
    with pytest.raises(ResolverFailed) as err:
        run_resolver("json.tool", [str(bad)])
    message = str(err.value)
    assert "secret-looking" not in message and "\n" not in message and message


def test_environment_names_can_be_kept_from_the_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GK_TEST_DROPPED", "1")
    script = tmp_path / "envdump.py"
    script.write_text(
        "import json, os; print(json.dumps('GK_TEST_DROPPED' in os.environ))\n", encoding="utf-8"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert run_resolver("envdump", []) is True
    assert run_resolver("envdump", [], drop_env=("GK_TEST_DROPPED",)) is False


HOSTILE = "import pathlib; pathlib.Path({marker!r}).write_text('imported')\n"


def test_a_hostile_module_in_the_cwd_is_never_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m` puts the cwd first on sys.path; the resolver runs with -P, so a json.py in
    the operator's directory is not imported in place of the stdlib's."""
    marker = tmp_path / "imported.marker"
    for name in ("json", "decimal", "gridkeeper"):
        (tmp_path / f"{name}.py").write_text(HOSTILE.format(marker=str(marker)))
    doc = tmp_path / "doc.json"
    doc.write_text('{"a": 1}')
    monkeypatch.chdir(tmp_path)
    # The trap is real: without -P the child imports it.
    subprocess.run([sys.executable, "-m", "json.tool", str(doc)], capture_output=True, check=False)
    assert marker.exists()
    marker.unlink()
    assert run_resolver("json.tool", [str(doc)]) == {"a": 1}
    assert not marker.exists()
