"""The Snapshot tab, driven as a person would: summary, diagnosis, editors, fixes, conflicts."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt

from inspector import snapshot_tab, workers
from inspector.cooldown_tab import CooldownTab, countdown
from inspector.database import Database
from inspector.formatting import format_local
from inspector.snapshot_tab import SnapshotTab
from shepherd_store import SqliteStore, StateSnapshot
from shepherd_store.events import is_uuid
from shepherd_store.simulate import SimEntry, Simulator
from shepherd_store.timefmt import parse_timestamp

NY = ZoneInfo("America/New_York")
PINNED = datetime(2026, 7, 4, 15, 20, tzinfo=NY)
ENTRIES = (SimEntry("minecraft", "Minecraft", 0, 1800, 3600, 3.0),
           SimEntry("tuxmath", "Tux Math", 2700, 900, 1800, 2.0))
REPO = Path(__file__).resolve().parent.parent
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?"
                     r"(Z|[+-]\d\d:\d\d)")


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tab's clock (countdown, diagnosis) reads PINNED, matching the simulated data."""
    monkeypatch.setattr(snapshot_tab, "local_now", lambda: PINNED.astimezone())


def build(path: Path, scenario: str) -> Path:
    """A simulated database whose snapshot is `active`, `stale`, `crashed` or `idle`."""
    with SqliteStore.open(path) as store:
        wall = PINNED - (timedelta(minutes=20) if scenario == "active" else timedelta(hours=2))
        sim = Simulator(store, seed=3, entries=ENTRIES, tz=NY, wall_clock=lambda: wall)
        sim.write_history(3, end=wall - timedelta(hours=3))
        if scenario == "active":
            sim.start_session("minecraft")
        elif scenario == "stale":
            sim.start_session("minecraft")
            stale = store.load_snapshot()
            sim.finish_session()
            assert stale is not None
            store.save_snapshot(stale)
        elif scenario == "crashed":
            sim.crash_mid_session("minecraft")
    return path


@pytest.fixture
def open_db() -> Iterator[Any]:
    opened: list[Database] = []

    def open_(path: Path, **kw: Any) -> Database:
        db = Database(poll_ms=50)
        db.open(path, **kw)
        opened.append(db)
        return db

    yield open_
    workers.wait_all()
    for db in opened:
        db.close()


def make_tab(qtbot: Any, db: Database) -> SnapshotTab:
    tab = SnapshotTab(db)
    qtbot.addWidget(tab)
    tab.resize(1280, 800)
    tab.show()
    qtbot.waitUntil(lambda: tab.state is not None, timeout=5000)
    workers.wait_all()
    qtbot.waitUntil(lambda: bool(db.labels), timeout=5000)
    tab._show_summary()
    return tab


def stored_text(path: Path) -> str | None:
    with SqliteStore.open(path, read_only=True) as store:
        return store.load_snapshot_text()


def overrides(path: Path) -> list[Any]:
    with SqliteStore.open(path, read_only=True) as store:
        return store.list_overrides()


def answer(tab: Any, name: str, *values: Any) -> list[Any]:
    """Script the answers of one of the tab's questions; returns what it was asked."""
    asked: list[Any] = []
    it = iter(values)

    def reply(*args: Any) -> Any:
        asked.append(args[0] if len(args) == 1 else args)
        return next(it)

    setattr(tab, name, reply)
    return asked


def codes(tab: SnapshotTab) -> list[str]:
    return [f.code for f in tab.findings.findings]


# --- what it shows -----------------------------------------------------------------------


def test_active_session_summary_and_live_countdown(qtbot: Any, tmp_path: Path,
                                                   open_db: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    db = open_db(build(tmp_path / "a.db", "active"))
    tab = make_tab(qtbot, db)
    snap = tab.state.snapshot if tab.state else None
    assert snap is not None and snap.active_session is not None
    s = snap.active_session
    assert tab.objectName() == "snapshotPane"
    assert tab.headline.text() == "Active session: Minecraft"
    assert tab.fields["entry"].text() == "Minecraft (minecraft)"
    assert tab.fields["session"].text().startswith(s.session_id)
    assert tab.fields["started"].text() == format_local(s.started_at)
    assert tab.fields["deadline"].text().startswith(format_local(s.deadline))
    assert tab.fields["warnings"].text() == "none"
    assert codes(tab) == ["session_running"]
    left = s.deadline - PINNED
    assert tab.fields["left"].text() == countdown(left) + " left"
    # the timer only repaints: one second later, one second less, no reads
    assert db.store is not None
    monkeypatch.setattr(db.store, "load_snapshot_text", lambda: pytest.fail("read on tick"))
    monkeypatch.setattr(snapshot_tab, "local_now", lambda: PINNED + timedelta(seconds=1))
    tab._tick()
    assert tab.fields["left"].text() == countdown(left - timedelta(seconds=1)) \
        + " left"
    assert tab._timer.interval() == 1000 and tab._timer.isActive()


def test_unreadable_snapshot_shows_the_raw_text(qtbot: Any, tmp_path: Path,
                                                open_db: Any) -> None:
    path = tmp_path / "bad.db"
    SqliteStore.open(path).close()
    raw = '{"timestamp":"2026-07-04 14:00:00","active_session":"<b>boom</b>"}'
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO snapshot (id, data) VALUES (1, ?)", (raw,))
    conn.commit()
    conn.close()
    db = open_db(path)
    tab = SnapshotTab(db)  # (no labels to wait for: the log is empty)
    qtbot.addWidget(tab)
    qtbot.waitUntil(lambda: tab.state is not None, timeout=5000)
    assert tab.headline.text() == "The snapshot cannot be read"
    assert tab.raw_view.isVisibleTo(tab)
    assert "<b>boom</b>" in tab.raw_view.toPlainText()
    assert codes(tab) == ["snapshot_unreadable"]
    assert tab.headline.textFormat() == Qt.TextFormat.PlainText
    assert json.loads(tab.raw_edit.toPlainText()) == json.loads(raw)  # the stored text
    # the suggested fix deletes it
    asked = answer(tab, "confirm", True)
    tab.findings_table.selectRow(0)
    with qtbot.waitSignal(tab.written, timeout=5000):
        tab.apply_fix.click()
    assert "unreadable snapshot" in asked[0]
    assert stored_text(path) is None
    (record,) = overrides(path)
    assert (record.change.what, record.change.previous, record.change.new) == (
        "snapshot", raw, None)


def test_labels_from_the_database_stay_plain_text(qtbot: Any, tmp_path: Path,
                                                  open_db: Any) -> None:
    path = build(tmp_path / "a.db", "active")
    with SqliteStore.open(path) as store:
        snap = store.load_snapshot()
        assert snap is not None and snap.active_session is not None
        from dataclasses import replace
        store.save_snapshot(replace(snap, active_session=replace(
            snap.active_session, entry_id="<img src=x><b>x</b>")))
    tab = make_tab(qtbot, open_db(path))
    assert "<img src=x><b>x</b>" in tab.headline.text()
    for label in [tab.headline, tab.verdict, *tab.fields.values()]:
        assert label.textFormat() == Qt.TextFormat.PlainText


# --- the one-click fixes -----------------------------------------------------------------


def test_clear_the_active_session_of_a_stale_snapshot(qtbot: Any, tmp_path: Path,
                                                      open_db: Any) -> None:
    path = build(tmp_path / "s.db", "stale")
    before = stored_text(path)
    tab = make_tab(qtbot, open_db(path))
    assert codes(tab) == ["session_already_ended"]
    assert tab.apply_fix.isEnabled() and "Clear the active session" in tab.apply_fix.text()
    asked = answer(tab, "confirm", True)
    with qtbot.waitSignal(tab.written, timeout=5000):
        tab.apply_fix.click()
    assert "with Minecraft running" in asked[0]
    after = stored_text(path)
    assert after is not None and json.loads(after)["active_session"] is None
    (record,) = overrides(path)
    assert (record.change.previous, record.change.new) == (before, after)
    qtbot.waitUntil(lambda: tab.headline.text() == "No session running", timeout=5000)
    assert codes(tab) == ["no_active_session"]


def test_delete_the_snapshot(qtbot: Any, tmp_path: Path, open_db: Any) -> None:
    path = build(tmp_path / "c.db", "crashed")
    tab = make_tab(qtbot, open_db(path))
    answer(tab, "confirm", False)  # cancelled: nothing happens
    tab.delete_button.click()
    assert stored_text(path) is not None
    asked = answer(tab, "confirm", True)
    with qtbot.waitSignal(tab.written, timeout=5000):
        tab.delete_button.click()
    assert "will be deleted" in asked[0]
    assert stored_text(path) is None
    qtbot.waitUntil(lambda: tab.headline.text() == "No snapshot saved", timeout=5000)
    assert not tab.delete_button.isEnabled() and not tab.clear_button.isEnabled()
    # nothing left to show or edit: one honest line instead of the editor
    assert not tab.present and tab.absent.text() == snapshot_tab.NO_SNAPSHOT_TEXT
    assert tab.absent.isVisibleTo(tab) and not tab.split.isVisibleTo(tab)


def test_without_a_snapshot_it_says_the_service_never_saves_one(qtbot: Any, seed_path: Path,
                                                                open_db: Any) -> None:
    db = open_db(seed_path, read_only=True)
    tab = SnapshotTab(db)
    qtbot.addWidget(tab)
    tab.show()
    qtbot.waitUntil(lambda: tab.state is not None, timeout=5000)
    assert not tab.present
    assert tab.absent.text() == snapshot_tab.NO_SNAPSHOT_TEXT
    assert tab.absent.isVisibleTo(tab) and not tab.split.isVisibleTo(tab)
    assert not tab.notice.isVisibleTo(tab)  # nothing to edit: no read-only complaint
    assert tab.state is not None
    (finding,) = tab.state.findings
    assert finding.code == "no_snapshot"
    assert "never saves one" in finding.explanation
    assert "while a session runs" not in finding.explanation
    assert "the shipped service never saves one" in tab.fields["saved"].text()


def test_add_the_unaccounted_minutes(qtbot: Any, tmp_path: Path, open_db: Any) -> None:
    path = build(tmp_path / "c.db", "crashed")
    tab = make_tab(qtbot, open_db(path))
    assert codes(tab) == ["unaccounted_usage", "deadline_passed_while_down"]
    gap = tab.state.gap if tab.state else None
    assert gap is not None and gap.max_seconds == 3600
    with SqliteStore.open(path, read_only=True) as store:
        before = store.get_usage("minecraft", gap.day)
    asked_minutes = answer(tab, "ask_usage_minutes", 25)
    asked = answer(tab, "confirm", True)
    assert tab.usage_button.isEnabled()
    with qtbot.waitSignal(tab.written, timeout=5000):
        tab.usage_button.click()
    assert asked_minutes[0][0] == gap
    assert f"Add 25 min to Minecraft's usage on {gap.day}" in asked[0]
    with SqliteStore.open(path, read_only=True) as store:
        assert store.get_usage("minecraft", gap.day) == before + timedelta(minutes=25)
    (record,) = overrides(path)
    assert record.change.what == "usage" and gap.session_id in (record.change.new or "")
    qtbot.waitUntil(lambda: "usage_added_by_hand" in codes(tab), timeout=5000)
    assert not tab.usage_button.isEnabled()
    assert snapshot_tab.default_minutes(gap) == 60


# --- the editors -------------------------------------------------------------------------


def test_form_edit_previews_then_saves(qtbot: Any, tmp_path: Path, open_db: Any) -> None:
    path = build(tmp_path / "a.db", "active")
    before = stored_text(path)
    assert before is not None
    tab = make_tab(qtbot, open_db(path))
    assert not tab.save_button.isEnabled()
    tab.form_warnings.setFocus()
    qtbot.keyClicks(tab.form_warnings, "300")
    assert "✓" in tab.validation.text()
    assert json.loads(tab.raw_edit.toPlainText())["active_session"]["warnings_issued"] == [300]
    preview = tab.preview.toPlainText()
    assert "--- stored now" in preview and "+++ after saving" in preview
    assert '+    "warnings_issued": [\n+      300\n+    ]' in preview
    assert tab.save_button.isEnabled()
    asked = answer(tab, "confirm", True)
    with qtbot.waitSignal(tab.written, timeout=5000):
        qtbot.keyClick(tab.form_warnings, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert "+      300" in asked[0]
    after = stored_text(path)
    assert after is not None
    old, new = json.loads(before), json.loads(after)
    assert new["active_session"]["warnings_issued"] == [300]
    # untouched fields keep their exact stored text (offset and fraction)
    assert new["active_session"]["started_at"] == old["active_session"]["started_at"]
    assert new["timestamp"] == old["timestamp"]


def test_raw_json_is_validated_live(qtbot: Any, tmp_path: Path, open_db: Any) -> None:
    path = build(tmp_path / "a.db", "active")
    tab = make_tab(qtbot, open_db(path))
    obj = json.loads(tab.raw_edit.toPlainText())
    obj["active_session"]["deadline"] = None
    tab.raw_edit.setPlainText(json.dumps(obj))
    assert tab.validation.text().startswith("✗ Cannot be saved")
    assert "deadline" in tab.validation.text()
    assert not tab.save_button.isEnabled()
    obj["active_session"]["deadline"] = "2026-07-04 16:00:00"  # no offset: unreadable
    tab.raw_edit.setPlainText(json.dumps(obj))
    assert not tab.save_button.isEnabled()
    obj["active_session"]["deadline"] = "2026-07-04T16:00:00-04:00"
    obj["active_session"]["entry_id"] = "tuxmath"
    tab.raw_edit.setPlainText(json.dumps(obj))
    assert "✓" in tab.validation.text()
    assert tab.form_entry.text() == "tuxmath"  # the form follows the JSON
    assert tab.form_deadline.dateTime().toSecsSinceEpoch() == int(
        datetime(2026, 7, 4, 16, 0, tzinfo=NY).timestamp())
    answer(tab, "confirm", True)
    with qtbot.waitSignal(tab.written, timeout=5000):
        tab.save_button.click()
    stored = json.loads(stored_text(path) or "")
    assert stored["active_session"]["entry_id"] == "tuxmath"
    assert stored["active_session"]["deadline"] == "2026-07-04T16:00:00-04:00"
    # untick "a session is running": an idle snapshot
    qtbot.waitUntil(lambda: not tab.editor.dirty and tab.form_entry.text() == "tuxmath",
                    timeout=5000)
    tab.form_has_session.click()
    assert json.loads(tab.raw_edit.toPlainText())["active_session"] is None
    assert not tab.form_entry.isEnabled()


def test_revert_drops_the_edit(qtbot: Any, tmp_path: Path, open_db: Any) -> None:
    path = build(tmp_path / "a.db", "active")
    tab = make_tab(qtbot, open_db(path))
    original = tab.raw_edit.toPlainText()
    qtbot.keyClicks(tab.form_entry, "x")
    assert tab.revert_button.isEnabled() and tab.raw_edit.toPlainText() != original
    tab.revert_button.click()
    assert tab.raw_edit.toPlainText() == original
    assert not tab.save_button.isEnabled()


# --- concurrency -------------------------------------------------------------------------

SERVICE_SAVES = """
import sys
from shepherd_store import SqliteStore, decode_snapshot
with SqliteStore.open(sys.argv[1]) as store:
    store.save_snapshot(decode_snapshot(sys.argv[2]))
"""


@pytest.mark.parametrize("decide_again", [False, True])
def test_a_snapshot_saved_meanwhile_is_never_overwritten(qtbot: Any, tmp_path: Path,
                                                         open_db: Any,
                                                         decide_again: bool) -> None:
    path = build(tmp_path / "a.db", "active")
    db = open_db(path)
    tab = make_tab(qtbot, db)
    snap = tab.state.snapshot if tab.state else None
    assert snap is not None and snap.active_session is not None
    from dataclasses import replace
    service = replace(snap, timestamp=snap.timestamp + timedelta(minutes=5),
                      active_session=replace(snap.active_session, warnings_issued=(300,)))
    from shepherd_store import encode_snapshot
    service_text = encode_snapshot(service)
    asked: list[str] = []
    conflicts: list[str] = []

    def confirm(text: str) -> bool:
        asked.append(text)
        if len(asked) == 1:  # the service saves between display and confirm
            subprocess.run([sys.executable, "-c", SERVICE_SAVES, str(path), service_text],
                           check=True, cwd=REPO, timeout=30)
        return True

    def decide(text: str) -> bool:
        conflicts.append(text)
        return decide_again

    tab.confirm = confirm  # type: ignore[method-assign]
    tab.decide_conflict = decide  # type: ignore[method-assign]
    tab.clear_button.click()
    assert len(conflicts) == 1
    assert '"warnings_issued": [\n      300' in conflicts[0]  # the new value, in full
    if not decide_again:
        assert stored_text(path) == service_text
        assert overrides(path) == []
        assert tab.raw_edit.toPlainText() == snapshot_tab.pretty(service_text)
    else:
        assert len(asked) == 2
        stored = json.loads(stored_text(path) or "")
        assert stored["active_session"] is None
        (record,) = overrides(path)
        assert record.change.previous == service_text


def test_edits_survive_a_refresh_and_then_conflict(qtbot: Any, tmp_path: Path,
                                                   open_db: Any) -> None:
    path = build(tmp_path / "a.db", "active")
    db = open_db(path)
    tab = make_tab(qtbot, db)
    qtbot.keyClicks(tab.form_warnings, "60")
    edited = tab.raw_edit.toPlainText()
    snap = tab.state.snapshot if tab.state else None
    assert snap is not None
    with SqliteStore.open(path) as store:  # the service saves a new snapshot
        store.save_snapshot(StateSnapshot(snap.timestamp + timedelta(minutes=1),
                                          snap.active_session))
    db.check_now()
    qtbot.waitUntil(lambda: "while you were editing" in tab.notice.text(), timeout=5000)
    assert tab.raw_edit.toPlainText() == edited  # the person's edit is kept
    conflicts = answer(tab, "decide_conflict", False)
    answer(tab, "confirm", True)
    tab.save_button.click()
    assert len(conflicts) == 1
    assert json.loads(stored_text(path) or "")["active_session"]["warnings_issued"] == []


# --- read-only ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["choice", "permissions"])
def test_read_only_disables_every_edit(qtbot: Any, tmp_path: Path, open_db: Any,
                                       monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    path = build(tmp_path / "c.db", "crashed")
    if how == "permissions":
        path.chmod(0o444)
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if (
            mode == os.W_OK and Path(p) == path) else real(p, mode, **kw))
    db = open_db(path, read_only=how == "choice")
    before = path.read_bytes()
    tab = make_tab(qtbot, db)
    tab.findings_table.selectRow(0)
    reason = "read-only mode" if how == "choice" else "not writable"
    for button in (tab.clear_button, tab.delete_button, tab.usage_button, tab.save_button,
                   tab.apply_fix):
        assert not button.isEnabled(), button.objectName()
        assert reason in button.toolTip() and "owner" in button.toolTip()
    assert tab.raw_edit.isReadOnly() and not tab.form_entry.isEnabled()
    assert reason in tab.notice.text()
    tab.confirm = lambda text: pytest.fail("asked while read-only")  # type: ignore
    tab.ask_usage_minutes = lambda *a: pytest.fail("asked")  # type: ignore
    assert not tab.clear_session() and not tab.delete() and not tab.add_unaccounted()
    assert path.read_bytes() == before
    path.chmod(0o644)


# --- the Rust layout: what the daemon reads, exactly --------------------------------------


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_edits_of_a_rust_copy_keep_the_daemons_formats(qtbot: Any, rust_copy: Path,
                                                       open_db: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    schema = rows(rust_copy, "SELECT name, sql FROM sqlite_master ORDER BY name")
    audit = rows(rust_copy, "SELECT * FROM audit_log")
    db = open_db(rust_copy)
    monkeypatch.setattr(snapshot_tab, "local_now",
                        lambda: datetime(2026, 11, 26, 12, 0, tzinfo=NY))
    # cooldowns: extend one, set another, clear a third
    cool = CooldownTab(db)
    qtbot.addWidget(cool)
    qtbot.waitUntil(lambda: cool.model.rowCount() == 3, timeout=5000)
    cool.confirm = lambda text: True  # type: ignore[method-assign]
    cool.select_entries(["minecraft"])
    with qtbot.waitSignal(cool.written, timeout=5000):
        cool.buttons["extend15Button"].click()
    cool.select_entries(["scummvm-puttputt"])
    cool.ask_until = lambda initial: datetime(2030, 1, 2, 3, 4, 5, 600000,  # type: ignore
                                              tzinfo=NY)
    with qtbot.waitSignal(cool.written, timeout=5000):
        cool.buttons["addCooldownButton"].click()
    cool.select_entries(["tuxmath"])
    with qtbot.waitSignal(cool.written, timeout=5000):
        cool.buttons["clearCooldownButton"].click()
    # snapshot: add the lost minutes, edit the warnings in the form, save
    tab = make_tab(qtbot, db)
    assert "unaccounted_usage" in codes(tab)
    tab.confirm = lambda text: True  # type: ignore[method-assign]
    tab.ask_usage_minutes = lambda gap, label: 11  # type: ignore[method-assign]
    with qtbot.waitSignal(tab.written, timeout=5000):
        tab.usage_button.click()
    qtbot.waitUntil(lambda: "usage_added_by_hand" in codes(tab), timeout=5000)
    tab.form_warnings.clear()
    qtbot.keyClicks(tab.form_warnings, "300 60")
    with qtbot.waitSignal(tab.written, timeout=5000):
        tab.save_button.click()

    # The raw rows, as the daemon will read them.
    assert rows(rust_copy, "SELECT * FROM audit_log") == audit  # no new event types
    new_schema = rows(rust_copy, "SELECT name, sql FROM sqlite_master ORDER BY name")
    assert [r for r in new_schema if r[0] != "inspector_overrides"] == schema
    assert rows(rust_copy, "PRAGMA journal_mode") == [("delete",)]
    assert rows(rust_copy, "PRAGMA user_version") == [(0,)]
    cooldowns = dict(rows(rust_copy, "SELECT entry_id, until FROM cooldowns"))
    assert set(cooldowns) == {"minecraft", "scummvm-puttputt"}
    for text in cooldowns.values():
        assert RFC3339.fullmatch(text), text
    assert cooldowns["minecraft"] == "2030-07-04T16:00:30.250000-04:00"
    assert cooldowns["scummvm-puttputt"] == "2030-01-02T03:04:05.600000-05:00"
    for _entry, day, secs, kind in rows(rust_copy, "SELECT entry_id, day, duration_secs, "
                                                  "typeof(duration_secs) FROM usage"):
        assert kind == "integer" and secs >= 0 and re.fullmatch(r"\d{4}-\d\d-\d\d", day)
    assert rows(rust_copy, "SELECT duration_secs FROM usage WHERE entry_id = 'minecraft' "
                           "AND day = '2026-07-04'") == [(660,)]
    ((snap_text,),) = rows(rust_copy, "SELECT snapshot_json FROM snapshot")
    assert snap_text == (
        '{"timestamp":"2026-07-04T14:10:30.250000-04:00","active_session":{'
        '"session_id":"33333333-3333-4333-8333-333333333333","entry_id":"minecraft",'
        '"started_at":"2026-07-04T14:00:00-04:00","deadline":"2026-07-04T15:00:00-04:00",'
        '"warnings_issued":[300,60]}}')
    obj = json.loads(snap_text)
    session = obj["active_session"]
    for key in ("started_at", "deadline"):
        assert RFC3339.fullmatch(session[key])
    assert RFC3339.fullmatch(obj["timestamp"]) and is_uuid(session["session_id"])
    parse_timestamp(session["deadline"])
    side = [json.loads(t) for (t,) in rows(rust_copy, "SELECT event_json FROM "
                                                      "inspector_overrides ORDER BY id")]
    assert [s["what"] for s in side] == ["cooldown", "cooldown", "cooldown", "usage",
                                         "snapshot"]
    assert all(s["type"] == "manual_override" and s["user"] for s in side)
