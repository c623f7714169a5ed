"""The Cooldowns tab, driven as a person would: each action, conflicts, read-only."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from inspector import workers
from inspector.cooldown_logic import when_text
from inspector.cooldown_tab import (
    COL_CONFIGURED,
    COL_ENTRY,
    COL_REMAINING,
    COL_STATUS,
    COL_UNTIL,
    CooldownTab,
    countdown,
)
from inspector.database import Database
from inspector.formatting import format_local
from shepherd_store import AuditEvent, SessionStarted, SqliteStore
from shepherd_store.overrides import cooldown_text
from shepherd_store.policy import Policy, PolicyEntry
from shepherd_store.timefmt import format_timestamp, local_now, parse_timestamp

REPO = Path(__file__).resolve().parent.parent
SID = "44444444-4444-4444-8444-444444444444"


def now_s() -> datetime:
    return local_now().replace(microsecond=0)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Entries from every source: cooldowns (active, expired, unreadable), usage, the log."""
    path = tmp_path / "cool.db"
    now = now_s()
    with SqliteStore.open(path) as store:
        store.set_cooldown_until("minecraft", now + timedelta(minutes=45))
        store.set_cooldown_until("tuxmath", now - timedelta(hours=2))
        store.add_usage("gcompris", now.date(), timedelta(minutes=20))
        store.append_audit(AuditEvent.new(SessionStarted(
            session_id=SID, entry_id="minecraft", label="Minecraft", deadline=None)))
        store.append_audit(AuditEvent.new(SessionStarted(
            session_id=SID, entry_id="krita", label="<b>Krita</b> <img src=x>", deadline=None)))
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO cooldowns VALUES ('broken', '2026-11-26 12:00:00')")
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = Database(poll_ms=50)
    database.open(db_path)
    yield database
    workers.wait_all()
    database.close()


def make_tab(qtbot: Any, db: Database) -> CooldownTab:
    tab = CooldownTab(db)
    qtbot.addWidget(tab)
    tab.resize(1280, 800)
    tab.show()
    qtbot.waitUntil(lambda: tab.model.rowCount() > 0, timeout=5000)
    workers.wait_all()
    qtbot.waitUntil(lambda: "Krita" in str(tab.db.labels.get("krita")), timeout=5000)
    return tab


def cell(tab: CooldownTab, entry: str, col: int) -> str:
    row = tab.model.row_of(entry)
    assert row is not None, entry
    return str(tab.model.index(row, col).data())


def stored(path: Path, entry: str) -> str | None:
    with SqliteStore.open(path, read_only=True) as store:
        return cooldown_text(store, entry)


def overrides(path: Path) -> list[Any]:
    with SqliteStore.open(path, read_only=True) as store:
        return store.list_overrides()


class Answers:
    """Scripted answers to the tab's questions; records what it asked."""

    def __init__(self, tab: CooldownTab, *, confirm: bool = True) -> None:
        self.asked: list[str] = []
        self.answer = confirm
        tab.confirm = self.confirm  # type: ignore[method-assign]

    def confirm(self, text: str) -> bool:
        self.asked.append(text)
        return self.answer


def wait_reloaded(qtbot: Any, tab: CooldownTab) -> None:
    with qtbot.waitSignal(tab.loaded, timeout=5000):
        tab.reload()


# --- what it shows -----------------------------------------------------------------------


def test_every_entry_with_its_cooldown(qtbot: Any, db: Database) -> None:
    db.set_policy(Policy("policy.toml", {
        "minecraft": PolicyEntry("minecraft", "Minecraft", cooldown_seconds=1800),
        "supertuxkart": PolicyEntry("supertuxkart", "SuperTuxKart")}))
    tab = make_tab(qtbot, db)
    wait_reloaded(qtbot, tab)
    entries = [r.entry_id for r in tab.model.rows]  # by name, as shown (markup as text)
    assert entries == ["krita", "broken", "gcompris", "minecraft", "supertuxkart", "tuxmath"]
    assert tab.table.objectName() == "cooldownTable"
    assert cell(tab, "minecraft", COL_ENTRY) == "Minecraft (minecraft)"
    assert cell(tab, "minecraft", COL_STATUS) == "active"
    assert cell(tab, "minecraft", COL_REMAINING).startswith(("44 min", "45 min"))
    assert cell(tab, "minecraft", COL_CONFIGURED) == "30 min"
    assert cell(tab, "supertuxkart", COL_CONFIGURED) == "none"
    assert cell(tab, "gcompris", COL_CONFIGURED) == "—"
    assert cell(tab, "gcompris", COL_STATUS) == "none"
    assert cell(tab, "tuxmath", COL_STATUS) == "expired"
    assert cell(tab, "tuxmath", COL_REMAINING) == "—"
    assert cell(tab, "broken", COL_STATUS) == "unreadable"
    assert "2026-11-26 12:00:00" in cell(tab, "broken", COL_UNTIL)
    until = parse_timestamp(stored(db.path, "minecraft"))  # type: ignore[arg-type]
    assert cell(tab, "minecraft", COL_UNTIL) == format_local(until)  # local time
    # database text is shown as it is, never as markup
    assert cell(tab, "krita", COL_ENTRY) == "<b>Krita</b> <img src=x> (krita)"
    row = tab.model.row_of("krita")
    assert row is not None
    tip = str(tab.model.index(row, COL_ENTRY).data(Qt.ItemDataRole.ToolTipRole))
    assert "&lt;b&gt;Krita" in tip and "<b>Krita" not in tip


def test_the_countdown_ticks_without_reading(qtbot: Any, db: Database,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    tab = make_tab(qtbot, db)
    assert tab._timer.isActive() and tab._timer.interval() == 1000
    until = tab.model.rows[tab.model.row_of("minecraft") or 0].until
    assert until is not None
    assert db.store is not None
    for name in ("all_cooldowns", "known_entries", "find_audits", "entry_labels"):
        monkeypatch.setattr(db.store, name, lambda *a, **k: pytest.fail("read on a tick"))
    tab.model.tick(until - timedelta(minutes=10, seconds=5))
    assert cell(tab, "minecraft", COL_REMAINING) == "10 min 05 s"
    tab.model.tick(until - timedelta(minutes=10, seconds=4))
    assert cell(tab, "minecraft", COL_REMAINING) == "10 min 04 s"
    tab.model.tick(until + timedelta(seconds=1))
    assert cell(tab, "minecraft", COL_STATUS) == "expired"
    with qtbot.waitSignal(tab._timer.timeout, timeout=3000):
        pass  # the real 1 s timer ticks too (a read in it fails the test)...
    assert abs(tab.model.now - local_now()) < timedelta(seconds=2)  # ...moving to the real clock
    assert cell(tab, "minecraft", COL_STATUS) != "expired"


def test_countdown_format() -> None:
    assert countdown(timedelta(seconds=9)) == "9 s"
    assert countdown(timedelta(minutes=2, seconds=3)) == "2 min 03 s"
    assert countdown(timedelta(hours=25, minutes=1)) == "25 h 01 min 00 s"
    assert countdown(timedelta(days=1316, hours=6)) == "1,316 days 6 h"
    assert countdown(timedelta(seconds=-5)) == "0 s"


# --- the actions -------------------------------------------------------------------------


def test_clear_now_with_the_delete_key(qtbot: Any, db: Database) -> None:
    tab = make_tab(qtbot, db)
    old = parse_timestamp(stored(db.path, "minecraft"))  # type: ignore[arg-type]
    tab.select_entries(["minecraft"])
    answers = Answers(tab)
    tab.table.setFocus()
    with qtbot.waitSignal(tab.written, timeout=5000):
        qtbot.keyClick(tab.table, Qt.Key.Key_Delete)
    assert answers.asked[0].startswith(
        f"Minecraft will be available again now instead of at {when_text(old, local_now())}.")
    assert stored(db.path, "minecraft") is None
    (record,) = overrides(db.path)
    assert (record.change.what, record.change.entry_id, record.change.new) == (
        "cooldown", "minecraft", None)
    assert record.change.previous == format_timestamp(old)
    assert record.change.user
    qtbot.waitUntil(lambda: cell(tab, "minecraft", COL_STATUS) == "none", timeout=5000)
    qtbot.waitUntil(lambda: "Last manual change" in tab.detail.toPlainText(), timeout=5000)
    detail = tab.detail.toPlainText()
    assert detail.startswith("Minecraft (minecraft)\n  Available: no cooldown.")
    assert f"{record.change.user}, " in detail and f"{record.change.previous} → none" in detail


def test_cancelling_writes_nothing(qtbot: Any, db: Database) -> None:
    tab = make_tab(qtbot, db)
    before = stored(db.path, "minecraft")
    tab.select_entries(["minecraft"])
    answers = Answers(tab, confirm=False)
    tab.buttons["clearCooldownButton"].click()
    assert len(answers.asked) == 1
    assert stored(db.path, "minecraft") == before
    assert overrides(db.path) == []


@pytest.mark.parametrize("minutes", [5, 15, 30])
def test_extend_by_fixed_amounts(qtbot: Any, db: Database, minutes: int) -> None:
    tab = make_tab(qtbot, db)
    old = parse_timestamp(stored(db.path, "minecraft"))  # type: ignore[arg-type]
    tab.select_entries(["minecraft", "gcompris"])
    answers = Answers(tab)
    with qtbot.waitSignal(tab.written, timeout=5000):
        tab.buttons[f"extend{minutes}Button"].click()
    new = parse_timestamp(stored(db.path, "minecraft"))  # type: ignore[arg-type]
    assert new == old + timedelta(minutes=minutes)
    added = parse_timestamp(stored(db.path, "gcompris"))  # type: ignore[arg-type]
    assert abs(added - (local_now() + timedelta(minutes=minutes))) < timedelta(seconds=10)
    text = answers.asked[0]
    # The time alone when it is today, with its date when it is another day (any hour).
    now = local_now()
    assert f"Minecraft will be available again at {when_text(new, now)} instead of at " \
           f"{when_text(old, now)}." in text
    assert "gcompris will be available again at" in text
    assert "instead of now (it has no cooldown running)" in text
    assert len(overrides(db.path)) == 2  # one transaction, two traces


def test_extend_by_a_custom_amount(qtbot: Any, db: Database,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    tab = make_tab(qtbot, db)
    old = parse_timestamp(stored(db.path, "minecraft"))  # type: ignore[arg-type]
    tab.select_entries(["minecraft"])
    monkeypatch.setattr(tab, "ask_minutes", lambda: 42)
    Answers(tab)
    with qtbot.waitSignal(tab.written, timeout=5000):
        tab.buttons["extendCustomButton"].click()
    assert parse_timestamp(stored(db.path, "minecraft")) == old + timedelta(minutes=42)
    monkeypatch.setattr(tab, "ask_minutes", lambda: None)  # cancelled: nothing asked
    answers = Answers(tab)
    tab.buttons["extendCustomButton"].click()
    assert answers.asked == []


def test_set_until_a_picked_local_time(qtbot: Any, db: Database,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    tab = make_tab(qtbot, db)
    tab.select_entries(["tuxmath"])
    target = (now_s() + timedelta(days=1)).replace(hour=16, minute=30, second=0)
    seen: list[datetime] = []

    def pick(initial: datetime) -> datetime:
        seen.append(initial)
        return target

    monkeypatch.setattr(tab, "ask_until", pick)
    answers = Answers(tab)
    with qtbot.waitSignal(tab.written, timeout=5000):
        tab.buttons["setUntilButton"].click()
    assert stored(db.path, "tuxmath") == format_timestamp(target)
    assert seen[0].tzinfo is not None
    assert f"tuxmath will be available again at {format_local(target, seconds=False)} " \
           "instead of now" in answers.asked[0]


def test_set_until_a_time_past_makes_it_available(qtbot: Any, db: Database,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    tab = make_tab(qtbot, db)
    tab.select_entries(["minecraft"])
    past = now_s() - timedelta(minutes=1)
    monkeypatch.setattr(tab, "ask_until", lambda initial: past)
    answers = Answers(tab)
    with qtbot.waitSignal(tab.written, timeout=5000):
        tab.set_until_selected()
    assert "which has passed" in answers.asked[0]
    assert stored(db.path, "minecraft") == format_timestamp(past)


def test_add_a_cooldown_to_an_entry_without_one(qtbot: Any, db: Database,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    db.set_policy(Policy("p", {"gcompris": PolicyEntry("gcompris", "GCompris",
                                                       cooldown_seconds=600)}))
    tab = make_tab(qtbot, db)
    add = tab.buttons["addCooldownButton"]
    tab.select_entries(["minecraft"])
    assert not add.isEnabled()  # it has one already
    tab.select_entries(["gcompris", "minecraft"])
    assert add.isEnabled()
    initial: list[datetime] = []

    def pick(value: datetime) -> datetime:
        initial.append(value)
        return value

    monkeypatch.setattr(tab, "ask_until", pick)
    answers = Answers(tab)
    with qtbot.waitSignal(tab.written, timeout=5000):
        add.click()
    # the picker starts at now + the policy's length; only the entry without one changes
    assert abs(initial[0] - (local_now() + timedelta(minutes=10))) < timedelta(seconds=10)
    assert stored(db.path, "gcompris") == format_timestamp(initial[0])
    assert "GCompris will be available again at" in answers.asked[0]
    assert "Minecraft" not in answers.asked[0]
    assert [r.change.entry_id for r in overrides(db.path)] == ["gcompris"]


def test_clear_an_unreadable_value(qtbot: Any, db: Database) -> None:
    tab = make_tab(qtbot, db)
    tab.select_entries(["broken"])
    answers = Answers(tab)
    with qtbot.waitSignal(tab.written, timeout=5000):
        tab.buttons["clearCooldownButton"].click()
    assert "unreadable" in answers.asked[0]
    assert stored(db.path, "broken") is None


# --- concurrency: another process changes the cooldown before the person confirms --------

CHANGE = """
import sys
from datetime import datetime
from shepherd_store import SqliteStore
with SqliteStore.open(sys.argv[1]) as store:
    store.set_cooldown_until("minecraft", datetime.fromisoformat(sys.argv[2]))
"""


def other_process_sets(path: Path, until: datetime) -> None:
    subprocess.run([sys.executable, "-c", CHANGE, str(path), until.isoformat()], check=True,
                   cwd=REPO, timeout=30)


@pytest.mark.parametrize("decide_again", [False, True])
def test_a_change_by_the_service_is_never_overwritten(qtbot: Any, db: Database,
                                                      decide_again: bool) -> None:
    tab = make_tab(qtbot, db)
    tab.select_entries(["minecraft"])
    service_until = now_s() + timedelta(hours=2)
    asked: list[str] = []
    conflicts: list[str] = []

    def confirm(text: str) -> bool:
        asked.append(text)
        if len(asked) == 1:  # between display and confirm, a session ended elsewhere
            other_process_sets(db.path, service_until)  # type: ignore[arg-type]
        return True

    shown: list[str] = []

    def decide(text: str) -> bool:
        conflicts.append(text)
        shown.append(cell(tab, "minecraft", COL_UNTIL))  # what the person sees meanwhile
        return decide_again

    tab.confirm = confirm  # type: ignore[method-assign]
    tab.decide_conflict = decide  # type: ignore[method-assign]
    tab.buttons["extend15Button"].click()
    assert len(conflicts) == 1
    # The time alone when it is today, with its date after midnight (this test runs at any
    # hour: two hours from 22:00 is tomorrow).
    hhmm = format_local(service_until)[11:16]
    (line,) = [ln for ln in conflicts[0].splitlines() if "Minecraft: now unavailable" in ln]
    assert line.startswith("• Minecraft: now unavailable until ") and hhmm in line, line
    # the table shows the service's value at once
    assert shown == [format_local(service_until)]
    if not decide_again:
        assert stored(db.path, "minecraft") == format_timestamp(service_until)
        assert overrides(db.path) == []
        assert len(asked) == 1
    else:
        # asked again, in words about the new value; extended from it
        assert len(asked) == 2
        assert hhmm in asked[1].split("instead of at ", 1)[1].split(".\n", 1)[0]
        assert stored(db.path, "minecraft") == format_timestamp(
            service_until + timedelta(minutes=15))
        (record,) = overrides(db.path)
        assert record.change.previous == format_timestamp(service_until)


# --- read-only ---------------------------------------------------------------------------


def assert_nothing_possible(qtbot: Any, tab: CooldownTab, reason_part: str) -> None:
    tab.select_entries(["minecraft", "gcompris"])
    for name, button in tab.buttons.items():
        assert not button.isEnabled(), name
        assert reason_part in button.toolTip(), name
        assert "owner" in button.toolTip(), name
        assert button.accessibleName(), name
    tab.confirm = lambda text: pytest.fail("asked to confirm while read-only")  # type: ignore
    tab.table.setFocus()
    qtbot.keyClick(tab.table, Qt.Key.Key_Delete)
    tab.clear_selected()
    tab.extend_selected(timedelta(minutes=5))
    assert "owner" in tab.notice.text()


def test_read_only_by_choice(qtbot: Any, db_path: Path) -> None:
    database = Database()
    database.open(db_path, read_only=True)
    try:
        before = db_path.read_bytes()
        tab = make_tab(qtbot, database)
        assert_nothing_possible(qtbot, tab, "read-only mode")
        assert db_path.read_bytes() == before
        database.set_user_read_only(False)  # turning it off enables the actions
        tab.select_entries(["minecraft"])
        assert tab.buttons["clearCooldownButton"].isEnabled()
        assert "Editing is disabled" not in tab.buttons["clearCooldownButton"].toolTip()
    finally:
        workers.wait_all()
        database.close()


@pytest.mark.permissions
def test_read_only_by_file_permissions(qtbot: Any, db_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    db_path.chmod(0o444)
    if os.geteuid() == 0:  # root may write anyway: make the check see what a user would
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if (
            mode == os.W_OK and Path(p) == db_path) else real(p, mode, **kw))
    database = Database()
    database.open(db_path)
    try:
        before = db_path.read_bytes()
        tab = make_tab(qtbot, database)
        assert_nothing_possible(qtbot, tab, "not writable")
        assert db_path.read_bytes() == before
    finally:
        workers.wait_all()
        database.close()
        db_path.chmod(0o644)


def test_sorting_by_status_follows_an_expiry(qtbot: Any, db: Database) -> None:
    tab = make_tab(qtbot, db)
    tab.table.sortByColumn(COL_STATUS, Qt.SortOrder.AscendingOrder)
    order = ("active", "unreadable", "expired", "none")
    statuses = [cell(tab, r.entry_id, COL_STATUS) for r in tab.model.rows]
    assert statuses == sorted(statuses, key=order.index)
    assert tab.model.row_of("minecraft") == 0
    tab.select_entries(["minecraft"])
    until = tab.model.rows[0].until
    assert until is not None
    tab.model.tick(until + timedelta(seconds=1))  # its cooldown ends: it moves down
    statuses = [cell(tab, r.entry_id, COL_STATUS) for r in tab.model.rows]
    assert statuses == sorted(statuses, key=order.index)
    assert tab.model.row_of("minecraft") != 0
    assert tab.selected_entries() == ["minecraft"]  # the selection moved with the row


def test_a_tick_repaints_only_what_is_shown(qtbot: Any, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # A sorting proxy asked Python for two cells per comparison after every tick's
    # dataChanged: 50,000 entries froze the window for seconds each second.
    from inspector.cooldown_tab import CooldownModel

    path = tmp_path / "many.db"
    until = format_timestamp(now_s() + timedelta(hours=1))
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE cooldowns (entry_id TEXT PRIMARY KEY, until TEXT NOT NULL)")
    conn.executemany("INSERT INTO cooldowns VALUES (?, ?)",
                     ((f"entry-{i:05d}", until) for i in range(5000)))
    conn.commit()
    conn.close()
    calls = [0]
    real = CooldownModel.data

    def counted(self: CooldownModel, *args: Any) -> Any:
        calls[0] += 1
        return real(self, *args)

    monkeypatch.setattr(CooldownModel, "data", counted)
    database = Database(poll_ms=60_000)
    database.open(path)
    try:
        tab = CooldownTab(database)
        qtbot.addWidget(tab)
        tab.resize(1280, 800)
        tab.show()
        qtbot.waitUntil(lambda: tab.model.rowCount() == 5000, timeout=10_000)
        tab.table.sortByColumn(COL_REMAINING, Qt.SortOrder.AscendingOrder)
        tab.table.grab()
        calls[0] = 0
        tab.model.tick(now_s() + timedelta(seconds=1))
        tab.table.grab()
        assert 0 < calls[0] < 2000, calls[0]  # about the visible cells, not 5,000 rows
    finally:
        workers.wait_all()
        database.close()


def test_selection_survives_a_reload(qtbot: Any, db: Database) -> None:
    tab = make_tab(qtbot, db)
    tab.select_entries(["tuxmath", "minecraft"])
    with SqliteStore.open(db.path) as store:  # type: ignore[arg-type]
        store.set_cooldown_until("aaa-new", now_s() + timedelta(minutes=5))
    db.check_now()
    qtbot.waitUntil(lambda: tab.model.row_of("aaa-new") is not None, timeout=5000)
    assert tab.selected_entries() == ["minecraft", "tuxmath"]


def test_a_vanished_file_empties_both_tabs_without_errors(qtbot: Any, db: Database,
                                                          db_path: Path) -> None:
    from inspector.snapshot_tab import SnapshotTab

    tab = make_tab(qtbot, db)
    snap = SnapshotTab(db)
    qtbot.addWidget(snap)
    qtbot.waitUntil(lambda: snap.state is not None, timeout=5000)
    tab.select_entries(["minecraft"])
    moved = db_path.with_suffix(".moved")
    db_path.rename(moved)
    with qtbot.waitSignal(db.failed, timeout=5000):
        db.check_now()
    assert tab.model.rowCount() == 0 and "deleted or moved" in tab.notice.text()
    assert not any(b.isEnabled() for b in tab.buttons.values())
    assert "no database is open" in tab.buttons["clearCooldownButton"].toolTip()
    assert snap.state is None and "deleted or moved" in snap.notice.text()
    assert not snap.clear_button.isEnabled()
    moved.rename(db_path)  # back: both reload
    qtbot.waitUntil(lambda: tab.model.rowCount() > 0 and snap.state is not None, timeout=5000)
    assert tab.notice.text() == "" and snap.notice.text() == ""
