"""The alert life: pending -> firing -> resolved, reminders, flapping, silences, one-shots."""

from __future__ import annotations

from gridkeeper.monitor.rules import AlertBook, Observation, Policy, Transition, fingerprint


def _obs(active: bool, **kw: object) -> Observation:
    return Observation(rule="host_cpu", subject="host", active=active, level="warning", **kw)  # type: ignore[arg-type]


def _notes(ts: list[Transition]) -> list[str]:
    return [t.kind for t in ts if t.notify]


def test_condition_fires_only_after_for_duration() -> None:
    """A condition shorter than `for` is dropped silently; a longer one fires once."""
    book = AlertBook(Policy(resolve_after=0))
    out = book.observe(_obs(True, for_seconds=30), 0)
    assert [t.kind for t in out] == ["pending"] and not _notes(out)
    out = book.observe(_obs(False), 10)
    assert [t.kind for t in out] == ["cancelled"] and not book.alerts
    book.observe(_obs(True, for_seconds=30), 20)
    assert _notes(book.tick(49)) == []
    assert _notes(book.tick(50)) == ["firing"]
    assert _notes(book.tick(51)) == []


def test_one_firing_one_resolved_and_reminders_after_repeat_interval() -> None:
    """Holding sends one message, reminders only every repeat_interval, one resolved at the end."""
    book = AlertBook(Policy(repeat_interval=100, resolve_after=5))
    notes = _notes(book.observe(_obs(True), 0))
    for t in range(1, 250):
        notes += _notes(book.observe(_obs(True), t))
    assert notes == ["firing", "reminder", "reminder"]
    notes = _notes(book.observe(_obs(False), 250))
    notes += _notes(book.tick(254))
    assert notes == []
    resolved = book.tick(255)
    assert _notes(resolved) == ["resolved"]
    assert resolved[0].alert.state == "resolved" and resolved[0].alert.resolved_at == 255
    assert not book.alerts


def test_ack_stops_reminders_but_not_the_resolved_message() -> None:
    """An acknowledged alert sends no reminders; its recovery is still announced."""
    book = AlertBook(Policy(repeat_interval=10, resolve_after=0))
    book.observe(_obs(True), 0)
    assert book.ack(fingerprint("host_cpu", "host"))
    assert _notes(book.tick(100)) == []
    assert _notes(book.observe(_obs(False), 101)) == ["resolved"]


def test_flapping_every_second_for_a_minute_is_bounded() -> None:
    """Up/down every second for a minute: one firing and, once stable, one resolved."""
    book = AlertBook(Policy(resolve_after=5, flap_window=600, flap_threshold=3))
    notes: list[str] = []
    for t in range(60):
        notes += _notes(book.observe(_obs(t % 2 == 0), float(t)))
    notes += _notes(book.tick(200))
    assert notes == ["firing", "resolved"]


def test_slow_flapping_is_damped_after_threshold() -> None:
    """Flapping slower than resolve_after: after flap_threshold firings the alert holds."""
    book = AlertBook(Policy(resolve_after=1, flap_window=600, flap_threshold=3))
    notes: list[str] = []
    t = 0.0
    for _ in range(20):  # down 5 s, up 5 s, for 200 s
        notes += _notes(book.observe(_obs(True), t))
        notes += _notes(book.tick(t + 4))
        notes += _notes(book.observe(_obs(False), t + 5))
        notes += _notes(book.tick(t + 9))
        t += 10
    assert notes.count("firing") == 3
    assert notes.count("resolved") == 2
    # Stable for a whole flap window: the last resolved message arrives.
    assert _notes(book.tick(t + 600)) == ["resolved"]


def test_silence_suppresses_firing_then_notifies_when_it_ends() -> None:
    """A silenced alert fires quietly; still firing when the silence ends, it notifies then."""
    silenced = {"on": True}
    book = AlertBook(Policy(resolve_after=0), silenced=lambda rule, subject: silenced["on"])
    out = book.observe(_obs(True), 0)
    assert [t.kind for t in out][-1] == "firing" and not _notes(out)
    silenced["on"] = False
    assert _notes(book.tick(5)) == ["firing"]
    assert _notes(book.observe(_obs(False), 6)) == ["resolved"]


def test_silenced_alert_that_resolves_under_silence_sends_nothing() -> None:
    """No resolved message for an alert the operator never heard about."""
    book = AlertBook(Policy(resolve_after=0), silenced=lambda rule, subject: True)
    book.observe(_obs(True), 0)
    out = book.observe(_obs(False), 1)
    assert [t.kind for t in out] == ["resolved"] and not _notes(out)


def test_one_shot_notifies_once_and_resolves_silently() -> None:
    """A restart notice is one message, no resolved."""
    book = AlertBook(Policy())
    out = book.observe(_obs(True, one_shot=True), 0)
    assert _notes(out) == ["firing"]
    assert [t.kind for t in out] == ["pending", "firing", "resolved"]
    assert not book.alerts


def test_observe_all_clears_subjects_not_reported() -> None:
    """A subject missing from a rule's complete picture counts as cleared."""
    book = AlertBook(Policy(resolve_after=0))
    obs_a = Observation(rule="network_down", subject="a", active=True)
    obs_b = Observation(rule="network_down", subject="b", active=True)
    book.observe_all("network_down", [obs_a, obs_b], 0)
    out = book.observe_all("network_down", [obs_a], 1)
    assert [(t.kind, t.alert.subject) for t in out if t.notify] == [("resolved", "b")]
    assert set(book.alerts) == {fingerprint("network_down", "a")}


def test_restore_keeps_a_firing_alert_quiet() -> None:
    """After a restart a restored firing alert does not notify again, and resolves once."""
    book = AlertBook(Policy(resolve_after=0, repeat_interval=1000))
    out = book.observe(_obs(True), 0)
    firing = next(t.alert for t in out if t.kind == "firing")
    book2 = AlertBook(Policy(resolve_after=0, repeat_interval=1000))
    book2.restore([firing], {firing.fingerprint: [0.0]})
    assert _notes(book2.observe(_obs(True), 10)) == []
    assert _notes(book2.observe(_obs(False), 11)) == ["resolved"]


def test_flapping_latch_holds_until_clear_for_a_whole_window() -> None:
    """Still flapping after its first firings age out of the window: no new firing messages."""
    book = AlertBook(Policy(resolve_after=1, flap_window=100, flap_threshold=3))
    notes: list[str] = []
    t = 0.0
    for _ in range(60):  # up 5 s, down 5 s, for 600 s: six flap windows
        notes += _notes(book.observe(_obs(True), t))
        notes += _notes(book.tick(t + 4))
        notes += _notes(book.observe(_obs(False), t + 5))
        notes += _notes(book.tick(t + 9))
        t += 10
    assert notes.count("firing") == 3
    assert _notes(book.tick(t + 100)) == ["resolved"]


def test_clearing_marks_the_alert_dirty_for_the_store() -> None:
    """clear_since changes with no transition; the service saves it so a restart resolves."""
    book = AlertBook(Policy(resolve_after=30))
    book.observe(_obs(True), 0)
    book.take_dirty()
    book.observe(_obs(False), 5)
    dirty = book.take_dirty()
    assert [a.clear_since for a in dirty] == [5] and book.take_dirty() == []
    book.observe(_obs(True), 6)
    assert [a.clear_since for a in book.take_dirty()] == [None]
