"""The Audit tab's Sessions view, driven as a person would (offscreen, qtbot).

The default view is Sessions; "All events" is one click (or Ctrl+E) away; double-clicking a
session shows its events; new sessions and the end of a running one appear as the service
writes them, with the filters, the selection and the scroll position kept; the counts are
exact once everything is read; the newest row is selected at open. Every wait is for a
condition (waitUntil / waitSignal), never a fixed time.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import fixture_path
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from inspector.app import open_window
from inspector.audit_model import COL_SESSION
from inspector.main_window import MainWindow
from inspector.sessions_model import (
    COL_ENDED,
    COL_ENTRY,
    COL_HOW,
    COL_LENGTH,
    COL_STARTED,
    COLUMNS,
)
from shepherd_store import (
    AuditEvent,
    ClientConnected,
    ProcessExited,
    SessionEnded,
    SessionStarted,
    SqliteStore,
    encode_event,
)
from shepherd_store.describe import format_local

NY = ZoneInfo("America/New_York")


def make_window(qtbot, path: Path, **kwargs) -> MainWindow:  # type: ignore[no-untyped-def]
    window = open_window(path, **kwargs)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    return window


def loaded(qtbot, window: MainWindow, count: int | None = None) -> None:  # type: ignore[no-untyped-def]
    model = window.audit.sessions
    qtbot.waitUntil(lambda: model.loaded and not model.loading
                    and (count is None or model.rowCount() == count), timeout=5000)


def cell(window: MainWindow, row: int, col: int) -> str:
    return str(window.audit.sessions.index(row, col).data() or "")


def writable_copy(name: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{name}.db"
    shutil.copyfile(fixture_path(f"{name}.db"), path)
    path.chmod(0o644)
    return path


def test_sessions_is_the_default_view_with_exact_counts_and_the_newest_selected(
        qtbot) -> None:  # type: ignore[no-untyped-def]
    window = make_window(qtbot, fixture_path("rust-crash-restarted.db"), read_only=True)
    tab = window.audit
    assert tab.view == "sessions"
    assert tab.sessions_table.isVisible() and not tab.table.isVisible()
    assert tab.view_switch.buttons["sessions"].isChecked()
    loaded(qtbot, window, 16)
    qtbot.waitUntil(lambda: tab.count_label.text() == "16 sessions")
    # At open the newest session is selected and described (not an old row).
    assert tab.sessions_table.currentIndex().row() == 0
    assert tab.session_detail.value("Entry") == "Tux Math (tuxmath)"
    tux = datetime(2026, 3, 7, 16, 45, 0, 367791, tzinfo=NY)
    assert cell(window, 0, COL_STARTED) == format_local(tux, seconds=False)  # local time
    assert tab.session_detail.value("Started") == format_local(tux)
    # The interrupted Minecraft says so, in words a parent reads.
    assert cell(window, 1, COL_ENTRY) == "Minecraft"
    assert cell(window, 1, COL_HOW) == "interrupted: the service crashed under it"
    assert cell(window, 1, COL_LENGTH) == "≥ 55 min"
    assert cell(window, 1, COL_ENDED) == "—"
    assert [cell(window, r, COL_HOW) for r in (0, 2, 3)] == [
        "closed the game", "closed the game", "time was up"]
    # Every role the table shows is answered (the model turns the others away early).
    model, role = window.audit.sessions, Qt.ItemDataRole
    how, length = model.index(1, COL_HOW), model.index(1, COL_LENGTH)
    assert how.data(role.ForegroundRole) is not None  # interrupted: in orange
    assert how.data(role.DecorationRole) is not None
    assert length.data(role.TextAlignmentRole) is not None
    assert "tuxmath" in str(model.index(0, COL_ENTRY).data(role.ToolTipRole))
    assert "Minecraft" in str(model.index(1, COL_ENTRY).data(role.AccessibleTextRole))
    assert how.data(role.FontRole) is None
    tab.sessions_table.selectRow(1)
    assert "crashed or lost power" in tab.session_detail.note.text()
    assert tab.session_detail.note.isVisible()


def test_columns_fit_a_1280_by_800_window_without_a_horizontal_scrollbar(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = make_window(qtbot, fixture_path("rust-v0.db"), read_only=True)
    assert (window.width(), window.height()) == (1280, 800)
    loaded(qtbot, window, 3)
    table = window.audit.sessions_table
    qtbot.waitUntil(lambda: table.viewport().width() > 600)
    assert not table.horizontalScrollBar().isVisible()
    fm = table.fontMetrics()
    header = table.horizontalHeader()
    assert sum(header.sectionSize(c) for c in range(len(COLUMNS))) <= table.viewport().width()
    for row in range(window.audit.sessions.rowCount()):
        for col in range(len(COLUMNS)):
            room = table.columnWidth(col) - (28 if col == COL_HOW else 8)  # icon, margins
            text = cell(window, row, col)
            assert fm.horizontalAdvance(text) <= room, (row, COLUMNS[col], text)
    for col, name in enumerate(COLUMNS):
        assert fm.horizontalAdvance(name) <= table.columnWidth(col) - 8, name


def test_the_event_log_is_one_click_or_ctrl_e_away(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = make_window(qtbot, fixture_path("rust-v0.db"), read_only=True)
    tab = window.audit
    loaded(qtbot, window, 3)
    events = tab.view_switch.buttons["events"]
    assert "Ctrl+E" in events.toolTip() and "Ctrl+E" in tab.view_switch.buttons[
        "sessions"].toolTip()
    qtbot.mouseClick(events, Qt.MouseButton.LeftButton)
    assert tab.view == "events"
    assert tab.table.isVisible() and not tab.sessions_table.isVisible()
    assert tab.export_button.isVisible()
    qtbot.waitUntil(lambda: tab.count_label.text() == "23 events")
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    tab.table.setFocus()
    qtbot.keyClick(tab.table, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert tab.view == "sessions" and tab.sessions_table.hasFocus()
    qtbot.waitUntil(lambda: tab.count_label.text() == "3 sessions")
    qtbot.keyClick(tab.sessions_table, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert tab.view == "events"
    # Choosing an event type in the Sessions view takes the person to the event log.
    tab.show_sessions()
    tab.type_actions["session_ended"].setChecked(True)
    assert tab.view == "events"
    qtbot.waitUntil(lambda: tab.model.rowCount() == 8 and not tab.model.loading)


def test_double_click_shows_the_sessions_events_with_an_exact_count(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = make_window(qtbot, fixture_path("rust-crash-restarted.db"), read_only=True)
    tab = window.audit
    loaded(qtbot, window, 16)
    minecraft = tab.sessions.session_at(1)
    assert minecraft is not None and minecraft.interrupted
    rect = tab.sessions_table.visualRect(tab.sessions.index(1, COL_HOW))
    viewport = tab.sessions_table.viewport()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())
    assert tab.view == "events"
    assert tab.session_edit.text() == minecraft.session_id
    model = tab.model
    qtbot.waitUntil(lambda: model.filtered and not model.loading, timeout=5000)
    assert [model.index(r, COL_SESSION).data() for r in range(model.rowCount())] == [
        minecraft.session_id[:8]] * 2  # its start and its warning, nothing else
    # Every matching event is read: the count is exact ("2", not "2+").
    qtbot.waitUntil(lambda: tab.count_label.text() == "2 matching events")
    # Back in the Sessions view, the same session filter shows that one session.
    tab.show_sessions()
    loaded(qtbot, window, 1)
    qtbot.waitUntil(lambda: tab.count_label.text() == "1 matching session")
    # The detail pane's button does what a double-click does.
    tab.session_edit.clear()
    loaded(qtbot, window, 16)
    tab.sessions_table.selectRow(3)
    third = tab.sessions.session_at(3)
    assert third is not None
    qtbot.mouseClick(tab.session_detail.events_button, Qt.MouseButton.LeftButton)
    assert tab.view == "events" and tab.session_edit.text() == third.session_id


def append(path: Path, *events: object, at: datetime | None = None) -> list[int]:
    """Write events as the service would, from another connection (a second apart, from
    `at`, by default now); their ids."""
    ids = []
    when = at or datetime.now(NY)
    with SqliteStore.open(path) as writer:
        for i, event in enumerate(events):
            audit = AuditEvent(0, when + timedelta(seconds=i), event)  # type: ignore[arg-type]
            writer.append_audit(audit)
            ids.append(audit.id)
    return ids


def test_live_with_a_filter_on_keeps_the_new_row_the_selection_and_the_place(
        qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = writable_copy("rust-crash-restarted", tmp_path)
    window = make_window(qtbot, path)
    tab, model = window.audit, window.audit.sessions
    loaded(qtbot, window, 16)
    qtbot.waitUntil(lambda: tab.entry_combo.findData("minecraft") > 0, timeout=5000)
    tab.entry_combo.setCurrentIndex(tab.entry_combo.findData("minecraft"))
    loaded(qtbot, window, 6)
    qtbot.waitUntil(lambda: tab.count_label.text() == "6 matching sessions")
    tab.sessions_table.selectRow(2)  # the person's choice
    chosen = model.session_at(2)
    assert chosen is not None
    new_sid, other_sid = str(uuid.uuid4()), str(uuid.uuid4())
    deadline = datetime.now(NY) + timedelta(hours=1)
    append(path, ClientConnected(str(uuid.uuid4()), "Shell", 1000),
           SessionStarted(other_sid, "tuxmath", "Tux Math", None),
           SessionEnded(other_sid, "tuxmath", ProcessExited(0), timedelta(seconds=3)),
           SessionStarted(new_sid, "minecraft", "Minecraft", deadline))
    window.db.check_now()
    qtbot.waitUntil(lambda: model.rowCount() == 7, timeout=5000)
    new = model.session_at(0)
    assert new is not None and new.session_id == new_sid and new.running
    assert model.row_of_session(other_sid) is None  # another entry: not under this filter
    assert cell(window, 0, COL_HOW).startswith("running, allowed until")
    # The person's selection stays on their session, now one row lower.
    assert tab.sessions_table.currentIndex().row() == 3
    assert model.session_at(3) == chosen
    assert tab.session_detail.session == chosen
    qtbot.waitUntil(lambda: tab.count_label.text() == "7 matching sessions")
    # The running session ends: the same row says so, and stays.
    append(path, SessionEnded(new_sid, "minecraft", ProcessExited(0), timedelta(minutes=20)))
    window.db.check_now()
    qtbot.waitUntil(lambda: cell(window, 0, COL_HOW) == "closed the game", timeout=5000)
    assert model.rowCount() == 7 and cell(window, 0, COL_LENGTH) == "20 min"
    # More writes, and the row is still there (a refresh never drops what it added).
    last = append(path, ClientConnected(str(uuid.uuid4()), "Shell", 1000))[-1]
    window.db.check_now()
    qtbot.waitUntil(lambda: model.top_id == last and not model.refreshing, timeout=5000)
    assert model.rowCount() == 7 and model.session_at(0).session_id == new_sid  # type: ignore[union-attr]


def bulk_sessions(path: Path, n: int) -> None:
    """A seed database of `n` ended sessions (start and end rows), in one transaction."""
    SqliteStore.open(path).close()
    rows = []
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    for i in range(n):
        sid = str(uuid.UUID(int=i + 1))
        t = start + timedelta(hours=i)
        for when, ev in ((t, SessionStarted(sid, f"e{i % 3}", f"Entry {i % 3}", None)),
                         (t + timedelta(minutes=10), SessionEnded(
                             sid, f"e{i % 3}", ProcessExited(0), timedelta(minutes=10)))):
            rows.append((when.isoformat(), ev.TYPE, encode_event(ev)))
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO audit_log (timestamp, event_type, event_data) VALUES (?, ?, ?)", rows)
    conn.close()


def test_pages_come_in_as_the_person_scrolls_and_the_count_becomes_exact(
        qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "many.db"
    bulk_sessions(path, 250)
    window = make_window(qtbot, path)
    tab, model = window.audit, window.audit.sessions
    loaded(qtbot, window, 100)
    qtbot.waitUntil(lambda: tab.count_label.text() == "100+ sessions")
    while model.rowCount() < 250:
        tab.sessions_table.scrollToBottom()
        qtbot.waitUntil(lambda: not model.loading, timeout=5000)
        if model.canFetchMore(tab.sessions_table.rootIndex()):
            model.fetchMore(tab.sessions_table.rootIndex())
            qtbot.waitUntil(lambda: not model.loading, timeout=5000)
    assert model.complete
    qtbot.waitUntil(lambda: tab.count_label.text() == "250 sessions")
    ids = [model.session_at(r).started_id for r in range(250)]  # type: ignore[union-attr]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 250


def test_the_selection_follows_the_newest_until_the_person_picks_a_row(
        qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = writable_copy("rust-clean", tmp_path)
    window = make_window(qtbot, path)
    tab, model = window.audit, window.audit.sessions
    loaded(qtbot, window, 14)
    assert tab.sessions_table.currentIndex().row() == 0
    first = str(uuid.uuid4())
    append(path, SessionStarted(first, "tuxmath", "Tux Math", None))
    window.db.check_now()
    qtbot.waitUntil(lambda: model.rowCount() == 15, timeout=5000)
    # Chosen by the tab, not the person: the newest is selected again.
    qtbot.waitUntil(lambda: tab.session_detail.session is not None
                    and tab.session_detail.session.session_id == first)
    assert tab.sessions_table.currentIndex().row() == 0
    tab.sessions_table.selectRow(4)  # now the person picks one
    picked = model.session_at(4)
    append(path, SessionEnded(first, "tuxmath", ProcessExited(0), timedelta(minutes=1)),
           SessionStarted(str(uuid.uuid4()), "minecraft", "Minecraft", None))
    window.db.check_now()
    qtbot.waitUntil(lambda: model.rowCount() == 16, timeout=5000)
    assert tab.session_detail.session == picked
    assert tab.sessions_table.currentIndex().row() == 5


def test_keyboard_reaches_the_switch_filters_and_sessions_and_enter_opens_the_events(
        qtbot) -> None:  # type: ignore[no-untyped-def]
    window = make_window(qtbot, fixture_path("rust-clean.db"), read_only=True)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    tab = window.audit
    loaded(qtbot, window, 14)
    tab.view_switch.buttons["sessions"].setFocus()
    order = [QApplication.focusWidget()]
    for _ in range(9):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        order.append(QApplication.focusWidget())
    names = [w.objectName() for w in order if w is not None]
    # The switch is one stop (its two halves are one control: the arrows move within it).
    assert names[:2] == ["auditShowSessions", "auditTypeFilter"]
    assert "auditSearch" in names and "sessionsTable" in names
    assert "auditTable" not in names  # hidden in this view
    tab.sessions_table.setFocus()
    qtbot.keyClick(tab.sessions_table, Qt.Key.Key_Down)
    qtbot.keyClick(tab.sessions_table, Qt.Key.Key_Down)
    second = tab.sessions.session_at(2)
    assert second is not None and tab.session_detail.session == second
    qtbot.keyClick(tab.sessions_table, Qt.Key.Key_Return)
    assert tab.view == "events" and tab.session_edit.text() == second.session_id


def test_the_chosen_view_is_remembered(qtbot) -> None:  # type: ignore[no-untyped-def]
    first = make_window(qtbot, fixture_path("rust-v0.db"), read_only=True)
    first.audit.show_events()
    first.close()
    assert QSettings("Shepherd", "shepherd-inspector").value("audit/view") == "events"
    second = make_window(qtbot, fixture_path("rust-v0.db"), read_only=True)
    assert second.audit.view == "events"
    second.audit.show_sessions()
    second.close()
    third = make_window(qtbot, fixture_path("rust-v0.db"), read_only=True)
    assert third.audit.view == "sessions"


@pytest.mark.parametrize("layout", ["seed", "rust"])
def test_a_database_with_no_sessions_says_so(qtbot, tmp_path: Path, layout: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "empty.db"
    if layout == "rust":
        shutil.copyfile(fixture_path("rust-v0.db"), path)
        path.chmod(0o644)
        conn = sqlite3.connect(path)
        with conn:
            conn.execute("DELETE FROM audit_log WHERE event_json LIKE '%session%'")
        conn.close()
    else:
        SqliteStore.open(path).close()
    window = make_window(qtbot, path)
    loaded(qtbot, window, 0)
    qtbot.waitUntil(lambda: window.audit.count_label.text() == "0 sessions")
    assert window.audit.session_detail.placeholder.isVisible()
    assert not window.audit.session_detail.events_button.isEnabled()


def test_the_sessions_are_read_only_while_their_view_is_shown(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from inspector import workers

    path = writable_copy("rust-clean", tmp_path)
    window = open_window(path)
    qtbot.addWidget(window)
    window.audit.show_events()  # before the first page was read: that read is dropped
    window.show()
    model = window.audit.sessions
    assert workers.wait_all()  # (waits for the pool to be idle: no fixed time)
    QApplication.processEvents()
    assert not model.loaded and model.rowCount() == 0
    window.audit.show_sessions()
    loaded(qtbot, window, 14)
    window.audit.show_events()
    append(path, SessionStarted(str(uuid.uuid4()), "tuxmath", "Tux Math", None))
    window.db.check_now()
    qtbot.waitUntil(lambda: window.audit.model.rowCount() == 110, timeout=5000)
    window.audit.show_sessions()  # shown again: what it missed comes in
    loaded(qtbot, window, 15)


def test_the_event_log_selects_the_newest_at_open_and_keeps_following_it(
        qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = writable_copy("rust-clean", tmp_path)
    QSettings("Shepherd", "shepherd-inspector").setValue("audit/view", "events")
    window = make_window(qtbot, path)
    tab = window.audit
    assert tab.view == "events"
    assert tab.selected_event() is not None and tab.selected_event().id == 109  # type: ignore[union-attr]
    ids = append(path, ClientConnected(str(uuid.uuid4()), "Shell", 1000))
    window.db.check_now()
    qtbot.waitUntil(lambda: tab.model.rowCount() == 110, timeout=5000)
    qtbot.waitUntil(lambda: tab.selected_event() is not None
                    and tab.selected_event().id == ids[0])  # type: ignore[union-attr]
    tab.table.selectRow(3)  # the person's choice stays
    chosen = tab.selected_event()
    append(path, ClientConnected(str(uuid.uuid4()), "Shell", 1000))
    window.db.check_now()
    qtbot.waitUntil(lambda: tab.model.rowCount() == 111, timeout=5000)
    assert tab.selected_event() == chosen


def test_new_sessions_above_keep_the_rows_in_view_and_say_how_many_came(
        qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "many.db"
    bulk_sessions(path, 150)
    window = make_window(qtbot, path)
    tab, model, table = window.audit, window.audit.sessions, window.audit.sessions_table
    loaded(qtbot, window, 100)
    table.scrollTo(model.index(60, 0))
    qtbot.waitUntil(lambda: table.verticalScrollBar().value() > 10)
    top = model.session_at(table.rowAt(0))
    assert top is not None
    append(path, SessionStarted(str(uuid.uuid4()), "e1", "Entry 1", None),
           SessionStarted(str(uuid.uuid4()), "e2", "Entry 2", None))
    window.db.check_now()
    qtbot.waitUntil(lambda: model.rowCount() == 102, timeout=5000)
    qtbot.waitUntil(lambda: model.session_at(table.rowAt(0)) == top)
    assert tab.new_chip.isVisible() and tab.new_chip.text() == "↑ 2 new sessions"
    qtbot.mouseClick(tab.new_chip, Qt.MouseButton.LeftButton)
    assert table.verticalScrollBar().value() == 0 and not tab.new_chip.isVisible()


def test_a_hidden_audit_tab_reads_no_sessions_and_catches_up_when_shown(
        qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Found by benchmarks/bench_service_latency.py: with another tab shown, the Sessions view
    # still read after every commit (43-109 ms statements on a million events).
    path = writable_copy("rust-crash-restarted", tmp_path)
    window = make_window(qtbot, path)
    model = window.audit.sessions
    loaded(qtbot, window, 16)
    window.tabs.setCurrentWidget(window.usage)
    sid = str(uuid.uuid4())
    append(path, SessionStarted(sid, "tuxmath", "Tux Math", None))
    with qtbot.waitSignal(window.db.changed, timeout=5000):  # the window saw the commit
        window.db.check_now()
    assert not model.refreshing and not model.loading and model.rowCount() == 16
    window.tabs.setCurrentWidget(window.audit)
    qtbot.waitUntil(lambda: model.rowCount() == 17, timeout=5000)
    assert model.session_at(0) is not None and model.session_at(0).session_id == sid
