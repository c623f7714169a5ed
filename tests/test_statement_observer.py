"""What `SqliteStore.statement_observer` reports: how long a read statement held the
database's lock (DESIGN.md, "Short reads"), an upper bound of it.

A statement that really holds the lock long is reported long, staged or read directly, at
least as long as another connection was locked out by it. What comes after a staged
statement's step (waiting for the GIL that other threads hold: the lock is already
released then) and what comes before it (waiting for another process's lock) is not
counted. And staging gives exactly the rows and values the statement gives read directly.

Only relative facts are asserted (one duration against another measured in the same test),
never how fast anything is: benchmarks/bench_service_latency.py prints the figures.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import fixture_path

from shepherd_store import SqliteStore

#: Reads the log, then counts to three million: the read transaction (and the shared lock)
#: lasts until the count is done, a long time on any machine.
SLOW = ("SELECT (SELECT max(id) FROM audit_log), (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
        "SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c)")
#: The same shape, a thirtieth of the work.
SHORT = SLOW.replace("3000000", "100000")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A copy of rust-v0.db in rollback-journal mode (the shipped service's)."""
    path = tmp_path / "db.db"
    shutil.copyfile(fixture_path("rust-v0.db"), path)
    path.chmod(0o644)
    conn = sqlite3.connect(path, isolation_level=None)
    assert conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    conn.close()
    return path


class Observed:
    """Every (sql, params, seconds) the store's observer was given."""

    def __init__(self, store: SqliteStore) -> None:
        self.seen: list[tuple[str, tuple[Any, ...], float]] = []
        store.statement_observer = lambda sql, params, s: self.seen.append((sql, params, s))

    def of(self, sql: str) -> float:
        found = [s for q, _p, s in self.seen if q == sql]
        assert len(found) == 1, (sql, self.seen)
        return found[0]


class LockedOut:
    """Another connection trying to take the exclusive lock (as the service's commit does)
    every millisecond, until stopped: how long it was refused, from its first refusal to
    the next success."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=0,
                                    check_same_thread=False)
        self.stop = threading.Event()
        self.refused: list[float] = []  # start of each refused stretch, and its length
        self.thread = threading.Thread(target=self._run, name="locked-out")

    def __enter__(self) -> LockedOut:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.conn.close()

    def _run(self) -> None:
        first: float | None = None
        while not self.stop.is_set():
            try:
                self.conn.execute("BEGIN EXCLUSIVE")
                self.conn.execute("COMMIT")
                if first is not None:
                    self.refused.append(time.perf_counter() - first)
                    first = None
            except sqlite3.OperationalError as exc:
                assert "locked" in str(exc)
                if first is None:
                    first = time.perf_counter()
            time.sleep(0.001)

    @property
    def longest(self) -> float:
        return max(self.refused, default=0.0)


@pytest.mark.parametrize("staged", [True, False], ids=["staged", "read directly"])
def test_a_statement_holding_the_lock_long_is_reported_so(db: Path, staged: bool) -> None:
    """The observer reports at least the time another connection could not take the
    exclusive lock because of the statement, and most of the call's time."""
    with SqliteStore.open(db, read_only=True) as store:
        watch = Observed(store)
        store._read(SHORT)  # (the column count learnt before: not part of the comparison)
        with LockedOut(db) as other:
            time.sleep(0.02)  # it takes and releases the lock freely meanwhile
            assert not other.refused
            start = time.perf_counter()
            rows = store._read(SLOW) if staged else store._statement(SLOW, (), "read")[0]
            call = time.perf_counter() - start
            time.sleep(0.02)  # its next try, once the lock is free again
        assert rows == [(23, 3000000)]
        held = watch.seen[-1][2]
        assert watch.seen[-1][0] == SLOW
        assert other.longest > 0, "the statement never held the lock"
        assert held >= 0.8 * other.longest, (held, other.refused)
        assert held >= 0.5 * call, (held, call)
        # ... and far longer than the same statement doing a thirtieth of the work.
        store._read(SHORT)
        assert held > 5 * watch.seen[-1][2]


def test_waiting_for_the_gil_after_the_step_is_not_counted(db: Path) -> None:
    """The lock is released at the end of the staged statement's step, before its thread
    takes the GIL back. Another thread holding the GIL meanwhile (one long call into C:
    it never lets go) makes the call long, not the time reported."""
    with SqliteStore.open(db, read_only=True) as store:
        watch = Observed(store)
        store._read(SHORT)  # column count learnt, staging table made
        conn, _lock = store._reader()
        began = threading.Event()
        hog_took: list[float] = []

        def hog() -> None:
            began.wait()
            start = time.perf_counter()
            sum(range(60_000_000))  # holds the GIL throughout
            hog_took.append(time.perf_counter() - start)

        # Called inside the statement's step (with the GIL), before it reads anything.
        conn.set_trace_callback(lambda sql: began.set() if sql.startswith("INSERT") else None)
        thread = threading.Thread(target=hog, name="gil-hog")
        thread.start()
        try:
            start = time.perf_counter()
            assert store._read(SHORT) == [(23, 100000)]
            call = time.perf_counter() - start
        finally:
            conn.set_trace_callback(None)
            began.set()
            thread.join()
        held = watch.seen[-1][2]
        assert watch.seen[-1][0] == SHORT
        assert call >= 0.5 * hog_took[0]  # it did wait for the hog
        assert held < call / 4, (held, call, hog_took)


def test_waiting_for_another_process_lock_is_not_counted(db: Path) -> None:
    """A read the service's write lock turns away tries again (`store_sql.polling`); the
    time it waits is not time it held the lock."""
    with SqliteStore.open(db, read_only=True) as store:
        watch = Observed(store)
        writer = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        writer.execute("BEGIN EXCLUSIVE")
        release = threading.Timer(0.4, lambda: writer.execute("COMMIT"))
        release.start()
        try:
            start = time.perf_counter()
            assert store.audit_id_range() == (1, 23)
            call = time.perf_counter() - start
        finally:
            release.join()
            writer.close()
        assert store.lockouts == 0  # it waited, and then read
        assert call >= 0.3  # (the writer's 0.4 s, minus what came before the read)
        for sql, _params, held in watch.seen:
            assert held < call / 4, (sql, held, call)


# --- the rows: staging gives the one-statement answer -----------------------------------------

SHAPES: list[tuple[str, tuple[Any, ...]]] = [
    ("SELECT id, timestamp, event_json FROM audit_log WHERE id > ? AND id <= ? ORDER BY id",
     (2, 20)),
    ("SELECT id, timestamp, event_json FROM audit_log WHERE id > ? AND id <= ? "
     "ORDER BY id DESC", (2, 20)),  # (no LIMIT: the order alone must survive)
    ("SELECT id, timestamp, event_json FROM audit_log WHERE id < ? AND id >= ? "
     "ORDER BY id DESC LIMIT ?", (20, 2, 7)),
    ("SELECT * FROM (SELECT id, event_json FROM audit_log WHERE id < ? ORDER BY id DESC "
     "LIMIT ?) UNION ALL SELECT * FROM (SELECT id, event_json FROM audit_log WHERE id > ? "
     "ORDER BY id LIMIT ?) ORDER BY id DESC LIMIT ?", (10, 3, 15, 3, 5)),
    ("SELECT DISTINCT json_extract(event_json, '$.type'), 1 FROM audit_log WHERE id > ? "
     "ORDER BY 1 DESC LIMIT ?", (0, 50)),
    ("SELECT json_extract(event_json, '$.type') AS t, count(*), max(id) FROM audit_log "
     "GROUP BY t ORDER BY 2 DESC, 1", ()),
    ("WITH w AS (SELECT id FROM audit_log WHERE id % 3 = 0) SELECT w.id, a.timestamp FROM w "
     "JOIN audit_log AS a ON a.id = w.id ORDER BY w.id DESC", ()),
    ("SELECT j.key, j.value, a.id FROM json_each(?) AS j LEFT JOIN audit_log AS a "
     "ON a.id = j.value ORDER BY j.key", ("[5, 1, 99, 3]",)),
    ("SELECT id, NULL, x'00ff', 1.5, CAST(x'ff41' AS TEXT) FROM audit_log WHERE id > ? "
     "ORDER BY id", (20,)),  # NULL, a BLOB, a float, text that is not UTF-8
    ("SELECT id FROM audit_log WHERE id > ?", (1000,)),  # nothing
    ("SELECT count(*), max(rowid) FROM usage", ()),
]


def _direct(path: Path, sql: str, params: tuple[Any, ...]) -> list[Any]:
    conn = sqlite3.connect(path)
    conn.text_factory = lambda b: b.decode("utf-8", "replace")
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("sql, params", SHAPES)
def test_staged_rows_are_the_one_statement_answer(db: Path, sql: str,
                                                  params: tuple[Any, ...]) -> None:
    with SqliteStore.open(db, read_only=True) as store:
        watch = Observed(store)
        columns = len(store._statement(f"SELECT * FROM ({sql}) LIMIT 0", params, "read",
                                       describe=True)[0])
        rows, held = store._statement(sql, params, "read", columns=columns)
        assert held >= 0 and watch.of(sql) == held
        assert rows == _direct(db, sql, params)
        assert store._read(sql, params) == rows
        conn, _lock = store._reader()
        assert not conn.in_transaction


def test_pragmas_are_staged_and_answer_as_read_directly(db: Path) -> None:
    """A one-row PRAGMA read directly holds the lock while its thread takes the GIL back
    between its two steps: the ones without side effects are read as their table-valued
    functions, staged, with the same answers (data_version: this connection's)."""
    with SqliteStore.open(db, read_only=True) as store:
        watch = Observed(store)
        raw = sqlite3.connect(db, isolation_level=None)
        for pragma in ("encoding", "journal_mode", "user_version", "page_size",
                       "schema_version", "application_id"):
            assert store._read(f"PRAGMA {pragma}") == \
                raw.execute(f"PRAGMA {pragma}").fetchall(), pragma
            assert watch.seen[-1][0] == f"SELECT * FROM pragma_{pragma}"
        before = store._read("PRAGMA data_version")[0][0]
        assert store._read("PRAGMA data_version")[0][0] == before
        raw.execute("INSERT INTO cooldowns (entry_id, until) VALUES ('x', "
                    "'2026-01-01T00:00:00Z')")
        assert store._read("PRAGMA data_version")[0][0] != before
        raw.close()
        # With an argument, or with side effects: read directly, as written.
        assert store._read("PRAGMA integrity_check(usage)") == [("ok",)]
        assert watch.seen[-1][0] == "PRAGMA integrity_check(usage)"
