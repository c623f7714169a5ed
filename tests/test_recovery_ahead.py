"""Reading ahead (`SqliteStore.read_id_ranges(..., ahead=True)`, the Recovery scan's full
reads): each range is staged by a helper thread while the caller works on the one before.

The rows, ranges and observed statements are those read without it; at most one range is
read ahead, on the caller's own connection, each statement staged; closing the iterator
(a cancelled scan, an error in the caller) ends the helper at once; the helper's errors
reach the caller as they would have without it; and the scanner reads ahead only long
reads, with the same report.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

import shepherd_store.store as store_module
import shepherd_store.store_reads as reads_module
from shepherd_store import SqliteStore
from shepherd_store.errors import LockedError, StoreError
from shepherd_store.recovery import RecoveryScanner, recover
from shepherd_store.recovery import scanner as recovery_module
from shepherd_store.store_reads import READ_AHEAD_THREAD
from shepherd_store.store_sql import AHEAD

sys.path.insert(0, str(REPO / "benchmarks"))

from _gen import build

SQL = ("SELECT id, timestamp, event_json FROM audit_log WHERE id > ? AND id <= ? "
       "AND event_json NOT LIKE ? ORDER BY id")
PARAMS = ('{"type":"client%',)
IDS = 40  # ids a statement covers here: many statements per read


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Rust-layout log of 3,000 events with crashes: some `service_stopped` and
    `session_ended` rows taken out (unclean shutdowns, interrupted sessions)."""
    path = tmp_path_factory.mktemp("ahead") / "crashed.db"
    build("rust", 3000, path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DELETE FROM audit_log WHERE id % 3 = 0 AND "
                 "event_json LIKE '{\"type\":\"service_stopped\"%'")
    conn.execute("DELETE FROM audit_log WHERE id % 29 = 0 AND "
                 "event_json LIKE '{\"type\":\"session_ended\"%'")
    conn.close()
    return path


@pytest.fixture
def small_statements(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read of an id range covers at most `IDS` ids, and the scanner reads ahead
    any read of more than that."""
    for name in ("SCAN_START", "SCAN_LOWEST", "SCAN_CHUNK"):
        monkeypatch.setattr(store_module, name, IDS)
    monkeypatch.setattr(recovery_module, "SCAN_CHUNK", IDS)


def helpers_running() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == READ_AHEAD_THREAD and t.is_alive()]


class Stages:
    """Counts the staging steps (`store_sql.stage`) each thread runs; `fail_at`: the range
    (its first id) whose step raises `error` instead."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.by_thread: dict[str, int] = {}
        self.fail_at: int | None = None
        self.error: BaseException = sqlite3.OperationalError("disk I/O error")
        real = reads_module.stage

        def stage(conn: sqlite3.Connection, table: str, sql: str, params: tuple[Any, ...],
                  columns: int) -> Any:
            name = threading.current_thread().name
            self.by_thread[name] = self.by_thread.get(name, 0) + 1
            if sql == SQL and params[0] == self.fail_at:
                raise self.error
            return real(conn, table, sql, params, columns)

        monkeypatch.setattr(reads_module, "stage", stage)

    @property
    def ahead(self) -> int:
        return self.by_thread.get(READ_AHEAD_THREAD, 0)


def observed(store: SqliteStore) -> list[tuple[str, tuple[Any, ...], str]]:
    """The statements `store` reports to its observer, with the thread that was told."""
    seen: list[tuple[str, tuple[Any, ...], str]] = []
    store.statement_observer = lambda sql, params, seconds: seen.append(
        (sql, params, threading.current_thread().name))
    return seen


# --- read_id_ranges -------------------------------------------------------------------------


def test_reading_ahead_gives_the_ranges_rows_and_statements_read_in_turn(
        crashed: Path, small_statements: None, monkeypatch: pytest.MonkeyPatch) -> None:
    stages = Stages(monkeypatch)
    with SqliteStore.open(crashed, read_only=True) as store:
        low, top = store.audit_id_range() or (0, 0)
        seen = observed(store)
        plain = list(store.read_id_ranges(SQL, low - 1, top, columns=3, params=PARAMS))
        plain_seen = list(seen)
        seen.clear()
        assert stages.ahead == 0
        ahead = list(store.read_id_ranges(SQL, low - 1, top, columns=3, params=PARAMS,
                                          ahead=True))
        assert ahead == plain and len(ahead) >= 3000 // IDS
        # The observer is told of the same statements, in order, in the caller's thread.
        assert [s[:2] for s in seen] == [s[:2] for s in plain_seen]
        assert {name for _sql, _p, name in seen} == {threading.current_thread().name}
        # Every range was staged by the helper, on the caller's own connection (no other
        # opened), into the read-ahead table, which is left empty.
        assert stages.ahead == len(ahead)
        assert store._by_thread == {} and store._thread_conns == []
        conn, _lock = store._reader()
        assert conn.execute(f"SELECT count(*) FROM temp.{AHEAD}3").fetchone() == (0,)
    assert not helpers_running()


def test_at_most_one_range_is_read_ahead_and_closing_ends_the_helper(
        crashed: Path, small_statements: None, monkeypatch: pytest.MonkeyPatch) -> None:
    stages = Stages(monkeypatch)
    with SqliteStore.open(crashed, read_only=True) as store:
        low, top = store.audit_id_range() or (0, 0)
        ranges = store.read_id_ranges(SQL, low - 1, top, columns=3, params=PARAMS,
                                      ahead=True)
        taken = 0
        for _hi, _rows in ranges:
            taken += 1
            time.sleep(0.01)  # (time for the helper to run ahead, were it allowed to)
            assert stages.ahead <= taken + 1
            assert len(helpers_running()) == 1
            if taken == 5:
                break
        ranges.close()  # (as the scanner does on a cancel or an error)
        assert not helpers_running()
        assert stages.ahead == taken + 1  # the one staged ahead, and no more
        conn, _lock = store._reader()
        assert conn.execute(f"SELECT count(*) FROM temp.{AHEAD}3").fetchone() == (0,)


def test_an_error_of_the_helper_reaches_the_caller_as_without_it(
        crashed: Path, small_statements: None, monkeypatch: pytest.MonkeyPatch) -> None:
    stages = Stages(monkeypatch)
    with SqliteStore.open(crashed, read_only=True) as store:
        low, top = store.audit_id_range() or (0, 0)
        stages.fail_at = low - 1 + 3 * IDS  # the fourth range's step fails
        raised: dict[bool, tuple[type[BaseException], str, int]] = {}
        for ahead in (False, True):
            got: list[int] = []
            with pytest.raises(StoreError) as error:
                for hi, _rows in store.read_id_ranges(SQL, low - 1, top, columns=3,
                                                      params=PARAMS, ahead=ahead):
                    got.append(hi)
            raised[ahead] = (type(error.value), str(error.value), len(got))
            assert not helpers_running()
        assert raised[True] == raised[False]
        assert raised[True][2] == 3 and "disk I/O error" in raised[True][1]
        # An error that is not SQLite's reaches the caller as it was raised.
        stages.error = MemoryError("no room")
        with pytest.raises(MemoryError, match="no room"):
            list(store.read_id_ranges(SQL, low - 1, top, columns=3, params=PARAMS,
                                      ahead=True))
        assert not helpers_running()


def test_a_lock_held_by_the_service_fails_the_read_ahead_as_any_read(
        crashed: Path, tmp_path: Path, small_statements: None) -> None:
    path = tmp_path / "locked.db"
    path.write_bytes(crashed.read_bytes())
    service = sqlite3.connect(path, isolation_level=None)
    try:
        with SqliteStore.open(path, read_only=True, busy_timeout=0.05) as store:
            low, top = store.audit_id_range() or (0, 0)
            got = 0
            with pytest.raises(LockedError):
                for _hi, _rows in store.read_id_ranges(SQL, low - 1, top, columns=3,
                                                       params=PARAMS, ahead=True):
                    got += 1
                    if got == 2:  # the third range may be staged already: not the fourth
                        service.execute("BEGIN EXCLUSIVE")
            assert got in (2, 3) and store.lockouts == 1
            assert not helpers_running()
    finally:
        with contextlib.suppress(sqlite3.Error):
            service.execute("ROLLBACK")
        service.close()


def test_without_a_thread_to_be_had_the_ranges_are_read_in_turn(
        crashed: Path, small_statements: None, monkeypatch: pytest.MonkeyPatch) -> None:
    stages = Stages(monkeypatch)
    real_start = threading.Thread.start

    def start(thread: threading.Thread) -> None:
        if thread.name == READ_AHEAD_THREAD:
            raise RuntimeError("can't start new thread")
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    with SqliteStore.open(crashed, read_only=True) as store:
        low, top = store.audit_id_range() or (0, 0)
        ahead = list(store.read_id_ranges(SQL, low - 1, top, columns=3, params=PARAMS,
                                          ahead=True))
        assert ahead == list(store.read_id_ranges(SQL, low - 1, top, columns=3,
                                                  params=PARAMS))
    assert stages.ahead == 0 and len(ahead) >= 3000 // IDS


# --- the scanner ----------------------------------------------------------------------------


@pytest.fixture
def ahead_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Whether each read of the scan's rows (`_read_range`) asked to read ahead."""
    calls: list[bool] = []
    real = SqliteStore.read_id_ranges

    def read_id_ranges(self: SqliteStore, sql: str, low: int, top: int, **kw: Any) -> Any:
        if sql.startswith("SELECT id, timestamp, "):
            calls.append(kw.get("ahead", False))
        return real(self, sql, low, top, **kw)

    monkeypatch.setattr(SqliteStore, "read_id_ranges", read_id_ranges)
    yield calls


def test_a_full_scan_reads_ahead_an_update_does_not_and_the_report_is_the_same(
        crashed: Path, tmp_path: Path, small_statements: None, ahead_calls: list[bool],
        monkeypatch: pytest.MonkeyPatch) -> None:
    stages = Stages(monkeypatch)
    path = tmp_path / "grows.db"
    path.write_bytes(crashed.read_bytes())
    with SqliteStore.open(path, read_only=True) as store:
        scanner = RecoveryScanner(store)
        report = scanner.scan()
        assert ahead_calls == [True] and stages.ahead >= 3000 // IDS
        with monkeypatch.context() as m:
            m.setattr(recovery_module, "SCAN_CHUNK", 1 << 40)  # nothing is long: in turn
            assert recover(store, now=report.now) == report
        assert ahead_calls == [True, False]
        assert [f.kind for f in report.findings].count("unclean_shutdown") >= 3
        assert "interrupted_session" in {f.kind for f in report.findings}
        # An update reads the few rows added since as they are asked for.
        writer = sqlite3.connect(path, isolation_level=None)
        writer.executemany("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                           [("2030-01-01T00:00:00+00:00", '{"type":"service_started"}')] * 5)
        writer.close()
        ahead_calls.clear()
        before = stages.ahead
        updated = scanner.update(now=report.now)
        assert ahead_calls == [False] and stages.ahead == before
        assert updated.last_id == report.last_id + 5
    assert not helpers_running()


def test_a_cancelled_scan_stops_at_once_with_the_helper_ended(
        crashed: Path, small_statements: None, monkeypatch: pytest.MonkeyPatch) -> None:
    stages = Stages(monkeypatch)
    with SqliteStore.open(crashed, read_only=True) as store:
        asked: list[int] = []

        def cancel() -> bool:
            asked.append(stages.ahead)
            return len(asked) > 4

        report = RecoveryScanner(store).scan(cancel=cancel)
        assert not report.complete and not helpers_running()
        assert stages.ahead == len(asked)  # the ranges ingested, and the one staged ahead


def test_an_error_while_ingesting_ends_the_helper_and_the_next_scan_reads_anew(
        crashed: Path, small_statements: None, monkeypatch: pytest.MonkeyPatch) -> None:
    real = recovery_module.ingest
    calls: list[int] = []

    def ingest(state: Any, rows: list[Any]) -> None:
        calls.append(len(rows))
        if len(calls) == 3:
            raise RuntimeError("ingest failed")
        real(state, rows)

    with SqliteStore.open(crashed, read_only=True) as store:
        scanner = RecoveryScanner(store)
        error: BaseException | None = None
        with monkeypatch.context() as m:
            m.setattr(recovery_module, "ingest", ingest)
            try:
                scanner.scan()
            except RuntimeError as exc:
                error = exc  # (its traceback keeps the scan's frames, and what they hold)
        assert not helpers_running()
        assert error is not None and str(error) == "ingest failed"
        updated = scanner.update()
        assert updated.complete and updated == recover(store, now=updated.now)
