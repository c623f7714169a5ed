"""The window on a database on another computer, through the real sshd of tests/sshd.py
(issue #17): the same rows as a local window, live changes, read-only unless allowed, edits
read back by a local store, File ▸ Open Remote's dialog (recent remotes, what to install,
the library copied over), the command line and Open Recent."""

from __future__ import annotations

import shutil
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import remote_fixtures
from remote_fixtures import copy_fixture
from remote_window_support import (
    close_window,
    remote_options,
    remote_window,
    shot_database,
    shot_path,
)
from sshd import Sshd

from inspector import workers
from inspector.main_window import MainWindow
from inspector.remote_window import recent_remotes
from inspector.store_edits import repair
from shepherd_store import AuditEvent, ReadOnlyError, RecoveryConflict, SqliteStore
from shepherd_store.events import ServiceStarted
from shepherd_store.remote.launch import library_zip
from shepherd_store.timefmt import local_now
from shepherd_store.usage import DayRange

sshd = remote_fixtures.sshd
MARCH = DayRange.from_dates(date(2026, 2, 20), date(2026, 3, 12))


def model_texts(model: Any) -> list[tuple[Any, ...]]:
    """Every cell's display text of a table model."""
    return [tuple(model.index(r, c).data() for c in range(model.columnCount()))
            for r in range(model.rowCount())]


def audit_texts(qtbot: Any, window: MainWindow) -> list[tuple[Any, ...]]:
    """The event log's rows (a remote window reads the painted blocks in the pool)."""
    model = window.audit.model
    model_texts(model)  # asks for every block
    qtbot.waitUntil(lambda: not model._remote.pending, timeout=30_000)
    workers.wait_all()
    return model_texts(model)


def loaded_tabs(qtbot: Any, window: MainWindow) -> dict[str, Any]:
    """What every tab shows once read: sessions, usage of MARCH, cooldowns, findings."""
    sessions = window.audit.sessions
    qtbot.waitUntil(lambda: sessions.loaded and not sessions.loading, timeout=30_000)
    usage = window.usage
    usage.set_range(None, MARCH)
    qtbot.waitUntil(lambda: usage.daily is not None and usage.daily.range == MARCH
                    and not usage._loading, timeout=30_000)
    cooldowns = window.cooldowns
    qtbot.waitUntil(lambda: cooldowns.model.rowCount() > 0, timeout=30_000)
    recovery = window.recovery
    recovery.show()
    qtbot.waitUntil(lambda: recovery.state is not None, timeout=60_000)
    daily = usage.daily
    assert daily is not None
    return {
        "sessions": model_texts(sessions),
        "usage": (daily.range, daily.seconds),
        "cooldowns": [(r.entry_id, r.raw) for r in cooldowns.model.rows],
        "findings": [(f.kind, f.session_id, f.entry_id, f.min_seconds, f.max_seconds)
                     for f in recovery.state.report.findings],
    }


def test_a_remote_window_shows_what_a_local_one_shows(qtbot: Any, tmp_path: Path,
                                                      sshd: Sshd) -> None:
    with shot_database("rust-crash-restarted.db") as path:
        remote = remote_window(qtbot, sshd, path)
        local = MainWindow()
        qtbot.addWidget(local)
        local.open_path(path, read_only=True)
        try:
            assert remote.db.remote is not None and remote.db.host == "127.0.0.1"
            assert remote.windowTitle() == "shepherdd.db on 127.0.0.1 — Shepherd Inspector"
            assert remote.status.path.text() == sshd.url(path)
            assert remote.status.connection.text() == "connected to 127.0.0.1"
            assert remote.status.access.text() == "read-only"
            assert remote.status.layout_label.text() == local.status.layout_label.text()
            assert audit_texts(qtbot, remote) == audit_texts(qtbot, local)
            assert len(audit_texts(qtbot, remote)) == 130
            remote_tabs, local_tabs = loaded_tabs(qtbot, remote), loaded_tabs(qtbot, local)
            assert remote_tabs == local_tabs
            assert remote_tabs["findings"] and len(remote_tabs["sessions"]) == 16
            assert sum(sum(v) for v in remote_tabs["usage"][1].values()) > 0
            remote.tabs.setCurrentIndex(0)
            assert remote.grab().save(shot_path("remote-window.png", tmp_path))
        finally:
            close_window(remote)
            close_window(local)


def test_a_local_commit_appears_in_the_remote_window_live(qtbot: Any, tmp_path: Path,
                                                          sshd: Sshd) -> None:
    path = copy_fixture(tmp_path, "rust-clean.db")
    window = remote_window(qtbot, sshd, path)
    try:
        model = window.audit.model
        before = model.rowCount()
        with SqliteStore.open(path) as writer:
            writer.append_audit(AuditEvent(0, local_now(), ServiceStarted()))
        qtbot.waitUntil(lambda: model.rowCount() == before + 1, timeout=15_000)
        assert "Service started" in str(audit_texts(qtbot, window)[0])
        assert window.db.last_change is not None
    finally:
        close_window(window)


def test_a_remote_database_is_read_only_until_edits_are_allowed(
        qtbot: Any, tmp_path: Path, sshd: Sshd, monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_fixture(tmp_path, "rust-crash-restarted.db")
    window = remote_window(qtbot, sshd, path)
    try:
        db, tab = window.db, window.cooldowns
        qtbot.waitUntil(lambda: tab.model.rowCount() > 0, timeout=30_000)
        assert window.action_read_only.isChecked() and not db.writable
        with pytest.raises(ReadOnlyError):
            db.write(lambda store: None)
        tab.select_entries(["minecraft"])
        assert tab.edit_actions and not any(a.isEnabled() for a in tab.edit_actions.values())
        assert tab.notice.text().startswith("Read-only: read-only mode is on")
        asked: list[str] = []
        monkeypatch.setattr(window, "confirm_remote_edits",
                            lambda host: asked.append(host) is not None)  # says no
        window.action_read_only.setChecked(False)
        assert asked == ["127.0.0.1"] and window.action_read_only.isChecked()
        assert not db.writable and db.remote is not None and db.remote.store.read_only

        monkeypatch.setattr(window, "confirm_remote_edits", lambda host: True)
        window.action_read_only.setChecked(False)
        qtbot.waitUntil(lambda: db.writable, timeout=30_000)
        assert window.status.access.text() == "writable"
        tab.select_entries(["minecraft"])
        assert any(a.isEnabled() for a in tab.edit_actions.values())
        with SqliteStore.open(path, read_only=True) as local:
            old = local.get_cooldown_until("minecraft")
        assert old is not None
        monkeypatch.setattr(tab, "confirm", lambda text: True)
        reports: list[str] = []
        monkeypatch.setattr(tab, "report", reports.append)
        tab.select_entries(["minecraft"])
        before = local_now()
        tab.extend_selected(timedelta(minutes=15))  # (long over: 15 minutes from now)
        after = local_now()
        assert reports == []
        with SqliteStore.open(path, read_only=True) as local:
            until = local.get_cooldown_until("minecraft")
            assert until is not None and until != old
            assert before + timedelta(minutes=15) <= until + timedelta(seconds=1)
            assert until <= after + timedelta(minutes=15, seconds=1)
            trace = local.list_overrides()[0].change
        assert trace.entry_id == "minecraft" and "tester@laptop" in trace.user
        qtbot.waitUntil(lambda: dict((r.entry_id, r.raw) for r in tab.model.rows)[
            "minecraft"] == trace.new, timeout=15_000)
    finally:
        close_window(window)


def test_snapshot_edits_and_repairs_go_through(
        qtbot: Any, tmp_path: Path, sshd: Sshd, monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    window = remote_window(qtbot, sshd, path)
    try:
        monkeypatch.setattr(window, "confirm_remote_edits", lambda host: True)
        window.action_read_only.setChecked(False)
        qtbot.waitUntil(lambda: window.db.writable, timeout=30_000)
        snapshot = window.snapshot
        qtbot.waitUntil(lambda: snapshot.state is not None, timeout=30_000)
        assert snapshot.state is not None and "active_session" in (snapshot.state.text or "")
        monkeypatch.setattr(snapshot, "confirm", lambda text: True)
        reports: list[str] = []
        monkeypatch.setattr(snapshot, "report", reports.append)
        assert snapshot.clear_session() and reports == []
        with SqliteStore.open(path, read_only=True) as local:
            stored = local.load_snapshot()
            trace = local.list_overrides()[0].change
        assert stored is not None and stored.active_session is None
        assert trace.what == "snapshot" and "tester@laptop" in trace.user
        with pytest.raises(RecoveryConflict, match="not an interrupted session") as refused:
            window.db.write(lambda store: repair(store, "0123"))  # (test_remote_repair.py)
        assert refused.value.reason == "unknown"  # asked there, refused as locally
    finally:
        close_window(window)


def test_open_remote_dialog_says_what_is_missing_and_copies_the_library(
        qtbot: Any, tmp_path: Path, sshd: Sshd) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    window = MainWindow()
    qtbot.addWidget(window)
    window.db.remote_options = remote_options(
        sshd, remote_python=[sys.executable, "-S"], remote_cache=str(tmp_path / "cache"))
    window.show()
    try:
        dialog = window.choose_remote()
        assert dialog.isVisible() and dialog.path.text() == "/var/lib/shepherdd/shepherdd.db"
        dialog.computer.setEditText(f"{sshd.user}@127.0.0.1:{sshd.port}")
        dialog.path.setText(str(path))
        assert dialog.url_text() == sshd.url(path)
        dialog.start()
        assert dialog.progress.isVisible() and not dialog.connect_button.isEnabled()
        qtbot.waitUntil(lambda: dialog.copy_library.isVisible(), timeout=30_000)
        assert "library is not installed" in dialog.status.text()
        assert "pip install" in dialog.status.text()
        assert window.db.store is None  # nothing changed in the window
        dialog.resize(760, dialog.sizeHint().height())
        assert dialog.grab().save(shot_path("remote-open-dialog.png", tmp_path))
        dialog.copy_library.click()
        qtbot.waitUntil(lambda: window.db.store is not None, timeout=60_000)
        assert not dialog.isVisible()
        zipped = tmp_path / "cache" / library_zip().version / "shepherd_store.zip"
        assert zipped.is_file()
        qtbot.waitUntil(lambda: window.audit.model.rowCount() > 0, timeout=30_000)
        assert recent_remotes(window.settings) == [sshd.url(path)]
        assert window.recent_menu.actions()[0].text() == sshd.url(path)

        again = window.choose_remote()  # the recent remote is offered
        assert again.computer.currentText() == f"{sshd.user}@127.0.0.1:{sshd.port}"
        assert again.path.text() == str(path)
        again.start()
        again.reject()  # Cancel while connecting: the window keeps its database
        assert not again.isVisible() and window.db.url == sshd.url(path)
        assert again.wait_closed(15.0)
    finally:
        close_window(window)


def test_the_command_line_and_open_recent_take_ssh_addresses(
        qtbot: Any, tmp_path: Path, sshd: Sshd, monkeypatch: pytest.MonkeyPatch) -> None:
    from inspector.app import open_window

    path = copy_fixture(tmp_path, "rust-v0.db")
    other = tmp_path / "other.db"
    shutil.copyfile(path, other)
    monkeypatch.setenv("SHEPHERD_SSH_OPTIONS", f"-F {sshd.ssh_config}")
    monkeypatch.setenv("SHEPHERD_REMOTE_PYTHON", sys.executable)
    window = open_window(sshd.url(path))
    qtbot.addWidget(window)
    try:
        assert window.action_read_only.isChecked()
        qtbot.waitUntil(lambda: window.db.store is not None, timeout=30_000)
        assert window.db.url == sshd.url(path) and window.db.path is None
        window.open_path(other)  # a local file
        assert window.db.remote is None and window.db.path == other.absolute()
        window.recent_menu.actions()[1].trigger()  # the remote one again
        qtbot.waitUntil(lambda: window.db.store is not None and window.db.url is not None,
                        timeout=30_000)
        assert window.db.url == sshd.url(path)
        window.open_path("ssh://nohost")  # a malformed address: said, never a local file
        assert "Not a remote database address" in (window.db.error or "")
        assert window.banner.isVisibleTo(window)
        assert "ssh://[user@]host" in window.banner.text.text()
    finally:
        close_window(window)
