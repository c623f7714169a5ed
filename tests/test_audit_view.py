"""The window and its audit log view, driven as a person would (offscreen)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import QApplication, QLabel, QPushButton

from inspector.app import open_window
from inspector.audit_model import COL_ENTRY, COL_EVENT, COL_SESSION, COL_SUMMARY, COL_TIME
from inspector.main_window import MainWindow
from shepherd_store import AuditEvent, ServiceStarted, SessionStarted, SqliteStore
from shepherd_store.events import encode_event

REPO = Path(__file__).resolve().parent.parent


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_window(qtbot, path, **kwargs) -> MainWindow:  # type: ignore[no-untyped-def]
    window = open_window(path, **kwargs)
    qtbot.addWidget(window)
    window.show()
    window.audit.show_events()  # these tests are about the event log (Sessions is the default)
    return window


def cell(window: MainWindow, row: int, col: int) -> str:
    return str(window.audit.model.index(row, col).data() or "")


def bulk_seed(path: Path, n: int, *, start: datetime | None = None) -> None:
    """A seed-layout database with `n` session_started events, written in one transaction."""
    SqliteStore.open(path).close()
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        ev = SessionStarted(session_id=str(uuid.UUID(int=i + 1)), entry_id=f"e{i % 5}",
                            label=f"Entry {i % 5}", deadline=None)
        stamp = (start + timedelta(minutes=i)).isoformat()
        rows.append((stamp, ev.TYPE, encode_event(ev)))
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO audit_log (timestamp, event_type, event_data) VALUES (?, ?, ?)", rows)
    conn.close()


def test_opens_rust_fixture_read_only_and_shows_every_event(qtbot, rust_v0: Path) -> None:
    before = sha256(rust_v0)
    window = make_window(qtbot, rust_v0, read_only=True)
    model = window.audit.model
    assert window.objectName() == "mainWindow"
    assert window.findChild(type(window.audit.table), "auditTable") is window.audit.table
    assert model.rowCount() == 23
    assert "Service stopped" in cell(window, 0, COL_EVENT)
    # Newest first; the Minecraft session is row 2 with its label and short session id.
    assert cell(window, 2, COL_ENTRY) == "Minecraft (minecraft)"
    assert cell(window, 2, COL_SESSION) == "33333333"
    assert cell(window, 14, COL_SUMMARY) == "Tux Math ended: time limit reached after 45 min"
    local = datetime(2026, 1, 10, 9, 45, tzinfo=timezone(timedelta(hours=-5))).astimezone()
    assert cell(window, 14, COL_TIME) == local.strftime("%Y-%m-%d %H:%M:%S")
    assert "Rust layout" in window.status_layout.text()
    assert "delete" in window.status_layout.text()
    assert window.status_access.text() == "read-only"
    assert "read-only mode" in window.status_access.toolTip()
    # Scroll, select, filter: the file never changes.
    window.audit.table.selectRow(5)
    window.audit.search.setText("putt")
    window.audit._apply_filter()
    qtbot.waitUntil(lambda: not model.loading and model.rowCount() > 0)
    assert sha256(rust_v0) == before


def test_filters_compose_and_clear(qtbot, rust_v0: Path) -> None:
    window = make_window(qtbot, rust_v0, read_only=True)
    tab, model = window.audit, window.audit.model

    def settle() -> None:
        qtbot.waitUntil(lambda: not model.loading, timeout=5000)

    tab.type_actions["session_ended"].setChecked(True)
    settle()
    assert model.rowCount() == 8
    tab.type_actions["session_started"].setChecked(True)
    settle()
    assert model.rowCount() == 11
    assert tab.type_button.text() == "2 types"
    tab.entry_combo.setCurrentIndex(tab.entry_combo.findData("tuxmath"))
    settle()
    assert model.rowCount() == 2
    tab.search.setText("expired")
    qtbot.waitUntil(lambda: model.filter.text == "expired", timeout=3000)
    settle()
    assert model.rowCount() == 1
    assert cell(window, 0, COL_SUMMARY).startswith("Tux Math ended")
    tab.clear_filters()
    settle()
    assert model.rowCount() == 23
    assert model.filter.is_empty


def test_time_range_custom_uses_local_time(qtbot, rust_v0: Path) -> None:
    window = make_window(qtbot, rust_v0, read_only=True)
    tab, model = window.audit, window.audit.model
    since = datetime(2026, 7, 4, 14, 5, tzinfo=timezone(timedelta(hours=-4))).astimezone()
    until = since + timedelta(hours=1)
    tab.since_edit.setDateTime(QDateTime(since.replace(tzinfo=None)))
    tab.until_edit.setDateTime(QDateTime(until.replace(tzinfo=None)))
    tab.time_combo.setCurrentIndex(4)
    qtbot.waitUntil(lambda: not model.loading and model.filtered, timeout=5000)
    assert tab.since_edit.isVisible()
    assert [cell(window, r, COL_EVENT) for r in range(model.rowCount())] == [
        "Service stopped", "Client disconnected"]


def test_session_story_by_double_click(qtbot, rust_v0: Path) -> None:
    window = make_window(qtbot, rust_v0, read_only=True)
    tab, model = window.audit, window.audit.model
    index = model.index(14, COL_SESSION)  # Tux Math's session_ended
    tab._on_double_click(index)
    qtbot.waitUntil(lambda: not model.loading and model.filtered, timeout=5000)
    assert tab.session_edit.text() == "11111111-1111-4111-8111-111111111111"
    assert model.rowCount() == 5  # started, 2 warnings, extended, ended
    tab.session_edit.clear()
    qtbot.waitUntil(lambda: not model.filtered and model.rowCount() == 23, timeout=5000)


def test_detail_pane_shows_fields_local_and_stored_times_and_raw_json(qtbot, rust_v0) -> None:
    window = make_window(qtbot, rust_v0, read_only=True)
    tab = window.audit
    tab.table.selectRow(13)  # id 10: 9 fraction digits as stored
    fields = {tab.detail_fields.item(r, 0).text(): tab.detail_fields.item(r, 1).text()
              for r in range(tab.detail_fields.rowCount())}
    assert fields["Id"] == "10"
    assert fields["Deadline"] == "none"
    assert fields["Label"] == "Putt-Putt"
    assert "2026-01-10T10:00:00.123456789-05:00" in tab.detail_raw.toPlainText()
    assert '"label": "Putt-Putt"' in tab.detail_raw.toPlainText()
    assert not tab.detail_marker.isVisible()


def test_unknown_and_malformed_rows_are_shown_marked_never_fatal(qtbot, rust_copy: Path) -> None:
    conn = sqlite3.connect(rust_copy)
    with conn:
        conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                     ("2026-07-05T10:00:00-04:00", '{"type":"tokens_adjusted","delta":5}'))
        conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                     ("2026-07-05T10:01:00-04:00", '{"type":"session_started", oops'))
        conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                     ("<b>not a time</b>", '{"type":"service_started"}'))
    conn.close()
    window = make_window(qtbot, rust_copy)
    tab, model = window.audit, window.audit.model
    assert model.rowCount() == 26
    assert cell(window, 0, COL_EVENT) == "Unreadable row"
    assert "bad timestamp" in cell(window, 0, COL_SUMMARY)
    assert cell(window, 1, COL_EVENT) == "Unreadable row"
    assert cell(window, 2, COL_EVENT) == "Unknown: tokens_adjusted"
    # Every role the table shows is answered (the model turns the others away early).
    bad = model.index(1, COL_EVENT)
    ok = next(model.index(r, COL_SESSION) for r in range(model.rowCount())
              if model.index(r, COL_SESSION).data())
    assert bad.data(Qt.ItemDataRole.ForegroundRole) is not None  # malformed: in red
    assert bad.data(Qt.ItemDataRole.DecorationRole) is not None
    assert bad.data(Qt.ItemDataRole.ToolTipRole)
    assert ok.data(Qt.ItemDataRole.AccessibleTextRole)
    assert "Double-click" in str(ok.data(Qt.ItemDataRole.ToolTipRole))
    assert bad.data(Qt.ItemDataRole.FontRole) is None
    tab.table.selectRow(1)
    assert tab.detail_marker.isVisible()
    assert "Unreadable row" in tab.detail_marker.text()
    assert '{"type":"session_started", oops' in tab.detail_raw.toPlainText()
    tab.table.selectRow(2)
    assert "tokens_adjusted" in tab.detail_marker.text()
    # Filters still work around the bad rows.
    tab.type_actions["session_started"].setChecked(True)
    qtbot.waitUntil(lambda: not model.loading and model.filtered, timeout=5000)
    assert model.rowCount() == 3


def test_markup_in_labels_is_shown_literally(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "markup.db"
    with SqliteStore.open(path) as store:
        store.append_audit(AuditEvent.new(SessionStarted(
            session_id=str(uuid.uuid4()), entry_id="<img src=x>", label="<b>Bold</b>",
            deadline=None)))
    window = make_window(qtbot, path)
    assert cell(window, 0, COL_ENTRY) == "<b>Bold</b> (<img src=x>)"
    assert cell(window, 0, COL_SUMMARY).startswith("<b>Bold</b> started")
    entries = [window.audit.entry_combo.itemText(i)
               for i in range(window.audit.entry_combo.count())]
    assert "<b>Bold</b> (<img src=x>)" in entries


@pytest.mark.parametrize("kind", ["text", "directory", "missing", "empty", "truncated",
                                  "unrelated"])
def test_bad_files_show_a_message_and_the_window_keeps_working(qtbot, tmp_path, rust_v0,
                                                               kind) -> None:
    path = tmp_path / "bad.db"
    if kind == "text":
        path.write_text("hello, I am not a database\n" * 20)
    elif kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(rust_v0.read_bytes()[:1500])
    elif kind == "unrelated":
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE recipes (name TEXT)")
        conn.commit()
        conn.close()
    before = path.read_bytes() if path.is_file() else None
    window = make_window(qtbot, path)
    assert window.banner.isVisible()
    message = window.banner_text.text()
    assert str(path) in message
    assert window.audit.model.rowCount() == 0
    assert window.banner_text.textFormat() == Qt.TextFormat.PlainText
    if before is not None:
        assert path.read_bytes() == before
    # The rest of the application works: open a good file next.
    assert window.open_path(rust_v0, read_only=True)
    assert not window.banner.isVisible()
    assert window.audit.model.rowCount() == 23


def test_first_run_without_database_offers_the_demo(qtbot, rust_v0: Path) -> None:
    window = make_window(qtbot, None)
    assert window.pages.currentWidget() is window.first_run
    text = window.first_run.findChild(QLabel, "firstRunPlaces").text()
    assert "/var/lib/shepherdd/shepherdd.db" in text
    demo = window.first_run.findChild(QPushButton, "firstRunDemo")
    with qtbot.waitSignal(window.demoRequested, timeout=1000):
        demo.click()
    assert window.open_path(rust_v0, read_only=True)
    assert window.pages.currentWidget() is not window.first_run
    assert window.audit.model.rowCount() == 23


def run_writer(path: Path, count: int, delay: float = 0.0) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.helpers.writer", str(path), str(count),
                             str(delay)], cwd=REPO, stdout=subprocess.PIPE, text=True)


@pytest.mark.parametrize("layout", ["rust-rollback", "seed-wal"])
def test_events_from_another_process_appear_live(qtbot, tmp_path, rust_copy, layout) -> None:
    path = rust_copy if layout == "rust-rollback" else tmp_path / "live.db"
    if layout == "seed-wal":
        SqliteStore.open(path).close()
    window = make_window(qtbot, path)
    model = window.audit.model
    start = model.rowCount()
    proc = run_writer(path, 10, 0.02)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    acked = [int(line.split()[1]) for line in out.splitlines() if line.startswith("ack")]
    assert len(acked) == 10
    qtbot.waitUntil(lambda: model.rowCount() == start + 10, timeout=5000)
    assert model.event_at(0).id == max(acked)  # type: ignore[union-attr]
    assert "Writer" in cell(window, 0, COL_ENTRY)
    assert window.status_changed.text().startswith("last change")


def test_live_rows_keep_the_users_place_and_count_new_events(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "many.db"
    bulk_seed(path, 400)
    window = make_window(qtbot, path)
    tab, model = window.audit, window.audit.model
    tab.table.scrollTo(model.index(200, 0))
    qtbot.waitUntil(lambda: tab.table.verticalScrollBar().value() > 0)
    tab.table.selectRow(200)
    selected_id = tab.selected_event().id  # type: ignore[union-attr]
    top_row = tab.table.rowAt(0)
    top_id = model.event_at(top_row).id  # type: ignore[union-attr]
    proc = run_writer(path, 3)
    proc.communicate(timeout=60)
    qtbot.waitUntil(lambda: model.rowCount() == 403, timeout=5000)
    assert tab.selected_event().id == selected_id  # type: ignore[union-attr]
    assert model.event_at(tab.table.rowAt(0)).id == top_id  # type: ignore[union-attr]
    assert tab.new_chip.isVisible()
    assert "3 new events" in tab.new_chip.text()
    tab.new_chip.click()
    assert tab.table.verticalScrollBar().value() == 0
    assert not tab.new_chip.isVisible()


def test_follow_keeps_newest_in_view(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "follow.db"
    bulk_seed(path, 50)
    window = make_window(qtbot, path)
    model = window.audit.model
    assert window.audit.follow.isChecked()
    run_writer(path, 2).communicate(timeout=60)
    qtbot.waitUntil(lambda: model.rowCount() == 52, timeout=5000)
    assert window.audit.table.verticalScrollBar().value() == 0
    assert not window.audit.new_chip.isVisible()


def test_large_log_scrolls_to_the_oldest_row_and_pages_filtered_results(qtbot, tmp_path) -> None:
    path = tmp_path / "large.db"
    bulk_seed(path, 5000)
    window = make_window(qtbot, path)
    tab, model = window.audit, window.audit.model
    assert model.rowCount() == 5000
    tab.table.scrollToBottom()
    assert model.event_at(4999).id == 1  # type: ignore[union-attr]
    assert cell(window, 4999, COL_ENTRY) == "Entry 0 (e0)"
    qtbot.waitUntil(lambda: tab.entry_combo.findData("e3") > 0, timeout=5000)
    tab.entry_combo.setCurrentIndex(tab.entry_combo.findData("e3"))
    qtbot.waitUntil(lambda: not model.loading and model.filtered, timeout=5000)
    while model.canFetchMore(tab.table.rootIndex()) or model.loading:
        if not model.loading:
            model.fetchMore(tab.table.rootIndex())
        qtbot.waitUntil(lambda: not model.loading, timeout=5000)
    assert model.rowCount() == 1000
    assert {model.event_at(r).event.entry_id for r in range(1000)} == {"e3"}  # type: ignore


def test_export_csv_and_json_stream_every_matching_row(qtbot, rust_v0, tmp_path) -> None:
    window = make_window(qtbot, rust_v0, read_only=True)
    tab = window.audit
    out_csv, out_json = tmp_path / "all.csv", tmp_path / "ended.json"
    with qtbot.waitSignal(tab.export(out_csv, "csv", show_progress=False).finished, timeout=5000):
        pass
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert len(rows) == 23
    assert rows[0]["id"] == "23" and rows[-1]["type"] == "service_started"
    assert rows[13]["timestamp"] == "2026-01-10T10:00:00.123456789-05:00"
    tab.type_actions["session_ended"].setChecked(True)
    qtbot.waitUntil(lambda: not tab.model.loading and tab.model.filtered, timeout=5000)
    with qtbot.waitSignal(tab.export(out_json, "json", show_progress=False).finished,
                          timeout=5000):
        pass
    data = json.loads(out_json.read_text(encoding="utf-8"))
    assert len(data) == 8
    assert {d["type"] for d in data} == {"session_ended"}
    assert data[-1]["event"]["reason"] == {"type": "expired"}


def test_copy_selected_rows_as_text(qtbot, rust_v0: Path) -> None:
    window = make_window(qtbot, rust_v0, read_only=True)
    tab = window.audit
    tab.table.selectRow(0)
    tab.copy_selection()
    text = QApplication.clipboard().text()
    assert "Service stopped" in text and "\t" in text


def test_keyboard_shortcuts(qtbot, rust_v0: Path) -> None:
    window = make_window(qtbot, rust_v0, read_only=True)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    assert window.action_open.shortcut().toString() == "Ctrl+O"
    assert window.action_reload.shortcut().toString() == "F5"
    window.focus_search()
    assert window.audit.search.hasFocus() or QApplication.focusWidget() is window.audit.search
    with qtbot.waitSignal(window.db.opened, timeout=2000):
        window.action_reload.trigger()


def test_replaced_deleted_and_restored_file_is_followed(qtbot, tmp_path, rust_v0) -> None:
    path = tmp_path / "live.db"
    bulk_seed(path, 10)
    window = make_window(qtbot, path)
    model = window.audit.model
    assert model.rowCount() == 10
    # Replace atomically, as a backup restore does.
    other = tmp_path / "other.db"
    shutil.copyfile(rust_v0, other)
    os.chmod(other, 0o644)
    os.replace(other, path)
    qtbot.waitUntil(lambda: model.rowCount() == 23, timeout=5000)
    # Delete: the window says so; bring it back: it recovers without a restart.
    saved = path.read_bytes()
    path.unlink()
    qtbot.waitUntil(window.banner.isVisible, timeout=5000)
    assert "deleted or moved" in window.banner_text.text()
    path.write_bytes(saved)
    qtbot.waitUntil(lambda: not window.banner.isVisible() and model.rowCount() == 23,
                    timeout=5000)


def test_read_only_toggle_and_status(qtbot, rust_copy: Path) -> None:
    window = make_window(qtbot, rust_copy)
    assert window.status_access.text() == "writable"
    window.action_read_only.setChecked(True)
    assert window.status_access.text() == "read-only"
    assert window.db.read_only_reason and "read-only mode" in window.db.read_only_reason


def test_recent_files_are_remembered(qtbot, rust_v0, rust_v0_nosession) -> None:
    window = make_window(qtbot, rust_v0, read_only=True)
    window.open_path(rust_v0_nosession, read_only=True)
    recent = [a.text() for a in window.recent_menu.actions()]
    assert recent[:2] == [str(rust_v0_nosession), str(rust_v0)]
    window.recent_menu.actions()[1].trigger()
    assert window.db.path == rust_v0


def test_service_started_seed_layout_shows_in_status(qtbot, seed_path: Path) -> None:
    with SqliteStore.open(seed_path) as store:
        store.append_audit(AuditEvent.new(ServiceStarted()))
    window = make_window(qtbot, seed_path)
    assert "seed layout" in window.status_layout.text()
    assert "wal" in window.status_layout.text()
    assert window.audit.model.rowCount() == 1


def test_journal_mode_is_read_once_per_opened_database(qtbot, rust_copy: Path) -> None:
    # Found: the status bar read PRAGMA journal_mode on the GUI thread after every commit.
    window = make_window(qtbot, rust_copy)
    assert "journal delete" in window.status_layout.text()
    pragmas: list[str] = []
    store = window.db.store
    assert store is not None
    store._conn.set_trace_callback(  # the GUI thread's connection
        lambda sql: pragmas.append(sql) if "journal_mode" in sql.lower() else None)
    with SqliteStore.open(rust_copy) as writer:
        for i in range(5):
            writer.append_audit(AuditEvent.new(ServiceStarted()))
            window.db.check_now()
            qtbot.waitUntil(lambda i=i: window.audit.model.rowCount() == 24 + i, timeout=5000)
            assert window.status_layout.text() == "Rust layout · journal delete"
            assert window.status_changed.text().startswith("last change")
    window._update_status()
    assert pragmas == []
    store._conn.set_trace_callback(None)
    # Switched to WAL (as a newer service might) and reopened: the new mode shows.
    conn = sqlite3.connect(rust_copy, isolation_level=None)
    assert conn.execute("PRAGMA journal_mode = wal").fetchone()[0] == "wal"
    conn.close()
    window.db.reload()
    assert window.status_layout.text() == "Rust layout · journal wal"
    window.db.close()  # the status bar shows no stale mode once nothing is open
    window._update_status()
    assert window.status_layout.text() == ""


def test_locked_database_says_so_and_recovers(qtbot, rust_copy: Path) -> None:
    holder = sqlite3.connect(rust_copy, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # as a stuck writer in rollback-journal mode would
    try:
        started = datetime.now()
        window = make_window(qtbot, rust_copy)
        assert datetime.now() - started < timedelta(seconds=3)  # the window did not freeze
        assert window.banner.isVisible()
        assert "locked" in window.banner_text.text()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=5000)
    assert window.audit.model.rowCount() == 23


def test_own_reads_do_not_look_like_changes(qtbot, rust_v0: Path) -> None:
    window = make_window(qtbot, rust_v0, read_only=True)
    changes: list[str] = []
    watcher = window.db._watcher
    assert watcher is not None
    watcher.changed.connect(lambda: changes.append("watcher"))
    window.db.changed.connect(lambda: changes.append("db"))
    looks: list[int] = []  # the watcher's reads of the change token
    real_token = watcher._token_fn

    def token():  # type: ignore[no-untyped-def]
        looks.append(1)
        return real_token()

    watcher._token_fn = token
    tab = window.audit
    for _ in range(3):
        tab.table.scrollToBottom()
        tab.search.setText("tux")
        tab._apply_filter()
        qtbot.waitUntil(lambda: not tab.model.loading, timeout=3000)
        tab.clear_filters()
    after = len(looks)
    # The watcher looked again (its poll, at least twice) after every read of ours...
    qtbot.waitUntil(lambda: len(looks) >= after + 2, timeout=3000)
    # ...and saw no change: nothing emitted, nothing held back to emit later.
    assert changes == []
    assert not window.db._change_timer.isActive()
    assert window.status_changed.text() == "no changes since opened"
