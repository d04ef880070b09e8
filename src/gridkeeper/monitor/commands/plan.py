"""What a state-changing command would do (the preview and its choices) and doing it once
confirmed. Through `Ops` only: the keeper's socket API and the bots' control API.

A choice is `(button label, action)`; an action is `{"kind": "keeper", "op": "start"|"stop"}`
or `{"kind": "bot", "path": ..., "body": ...}`. No choices: nothing to confirm (the text says
why).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gridkeeper.monitor.commands import render
from gridkeeper.monitor.commands.ops import OpError, Ops
from gridkeeper.monitor.commands.parse import Command

MONITOR = "gridkeeper-monitor"  # the instance answering: stopping it from the chat cuts it off
Choices = dict[str, tuple[str, dict[str, Any]]]


def plan(ops: Ops, command: Command) -> tuple[str, Choices]:
    """The preview's text and its choices (label, action); no choices: nothing to confirm."""
    name = command.instance
    assert name is not None
    if command.name == "start":
        try:
            row = ops.instance(name)
        except OpError:
            raise OpError(
                f"the keeper does not know {name!r} (not loaded yet): run "
                f"`gridkeeper start {name}` on the host once; /status lists what it knows"
            ) from None
        if row.get("state") in ("running", "starting"):
            return f"{name} is already {row.get('state')}", {}
        text = f"Start {name}? (now: {row.get('state')})"
        return text, {"go": (f"Start {name}", {"kind": "keeper", "op": "start"})}
    if command.name == "stop" and name == MONITOR:
        raise OpError(
            f"{MONITOR} answers these commands: stopping it from the chat would cut "
            f"you off. Run `gridkeeper stop {MONITOR}` on the host."
        )
    row = ops.instance(name)
    state = row.get("state")
    if command.name == "stop":
        if state == "stopped":
            return f"{name} is already stopped", {}
        choices: Choices = {
            "p": ("Stop the process (orders stay)", {"kind": "keeper", "op": "stop"}),
        }
        lines = [f"Stop {name}? (now: {state})"]
        view = ops.grid_view(row)
        if view is not None:
            lines.append(render.grid_line(view))
            lines.append(
                "Stop the process: the bot saves and exits, its orders stay on the book. "
                "Stop trading: the bot stays up, stopped."
            )
            choices["c"] = (
                "Stop trading, cancel orders",
                {"kind": "bot", "path": "/api/stop", "body": {"cancel_orders": True}},
            )
            choices["f"] = (
                "Stop trading, cancel + flatten",
                {
                    "kind": "bot",
                    "path": "/api/stop",
                    "body": {"cancel_orders": True, "flatten": True},
                },
            )
        return "\n".join(lines), choices
    view = ops.grid_view(row)
    if view is None:
        raise OpError(f"{name} is not a running grid bot (state: {state})")
    if command.name in ("pause", "resume"):
        verb = command.name
        status = view.get("status")
        if verb == "pause" and status == "paused":
            return f"{name} is already paused", {}
        if verb == "resume" and status == "running":
            return f"{name} is already trading", {}
        effect = (
            "Its grid orders are cancelled; the position is kept."
            if verb == "pause"
            else "The grid is laid out again from the real position."
        )
        text = f"{verb.capitalize()} {name}?\nnow: {render.grid_line(view)}\n{effect}"
        action = {"kind": "bot", "path": f"/api/{verb}"}
        return text, {"go": (f"{verb.capitalize()} {name}", action)}
    assert command.name == "adjust" and command.lower is not None and command.upper is not None
    return _adjust_plan(ops, name, row, view, command.lower, command.upper)


def _adjust_plan(
    ops: Ops,
    name: str,
    row: dict[str, Any],
    view: dict[str, Any],
    lower: Decimal,
    upper: Decimal,
) -> tuple[str, Choices]:
    body = {"grid_lower_price": format(lower, "f"), "grid_upper_price": format(upper, "f")}
    action = {"kind": "bot", "path": "/api/grid/adjust", "body": body}
    now = f"now: {render.grid_line(view)}"
    answer = ops.bot(row, "POST", "/api/grid/adjust", {**body, "dry_run": True})
    if answer.ok and answer.body.get("dry_run") is True:
        text = render.adjust_preview(name, lower, upper, answer.body) + "\n" + now
        if answer.body.get("refused"):
            return text + "\nNothing to confirm.", {}
        return text, {"go": (f"Adjust {name}", action)}
    if answer.ok:
        # A bot that ignored dry_run has adjusted for real: say so (logged as the refusal's
        # detail), never offer it again.
        return (
            f"{name} does not support dry_run and APPLIED the change: "
            f"{render.grid_line(answer.body)}"
        ), {}
    head = f"Adjust {name} to {lower:f} - {upper:f}\n{now}"
    if answer.status in (400, 422) and "dry_run" in (str(answer.body.get("field")) + answer.error):
        return (
            f"{head}\nNo preview: the bot answered HTTP {answer.status}: {answer.error}\n"
            "Confirming applies the change unseen (the bot still checks it in full).",
            {"go": (f"Adjust {name} (no preview)", action)},
        )
    return f"{head}\nThe bot refuses it (HTTP {answer.status}): {answer.error}", {}


def execute(ops: Ops, name: str, action: dict[str, Any]) -> tuple[bool, str]:
    """Carry out a confirmed choice; (succeeded, what happened)."""
    try:
        if action["kind"] == "keeper":
            results = ops.keeper(
                action["op"],
                names=[name],
                **({"wait": True} if action["op"] == "start" else {}),
            )
            mine = [r for r in results or [] if isinstance(r, dict)]
            text = "; ".join(f"{r.get('outcome')}: {r.get('message')}" for r in mine)
            ok = bool(mine) and all(r.get("outcome") != "failed" for r in mine)
            return ok, text or "no answer"
        row = ops.instance(name)
        answer = ops.bot(row, "POST", action["path"], action.get("body"))
        if not answer.ok:
            return False, f"HTTP {answer.status}: {answer.error}"
        view = ops.grid_view(row)
        if view is None:
            return True, str(answer.body.get("status", "ok"))
        text = f"{render.grid_line(view)}, position {view.get('position')}"
        flatten_done = answer.body.get("flatten") is True
        if (
            (action.get("body") or {}).get("flatten")
            and not flatten_done
            and not _flat_or_closing(view)
        ):
            # Say it plainly rather than report a flatten that did not happen (a bot without
            # the stop options stops trading and keeps its position). A bot that flattens says
            # so in its answer (`"flatten": true`): its position may stay non-zero (a spot
            # grid keeps the inventory it started with; dust below one order stays).
            return False, (
                f"{text}: the position is not closed and no close is under way; this bot may "
                "not support flatten - close it on the host (gridkeeper grid ...)"
            )
        return True, text
    except OpError as exc:
        return False, str(exc)


def _flat_or_closing(view: dict[str, Any]) -> bool:
    if view.get("closing"):
        return True
    try:
        return Decimal(str(view.get("position") or 0)) == 0
    except ArithmeticError:
        return False
