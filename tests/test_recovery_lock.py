"""What the repair does under the write lock (issue 14): little, however much the log grew.

`repair` refuses when the log gained a row about the session (or, for an open run, a service
start or stop) since its report was read. The rows added since are read ahead in the store's
short statements; inside the write transaction, while the service's writes wait, only the
few added after that are looked at. The work under the lock is counted in SQLite's virtual
machine steps (a progress handler on the writing connection between BEGIN IMMEDIATE and
COMMIT), not in time: the figures do not depend on how busy the machine is. Under 1,000
steps now; when the whole check ran under the lock, 120,000 to 420,000 for these 60,000
rows.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import fixture_path

from shepherd_store import AuditEvent, ServiceStarted, SessionStarted, SqliteStore
from shepherd_store.query import SCAN_CHUNK
from shepherd_store.recovery import RecoveryConflict, RecoveryReport, recover, repair
from shepherd_store.recovery import repairs as repairs_module

CRASHED = "0f8ce7eb-fd2a-45f7-8af2-1d479169906c"  # the fixtures' interrupted session
LATER = datetime(2026, 12, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5)))
CLIENT = '{"type":"client_connected","client_id":"c","role":"Shell","uid":1000}'
ENDED = ('{"type":"session_ended","session_id":"' + CRASHED + '","entry_id":"minecraft",'
         '"reason":{"type":"user_stop"},"duration":{"secs":3500,"nanos":0}}')
APPENDED = 60_000  # rows the service writes after the report was read
#: Thousands of VM steps a repair may take under the lock (the usage and cooldown rows, the
#: trace, the recorded repairs, the few log rows added since the read ahead).
FEW = 10


def fixture_copy(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copyfile(fixture_path(name), dest)
    dest.chmod(0o644)
    return dest


def append(db: Path, rows: list[str]) -> int:
    """The service appends `rows` (event JSON, Rust layout): the id of the last."""
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                         [("2026-03-08T10:00:00-05:00", text) for text in rows])
        return int(conn.execute("SELECT max(id) FROM audit_log").fetchone()[0])


def report_of(db: Path) -> RecoveryReport:
    with SqliteStore.open(db, read_only=True) as store:
        return recover(store, now=LATER)


class UnderLock:
    """Counts the write transactions of `store.override` and the SQLite VM steps (in
    thousands) they run while holding the lock; `before(n)` runs before the n-th (from 0)
    takes it."""

    def __init__(self, store: SqliteStore, monkeypatch: pytest.MonkeyPatch,
                 before: Callable[[int], None] | None = None) -> None:
        self.steps = 0
        self.transactions = 0
        real = store.override

        @contextlib.contextmanager
        def override(action: str) -> Iterator[sqlite3.Connection]:
            if before is not None:
                before(self.transactions)
            with real(action) as conn:
                self.transactions += 1
                conn.set_progress_handler(self._tick, 1000)
                try:
                    yield conn
                finally:
                    conn.set_progress_handler(None, 1000)

        monkeypatch.setattr(store, "override", override)

    def _tick(self) -> int:
        self.steps += 1
        return 0  # (go on)


def log_ranges(store: SqliteStore) -> list[tuple[int, int]]:
    """The id ranges of the log the store's read statements cover, as they run."""
    ranges: list[tuple[int, int]] = []

    def observe(sql: str, params: tuple[Any, ...], _seconds: float) -> None:
        if "FROM audit_log WHERE id > ? AND id <= ?" in sql:
            ranges.append((params[0], params[1]))

    store.statement_observer = observe
    return ranges


def test_rows_added_after_the_report_are_read_ahead_not_under_the_lock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = fixture_copy("rust-crash-restarted.db", tmp_path)
    report = report_of(db)
    top = append(db, [CLIENT] * APPENDED)
    with SqliteStore.open(db) as store:
        lock = UnderLock(store, monkeypatch)
        ranges = log_ranges(store)
        result = repair(store, CRASHED, report=report, seconds=3400)
        assert (result.usage_before, result.usage_after) == (0, 3400)
        assert lock.transactions == 1 and lock.steps < FEW, lock.steps
        # Read ahead: the rows since the report, in consecutive short statements.
        assert ranges[0][0] == report.last_id and ranges[-1][1] == top
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        assert all(hi - lo <= SCAN_CHUNK for lo, hi in ranges)
        # A second repair from the same report is refused as before, as cheaply.
        lock.steps = 0
        with pytest.raises(RecoveryConflict) as again:
            repair(store, CRASHED, report=report, seconds=3400)
        assert again.value.reason == "resolved" and lock.steps < FEW


def test_a_row_about_the_session_far_behind_is_found_ahead(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = fixture_copy("rust-crash-restarted.db", tmp_path)
    report = report_of(db)
    ended = append(db, [CLIENT] * (APPENDED // 2) + [ENDED])
    append(db, [CLIENT] * (APPENDED // 2))
    with SqliteStore.open(db) as store:
        lock = UnderLock(store, monkeypatch)
        with pytest.raises(RecoveryConflict) as exc:
            repair(store, CRASHED, report=report)
        assert exc.value.reason == "changed" and f"row {ended} is about session" in str(exc.value)
        assert lock.steps < FEW and store.list_overrides() == []


def test_a_service_start_after_an_open_run_is_found_ahead(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = fixture_copy("rust-crash-down.db", tmp_path)  # the service never came back
    report = report_of(db)
    assert report.runs[0].end == "open" and report.finding(CRASHED) is not None
    started = append(db, [CLIENT] * APPENDED + ['{"type":"service_started"}'])
    with SqliteStore.open(db) as store:
        lock = UnderLock(store, monkeypatch)
        with pytest.raises(RecoveryConflict) as exc:
            repair(store, CRASHED, report=report)
        assert exc.value.reason == "changed" and f"row {started} " in str(exc.value)
        assert lock.steps < FEW and store.list_overrides() == []


@pytest.mark.parametrize("about_it", [False, True])
def test_rows_added_while_waiting_for_the_lock_are_read_ahead_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, about_it: bool) -> None:
    """More rows than the transaction checks arrive between the read ahead and the lock:
    it writes nothing, reads them ahead too and takes the lock again."""
    monkeypatch.setattr(repairs_module, "_RECHECK_IN_LOCK", 100)
    db = fixture_copy("rust-crash-restarted.db", tmp_path)
    report = report_of(db)
    rows = [CLIENT] * 300 + ([ENDED] if about_it else []) + [CLIENT] * 300
    last: list[int] = []

    def service_writes(transaction: int) -> None:
        if transaction == 0:
            last.append(append(db, rows))

    with SqliteStore.open(db) as store:
        lock = UnderLock(store, monkeypatch, before=service_writes)
        if about_it:
            with pytest.raises(RecoveryConflict) as exc:
                repair(store, CRASHED, report=report)
            assert exc.value.reason == "changed"
            assert f"row {report.last_id + 301} is about session" in str(exc.value)
            assert store.list_overrides() == []
        else:
            assert repair(store, CRASHED, report=report).seconds == 3300
        assert lock.transactions == 2 and lock.steps < FEW
        assert last == [report.last_id + len(rows)]


def test_a_log_grown_beyond_the_recheck_is_refused(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(repairs_module, "_MAX_RECHECK", 1_000)
    db = fixture_copy("rust-crash-restarted.db", tmp_path)
    report = report_of(db)
    append(db, [CLIENT] * 1_001)
    with SqliteStore.open(db) as store:
        ranges = log_ranges(store)
        with pytest.raises(RecoveryConflict) as exc:
            repair(store, CRASHED, report=report)
        assert exc.value.reason == "changed" and "grew a lot" in str(exc.value)
        assert ranges == []  # (nothing read ahead: it is refused anyway)


def test_seed_layout_a_second_repair_is_resolved_not_changed(tmp_path: Path) -> None:
    """In the seed layout the first repair's trace is a log row naming the session, read
    ahead by the second: that one is still refused as `resolved`, as before."""
    start = datetime(2026, 3, 7, 15, 0, tzinfo=timezone(timedelta(hours=-5)))
    with SqliteStore.open(tmp_path / "seed.db") as store:
        for when, event in ((start - timedelta(minutes=5), ServiceStarted()),
                            (start, SessionStarted(CRASHED, "minecraft", "Minecraft",
                                                   start + timedelta(hours=1))),
                            (start + timedelta(hours=2), ServiceStarted())):
            store.append_audit(AuditEvent(0, when, event))
        report = recover(store, now=LATER)
        assert repair(store, CRASHED, report=report, seconds=60).seconds == 60
        with pytest.raises(RecoveryConflict) as again:
            repair(store, CRASHED, report=report, seconds=60)
        assert again.value.reason == "resolved"
        assert store.get_usage("minecraft", start.date()) == timedelta(seconds=60)
