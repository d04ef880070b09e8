"""Chaos scenarios (issue 11): a real keeper on a temp home, driven through the real CLI, with
a fault injected (SIGSTOP, a full file system, racing commands, hostile paths). Each test asserts
the rule the fault must not break (docs/reliability.md), not one symptom."""

from __future__ import annotations

from tests.integration.keeper.conftest import FAST, PROG, Project, kill_everything, project

__all__ = ["FAST", "PROG", "Project", "kill_everything", "project"]
