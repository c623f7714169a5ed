"""Tests that fail for faults the rest of the suite let through, one each.

Every test here was proved by making its fault in the product code, watching the test fail,
and restoring the code (the commit message that added this file lists each proof):

1. a read-only store whose connections are opened `mode=rw` (only a Python flag stopping
   writes): its connections must refuse a raw write at the SQLite level;
2. the audit model's filtered live refresh dropping the newest matching row;
3. the watcher not watching `-wal` (commits then arrive only with the slow poll), and the
   same for a rollback-journal database;
4. "today" computed in UTC by `shepherd-store usage` and by the Usage tab's default range;
5. `PRAGMA synchronous = FULL` not run on a connection that writes (this SQLite build's WAL
   default happens to be FULL too, so reading `PRAGMA synchronous` back cannot tell).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

from shepherd_store import (
    AuditEvent,
    LaunchDenied,
    PolicyLoaded,
    ServiceStarted,
    SessionStarted,
    SqliteStore,
)
from shepherd_store.events import encode_event

REPO = Path(__file__).resolve().parent.parent
WHEN = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
T = TypeVar("T")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def started(entry: str, n: int) -> SessionStarted:
    return SessionStarted(session_id=str(uuid.UUID(int=n)), entry_id=entry,
                          label=entry.title(), deadline=None)


def append_raw(path: Path, events: list[Any]) -> list[int]:
    """Append `events` in ONE transaction from a connection of another "process" (as the
    service would); their ids."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        ids = []
        for i, event in enumerate(events):
            stamp = (datetime.now(UTC) + timedelta(microseconds=i)).isoformat()
            cur = conn.execute("INSERT INTO audit_log (timestamp, event_type, event_data) "
                               "VALUES (?, ?, ?)", (stamp, event.TYPE, encode_event(event)))
            assert cur.lastrowid is not None
            ids.append(cur.lastrowid)
        conn.execute("COMMIT")
        return ids
    finally:
        conn.close()


# --- 1. read-only means read-only at the SQLite level ---------------------------------------


def test_a_read_only_stores_connections_refuse_a_raw_write(tmp_path: Path) -> None:
    """Not only the store's `read_only` flag: the connections it reads through (the opening
    thread's and each other thread's, see `_reader`) are `mode=ro`, so even a raw DELETE
    is refused by SQLite and the file keeps every byte."""
    path = tmp_path / "shepherdd.db"
    with SqliteStore.open(path) as writer:
        writer.append_audit(AuditEvent(0, WHEN, ServiceStarted()))
        writer.add_usage("tuxmath", date(2026, 3, 2), timedelta(minutes=5))
    before = sha256(path)  # the last close checkpointed the WAL: every row is in the file
    with SqliteStore.open(path, read_only=True) as store:
        own, _lock = store._reader()
        assert own is store._conn
        with pytest.raises(sqlite3.OperationalError, match="attempt to write a readonly"):
            own.execute("DELETE FROM audit_log")
        with pytest.raises(sqlite3.OperationalError, match="attempt to write a readonly"):
            own.execute("INSERT INTO usage (entry_id, day, duration_secs) "
                        "VALUES ('x', '2026-03-02', 1)")

        outcome: list[str] = []

        def other_thread() -> None:  # a worker's connection of its own (Qt's pool threads)
            conn, lock = store._reader()
            assert conn is not own
            with lock:
                try:
                    conn.execute("DELETE FROM usage")
                except sqlite3.OperationalError as exc:
                    outcome.append(str(exc))
                else:
                    outcome.append("deleted")

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert outcome and "attempt to write a readonly database" in outcome[0], outcome
        # ...and the store still reads what was there.
        assert [e.event for e in store.get_recent_audits(5)] == [ServiceStarted()]
        assert store.get_usage("tuxmath", date(2026, 3, 2)) == timedelta(minutes=5)
    assert sha256(path) == before


# --- 2. the filtered event log's live refresh -----------------------------------------------


@pytest.fixture
def log_db(tmp_path: Path) -> Path:
    """A seed database with a few sessions of two entries."""
    path = tmp_path / "shepherdd.db"
    SqliteStore.open(path).close()
    append_raw(path, [ServiceStarted(), started("tuxmath", 1), started("minecraft", 2),
                      started("tuxmath", 3)])
    return path


def event_log_window(qtbot: Any, path: Path) -> Any:
    from inspector.app import open_window

    window = open_window(path, read_only=True)
    qtbot.addWidget(window)
    window.show()
    window.audit.show_events()  # the Audit tab opens on Sessions
    qtbot.waitUntil(lambda: not window.audit.model.loading
                    and window.audit.model.rowCount() > 0, timeout=5000)
    return window


@pytest.mark.parametrize("how", ["entry", "type"])
def test_a_filtered_event_log_shows_every_new_matching_row_newest_first(
        qtbot: Any, log_db: Path, how: str) -> None:
    window = event_log_window(qtbot, log_db)
    tab, model = window.audit, window.audit.model
    if how == "entry":
        qtbot.waitUntil(lambda: tab.entry_combo.findData("tuxmath") >= 0, timeout=5000)
        tab.entry_combo.setCurrentIndex(tab.entry_combo.findData("tuxmath"))
    else:
        tab.type_actions["session_started"].setChecked(True)
    qtbot.waitUntil(lambda: model.filtered and not model.loading, timeout=5000)

    def matches(event: Any) -> bool:
        if how == "type":
            return isinstance(event, SessionStarted)
        return isinstance(event, SessionStarted | LaunchDenied) and event.entry_id == "tuxmath"

    def ids() -> list[int]:
        return [e.id for e in (model.event_at(r) for r in range(model.rowCount())) if e]

    shown = ids()
    assert len(shown) == (2 if how == "entry" else 3)
    rounds: list[list[Any]] = [
        # several matching rows among others, the newest row of all a matching one
        [started("tuxmath", 10), PolicyLoaded(3), started("tuxmath", 11),
         LaunchDenied(entry_id="minecraft", reasons=("quota",)),
         LaunchDenied(entry_id="tuxmath", reasons=("cooldown",)), started("tuxmath", 12)],
        # a single new row, which matches
        [started("tuxmath", 13)],
        # a matching row followed by rows that do not match
        [started("tuxmath", 14), PolicyLoaded(4), ServiceStarted()],
    ]
    for events in rounds:
        with qtbot.waitSignal(window.db.changed, timeout=5000):  # the watcher, not a poke
            new = append_raw(log_db, events)
        # The model refreshes in its own slot of `changed`, connected before this wait's.
        expected = [i for i, e in zip(new, events, strict=True) if matches(e)][::-1] + shown
        assert ids() == expected, f"after appending {[type(e).__name__ for e in events]}"
        assert model.event_at(0) is not None and model.event_at(0).id == max(expected)
        shown = expected


# --- 3. the watcher notices commits through file events, not the poll -----------------------

HOUR_MS = 3_600_000  # the safety-net poll, made too slow to help


@contextmanager
def watching(qtbot: Any, path: Path) -> Iterator[Any]:
    """A `DbWatcher` on `path` over a read-only store, as the window has, whose poll never
    fires within a test: whatever it notices came through file events."""
    from inspector.watcher import DbWatcher

    store = SqliteStore.open(path, read_only=True, busy_timeout=0.75)
    watcher = DbWatcher(path, store.change_token, poll_ms=HOUR_MS)
    try:
        assert watcher._poll.interval() == HOUR_MS
        yield watcher
    finally:
        watcher.stop()
        watcher.deleteLater()
        store.close()


def commits_are_noticed(qtbot: Any, watcher: Any, writer: SqliteStore) -> None:
    seen: list[float] = []
    watcher.changed.connect(lambda: seen.append(time.monotonic()))
    for n in range(3):
        before = len(seen)
        committed = time.monotonic()
        writer.append_audit(AuditEvent.new(PolicyLoaded(n)))
        qtbot.waitUntil(lambda b=before: len(seen) > b, timeout=2000)  # type: ignore[misc]
        assert seen[-1] - committed < 2.0


def test_the_watcher_notices_a_wal_commit_through_the_wal_file(qtbot: Any,
                                                               tmp_path: Path) -> None:
    """A WAL commit writes only `-wal` (the database file changes at a checkpoint): without
    a watch on `-wal` it would arrive only with the poll."""
    path = tmp_path / "shepherdd.db"
    with SqliteStore.open(path) as writer:
        assert writer.journal_mode == "wal"
        writer.append_audit(AuditEvent.new(ServiceStarted()))  # -wal exists from here on
        assert Path(f"{path}-wal").stat().st_size > 0
        with watching(qtbot, path) as watcher:
            mtime = path.stat().st_mtime_ns
            commits_are_noticed(qtbot, watcher, writer)
            assert path.stat().st_mtime_ns == mtime, "a checkpoint touched the file"


def test_the_watcher_notices_a_rollback_journal_commit(qtbot: Any, tmp_path: Path) -> None:
    """The shipped service's mode: a commit creates and deletes `-journal` beside the file
    and rewrites the file itself."""
    path = tmp_path / "shepherdd.db"
    SqliteStore.open(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    conn.close()
    with SqliteStore.open(path) as writer, watching(qtbot, path) as watcher:
        assert writer.journal_mode == "delete"
        commits_are_noticed(qtbot, watcher, writer)


# --- 4. "today" is the viewer's local date ------------------------------------------------

ZONES = ("Pacific/Kiritimati", "Pacific/Pago_Pago", "Pacific/Honolulu", "Asia/Tokyo",
         "America/Los_Angeles", "Europe/Berlin", "Australia/Sydney")


def local_today(zone: str) -> date:
    return datetime.now(ZoneInfo(zone)).date()


def utc_today() -> date:
    return datetime.now(UTC).date()


def zone_where_today_is_not_utcs() -> str:
    """A zone whose date differs from UTC's right now (one of UTC+14 and UTC-11 always
    does), the one farthest from a midnight: the dates stay apart for the test's run."""
    now = datetime.now(UTC)
    best, margin = "", -1.0
    for zone in ZONES:
        local = now.astimezone(ZoneInfo(zone))
        if local.date() == now.date():
            continue
        since = local.hour * 3600 + local.minute * 60 + local.second
        utc_since = now.hour * 3600 + now.minute * 60 + now.second
        m = min(since, 86_400 - since, utc_since, 86_400 - utc_since)
        if m > margin:
            best, margin = zone, m
    assert best, "no zone's date differs from UTC's"
    return best


def while_dates_hold(zone: str, run: Callable[[], T]) -> tuple[T, date]:
    """`run()` and the zone's date during it, repeated (rarely) when a midnight passed
    meanwhile; the zone's date differs from UTC's throughout."""
    for _ in range(3):
        before = (local_today(zone), utc_today())
        result = run()
        if (local_today(zone), utc_today()) == before:
            assert before[0] != before[1], f"{zone}'s date is UTC's: the test proves nothing"
            return result, before[0]
    raise AssertionError("the date kept changing")  # pragma: no cover


def test_the_usage_commands_default_range_ends_on_the_local_date(tmp_path: Path) -> None:
    zone = zone_where_today_is_not_utcs()
    path = tmp_path / "shepherdd.db"
    SqliteStore.open(path).close()

    def usage() -> dict[str, Any]:
        result = subprocess.run(
            [sys.executable, "-m", "shepherd_store", "--db", str(path), "usage", "--json"],
            capture_output=True, text=True, timeout=60, cwd=REPO,
            env={**os.environ, "TZ": zone, "PYTHONPATH": str(REPO)})
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    doc, today = while_dates_hold(zone, usage)
    assert doc["to"] == today.isoformat(), f"TZ={zone}, UTC's date is {utc_today()}"
    assert doc["from"] == (today - timedelta(days=6)).isoformat()


@contextmanager
def machine_zone(zone: str) -> Iterator[None]:
    """This process's local time zone set to `zone` (TZ and tzset), restored afterwards."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


def test_the_usage_tabs_default_range_and_today_are_the_local_date(qtbot: Any,
                                                                    tmp_path: Path) -> None:
    from inspector.app import open_window
    from inspector.usage_summary import COLUMNS

    today_column = COLUMNS.index("Today")
    zone = zone_where_today_is_not_utcs()
    path = tmp_path / "shepherdd.db"
    with SqliteStore.open(path) as writer:
        local, utc = local_today(zone), utc_today()
        writer.add_usage("tuxmath", local, timedelta(minutes=10))
        writer.add_usage("tuxmath", utc, timedelta(minutes=20))  # the day before or after

    def build() -> tuple[date, date, str]:
        window = open_window(path, read_only=True)
        qtbot.addWidget(window)
        window.show()
        tab = window.usage
        with qtbot.waitSignal(tab.dataApplied, timeout=10_000):
            window.tabs.setCurrentWidget(tab)
        qtbot.waitUntil(lambda: bool(tab.summary_row("tuxmath")), timeout=5000)
        assert tab.daily is not None
        shown = (tab.to_edit.date().toPython(), tab.daily.range.end,
                 tab.summary_row("tuxmath")[today_column])
        window.close()
        return shown  # type: ignore[return-value]

    with machine_zone(zone):
        (to_day, range_end, today_text), today = while_dates_hold(zone, build)
    assert today == local
    assert to_day == range_end == today, f"TZ={zone}, UTC's date is {utc_today()}"
    assert today_text == "10 min"


# --- 5. every connection that writes runs synchronous = FULL first ------------------------

WRITES = ("BEGIN IMMEDIATE", "PRAGMA journal_mode = WAL")


def traced_connections(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The statements of every connection `sqlite3.connect` opens from now on, one list
    per connection, as SQLite runs them."""
    made: list[list[str]] = []
    real_connect = sqlite3.connect

    def connect(*args: Any, **kw: Any) -> sqlite3.Connection:
        conn = real_connect(*args, **kw)
        seen: list[str] = []
        made.append(seen)
        conn.set_trace_callback(seen.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    return made


def write_everything(store: SqliteStore) -> None:
    store.append_audit(AuditEvent(0, WHEN, ServiceStarted()))
    store.add_usage("tuxmath", date(2026, 3, 2), timedelta(minutes=5))
    store.set_cooldown_until("tuxmath", WHEN)
    store.clear_cooldown("tuxmath")


def assert_full_before_every_write(connections: list[list[str]]) -> int:
    """Each connection that wrote ran `PRAGMA synchronous = FULL` before its first write;
    how many wrote."""
    writers = 0
    for statements in connections:
        writes = [i for i, sql in enumerate(statements) if sql.strip().startswith(WRITES)]
        if not writes:
            continue
        writers += 1
        full = [i for i, sql in enumerate(statements)
                if " ".join(sql.split()).upper() == "PRAGMA SYNCHRONOUS = FULL"]
        assert full and full[0] < writes[0], \
            f"wrote without synchronous = FULL first: {statements[:writes[0] + 1]}"
    return writers


@pytest.mark.parametrize("kind", ["new", "existing wal", "existing rollback journal"])
def test_every_writing_connection_runs_synchronous_full_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """A new database (created by the store, in WAL mode) and an existing one (the edit
    path of the inspector and the CLI): SQLite's compiled-in default is not relied on."""
    path = tmp_path / "shepherdd.db"
    if kind != "new":
        SqliteStore.open(path).close()
    if kind == "existing rollback journal":
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.close()
    connections = traced_connections(monkeypatch)
    with SqliteStore.open(path) as store:
        if kind == "new":
            assert any("PRAGMA journal_mode = WAL" in s for s in connections[0])
            assert any(s.startswith("CREATE TABLE") for s in connections[0])
        write_everything(store)
    monkeypatch.undo()
    assert assert_full_before_every_write(connections) == 1
    with SqliteStore.open(path, read_only=True) as store:
        assert store.get_usage("tuxmath", date(2026, 3, 2)) == timedelta(minutes=5)
