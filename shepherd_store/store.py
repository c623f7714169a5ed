"""`SqliteStore`: the one implementation of the `Store` protocol, plus the inspector's reads.

One connection per store, guarded by a lock (like the Rust `Mutex<Connection>`), in
autocommit mode: every read is a single statement (its read transaction ends with it) and
every write is one explicit `BEGIN IMMEDIATE ... COMMIT`.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar
from urllib.parse import quote

from . import store_writes
from .errors import (
    CorruptDatabaseError,
    IncompatibleSchemaError,
    LockedError,
    NotFoundError,
    ReadOnlyError,
    SerializationError,
    StoreError,
    translate,
)
from .events import (
    AuditEvent,
    ManualOverride,
    UnknownEvent,
    decode_event,
    encode_event,
)
from .query import (
    SCAN_CHUNK,
    AuditFilter,
    AuditPage,
    ChunkSizer,
    WhereClause,
    build_where,
    day_range,
)
from .schema import (
    OVERRIDES_TABLE,
    RUST_MISSING_TABLES,
    SEED_INDEXES,
    SEED_MISSING_TABLES,
    SEED_TABLES,
    Layout,
    SchemaInfo,
    inspect_schema,
)
from .snapshot import StateSnapshot, decode_snapshot, encode_snapshot
from .store_writes import check_entry_id, cooldown_text, snapshot_as_text, usage_seconds
from .timefmt import format_day, format_timestamp, parse_day, parse_timestamp

BUSY_TIMEOUT_S = 5.0
_BEGIN_POLL_S = 0.0005  # how often a write waiting for the lock tries again
_SQLITE_BUSY = 5
_SQLITE_HEADER_SIZE = 100  # bytes of the file header every SQLite database starts with
_EPOCH = datetime.fromtimestamp(0).astimezone()

#: Called during long scans with (rows scanned, rows to scan); return False to cancel.
Progress = Callable[[int, int], bool]

#: Called after each read statement on the database with its SQL, its parameters and the
#: seconds it ran (held the database's lock); see `SqliteStore.statement_observer`.
StatementObserver = Callable[[str, tuple[Any, ...], float], None]

# Long reads are series of short statements (DESIGN.md, "Short reads"); these size them.
# `SCAN_CHUNK` (from query) caps the ids one statement scans when no index serves a filter.
SCAN_START = 5_000  # ids the first statement of a scan covers
SCAN_LOWEST = 256  # the fewest ids a statement of a scan covers, however slow the last was
INDEXED_START = 65_536  # ids the first statement covers when an index serves the filter
INDEXED_CHUNK = 1 << 62  # (no cap: such a statement costs about the rows it returns)
ROW_START = 1_000  # rows the first statement of a keyset walk (usage, cooldowns) returns
ROW_LOWEST = 64
ROW_CHUNK = 5_000  # the most rows one statement of a keyset walk returns


class Store(Protocol):
    """The persistence interface of shepherdd (the Rust crate's `Store` trait)."""

    def append_audit(self, event: AuditEvent) -> None: ...
    def get_recent_audits(self, limit: int) -> list[AuditEvent]: ...
    def get_usage(self, entry_id: str, day: date) -> timedelta: ...
    def add_usage(self, entry_id: str, day: date, duration: timedelta) -> None: ...
    def get_cooldown_until(self, entry_id: str) -> datetime | None: ...
    def set_cooldown_until(self, entry_id: str, until: datetime) -> None: ...
    def clear_cooldown(self, entry_id: str) -> None: ...
    def load_snapshot(self) -> StateSnapshot | None: ...
    def save_snapshot(self, snapshot: StateSnapshot) -> None: ...
    def is_healthy(self) -> bool: ...


@dataclass(frozen=True)
class UsageRecord:
    """Seconds of one entry on one day (the daemon's local date)."""

    entry_id: str
    day: date
    seconds: int


@dataclass(frozen=True)
class CooldownRecord:
    """A cooldown row; `until` is None when the stored text is unreadable (see `raw`)."""

    entry_id: str
    until: datetime | None
    raw: str


@dataclass(frozen=True)
class ChangeToken:
    """Cheap fingerprint of the database's state: changes whenever another connection commits."""

    data_version: int
    last_audit_id: int


@dataclass(frozen=True)
class OverrideRecord:
    """A manual change recorded by this library (audit event or side-table row)."""

    id: int
    timestamp: datetime
    change: ManualOverride


class SqliteStore:
    """The Shepherd store on one SQLite file (or in memory). Safe to share between threads.

    A read-only store on a file gives every other thread that reads through it a connection
    of its own, so a worker's scan never makes the thread that opened it (the GUI) wait.
    """

    def __init__(self, conn: sqlite3.Connection, path: str, layout: Layout, tables: frozenset[str],
                 *, read_only: bool) -> None:
        """Use `SqliteStore.open` or `SqliteStore.in_memory` instead."""
        self._conn = conn
        self._lock = threading.RLock()
        self.path = path
        self.layout = layout
        self.read_only = read_only
        self._tables = set(tables)
        self._closed = False
        self._owner = threading.current_thread()
        self._uri: str | None = None  # set for read-only files: other threads connect anew
        self._busy_timeout = BUSY_TIMEOUT_S  # of connections opened for other threads
        self._conn_timeout = BUSY_TIMEOUT_S  # of `_conn`
        # By OS thread id, not `threading.local`: Qt's pool threads get a new Python thread
        # state for every task, which would open (and keep) a connection per task.
        self._by_thread: dict[int, tuple[sqlite3.Connection, threading.RLock]] = {}
        self._thread_conns: list[tuple[sqlite3.Connection, threading.RLock]] = []
        self._timeouts: dict[sqlite3.Connection, float] = {}  # busy timeout of each of them
        #: Reads that gave up on another process's lock so far (a caller that must not miss
        #: a change can compare it before and after reading, and read again later).
        self.lockouts = 0
        #: `entry_labels` so far, and the newest log id they cover.
        self._labels: tuple[dict[str, str], int] = ({}, 0)
        self._labels_lock = threading.Lock()
        #: Called after every read statement on the database file with (sql, params,
        #: seconds it ran): benchmarks and tests watch how long reads hold the lock with it.
        self.statement_observer: StatementObserver | None = None
        self._columns: dict[str, int] = {}  # how many columns each SELECT of `_read` returns

    # --- construction --------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, read_only: bool = False,
             busy_timeout: float = BUSY_TIMEOUT_S) -> SqliteStore:
        """Open the database at `path`, creating a seed-layout one if it does not exist or is
        an empty (0-byte) file, as the Rust store does.

        With `read_only`, the file is opened with `mode=ro` and never modified; a missing or
        empty file is an error. Raises a `StoreError` subclass saying what is wrong and what
        to do.
        """
        p = Path(path).expanduser()
        shown = str(p)
        if p.is_dir():
            raise NotFoundError(
                f"{shown} is a directory, not a database file. Choose the .db file inside it "
                "(shepherdd keeps it as shepherdd.db).", path=shown)
        exists = p.exists()
        if not exists and read_only:
            raise NotFoundError(
                f"{shown} does not exist. Check the path, or start shepherdd once so it "
                "creates its database.", path=shown)
        new = not exists
        if exists:
            # An empty file is a new database to SQLite, and the Rust store creates its tables
            # in it: a writable open sets it up like a missing file (a read-only one refuses).
            new = _check_header(p, read_only=read_only) == 0
        elif not p.parent.is_dir():
            raise NotFoundError(
                f"Cannot create {shown}: the folder {p.parent} does not exist.", path=shown)
        mode = "ro" if read_only else ("rw" if exists else "rwc")
        uri = f"file:{quote(str(p.absolute()))}?mode={mode}"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise translate(exc, shown, "open", busy_timeout=busy_timeout) from None
        try:
            store = cls._setup(conn, shown, new=new, read_only=read_only,
                               busy_timeout=busy_timeout)
        except BaseException:
            conn.close()
            raise
        store._busy_timeout = store._conn_timeout = busy_timeout
        if read_only:
            store._uri = uri
        return store

    @classmethod
    def in_memory(cls) -> SqliteStore:
        """A private in-memory store in the seed layout (for tests and the simulator)."""
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        return cls._setup(conn, ":memory:", new=True, read_only=False, busy_timeout=BUSY_TIMEOUT_S)

    @classmethod
    def _setup(cls, conn: sqlite3.Connection, path: str, *, new: bool, read_only: bool,
               busy_timeout: float) -> SqliteStore:
        try:
            # No SQLite busy handler: every statement that can meet another process's lock
            # goes through `_polling`, which tries again far more often (see there).
            conn.execute("PRAGMA busy_timeout = 0")

            def prologue() -> SchemaInfo:
                if not read_only:  # (a connection's first statements load the schema: locks)
                    conn.execute("PRAGMA synchronous = FULL")
                # The schema in one read transaction, so that it needs the lock only once.
                return _read_schema(conn)

            info = _polling(conn, busy_timeout, prologue)
        except sqlite3.Error as exc:
            raise translate(exc, path, "read", busy_timeout=busy_timeout) from None
        if info.problem is not None:
            raise IncompatibleSchemaError(
                f"{path} is a SQLite database but not a Shepherd one ({info.problem}). "
                "Open the shepherdd database (usually /var/lib/shepherdd/shepherdd.db).",
                path=path)
        layout = info.layout or Layout.SEED
        tables = info.tables
        if not read_only and (info.is_empty or set(SEED_MISSING_TABLES) - tables):
            try:
                if info.is_empty:
                    if path != ":memory:":
                        conn.execute("PRAGMA journal_mode = WAL")
                    ddl = [*SEED_TABLES, *SEED_INDEXES]
                else:  # create only this layout's missing tables; never touch the rest
                    missing = RUST_MISSING_TABLES if layout is Layout.RUST else SEED_MISSING_TABLES
                    ddl = [sql for name, sql in missing.items() if name not in tables]
                _polling(conn, busy_timeout, lambda: conn.execute("BEGIN IMMEDIATE"))
                try:
                    for stmt in ddl:
                        conn.execute(stmt)
                    _polling(conn, busy_timeout, lambda: conn.execute("COMMIT"))
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                tables = inspect_schema(conn).tables
            except sqlite3.Error as exc:
                raise translate(exc, path, "create the tables of",
                                busy_timeout=busy_timeout) from None
        return cls(conn, path, layout, tables, read_only=read_only)

    def close(self) -> None:
        """Close the connection; further calls raise `StoreError`."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()
                for conn, lock in self._thread_conns:
                    with lock:  # waits for a statement still running in that thread
                        conn.close()
                self._thread_conns.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- plumbing --------------------------------------------------------------------------

    def _reader(self) -> tuple[sqlite3.Connection, threading.RLock]:
        """The connection (and its lock) this thread reads with."""
        if self._uri is None or threading.current_thread() is self._owner:
            return self._conn, self._lock
        ident = threading.get_ident()
        pair = self._by_thread.get(ident)
        if pair is None:
            with self._lock:
                self._check_open()
                try:
                    conn = sqlite3.connect(self._uri, uri=True, timeout=0,
                                           isolation_level=None, check_same_thread=False)
                except sqlite3.Error as exc:
                    raise translate(exc, self.path, "open",
                                    busy_timeout=self._busy_timeout) from None
                pair = (conn, threading.RLock())
                self._thread_conns.append(pair)
                self._by_thread[ident] = pair
                self._timeouts[conn] = self._busy_timeout
        return pair

    def _timeout(self, conn: sqlite3.Connection) -> float:
        return self._conn_timeout if conn is self._conn else self._timeouts.get(
            conn, self._busy_timeout)

    def _read(self, sql: str, params: tuple[Any, ...] = (), action: str = "read") -> list[Any]:
        """Run one read statement to completion (its read transaction ends with it).

        For statements that return a few rows quickly (a read that can scan much is a
        series of them: `_walk`, `_scan`). A SELECT is staged (see `_statement`), its
        column count learnt once; a PRAGMA is read directly."""
        columns = None
        if sql.lstrip()[:6].upper() == "SELECT":
            columns = self._columns.get(sql)
            if columns is None:
                columns = self._columns[sql] = len(self._statement(
                    f"SELECT * FROM ({sql}) LIMIT 0", params, action, describe=True)[0])
        return self._statement(sql, params, action, columns=columns)[0]

    def _statement(self, sql: str, params: tuple[Any, ...], action: str, *,
                   columns: int | None = None, malformed_json: bool = False,
                   describe: bool = False) -> tuple[list[Any], float]:
        """The rows of one read statement, and the seconds it held the database's lock.

        With `columns` (how many the statement returns) the rows are *staged*: one
        `INSERT INTO` a temporary table `SELECT ...` copies them inside SQLite, in a
        single step that runs without the GIL, and the rows are read from that table
        after the database's lock is released. Read directly, every row is a step of its
        own, and between two steps the thread waits for the GIL *holding the lock*: with
        the window's other threads busy, a 20,000-row statement held it 5 times longer.

        A statement that returns no row (`LIMIT 0`) ends, and releases the lock, in its
        first step: with `describe`, the "rows" are its `cursor.description` instead.

        With `malformed_json`, an invalid-JSON error raises `_MalformedJson` (to retry with
        guarded expressions). Autocommit: no transaction ever spans two statements. The
        seconds reported include taking the GIL back after the statement, when a staged
        statement no longer holds the lock: an upper bound of the time it held it.
        """
        conn, lock = self._reader()
        with lock:
            self._check_open()
            try:
                if describe:
                    rows, held = _polling(conn, self._timeout(conn),
                                          lambda: _timed_description(conn, sql, params))
                elif columns is None:
                    rows, held = _polling(conn, self._timeout(conn),
                                          lambda: _timed_fetch(conn, sql, params))
                else:
                    # Every step polls: on a connection's first statements even the
                    # temporary table's need the database's schema, so its lock.
                    timeout = self._timeout(conn)
                    table = _polling(conn, timeout, lambda: _staging_table(conn, columns))
                    held = _polling(conn, timeout, lambda: _stage(conn, table, sql, params))
                    rows = _polling(conn, timeout, lambda: _unstage(conn, table, columns))
            except sqlite3.OperationalError as exc:
                if malformed_json and "malformed JSON" in str(exc):
                    raise _MalformedJson from None
                raise self._read_error(exc, action, conn) from None
            except sqlite3.Error as exc:
                raise self._read_error(exc, action, conn) from None
            except UnicodeEncodeError:
                raise self._not_utf8(action) from None
        observer = self.statement_observer
        if observer is not None:
            observer(sql, params, held)
        return rows, held

    def _walk(self, columns: str, count: int, source: str, where: str,
              params: tuple[Any, ...], keys: tuple[str, ...], action: str, *,
              distinct: bool = False, keys_of_rowid: str | None = None,
              start: Any = None) -> Iterator[list[Any]]:
        """The rows of `SELECT columns FROM source WHERE where ORDER BY keys`, as a series
        of short statements: each returns at most `ROW_CHUNK` rows (fewer when they run
        long, see `ChunkSizer`) and the next continues after the last row's keys.

        `keys` must identify a row (end with `rowid`, or be unique); with `distinct`, the
        rows of `SELECT DISTINCT` (then `keys` are its columns). Continuing "after the
        last row" is asked as index ranges SQLite can seek to (see `_after_keys`), and the
        keys are carried as their stored type and bytes, never as decoded text, so a value
        that is not UTF-8 (read with U+FFFD replacements) still continues exactly there.

        `start` is a lower bound of the first key (`keys[0] >= start`), given apart from
        `where` because only the first statement needs it: with it in `where`, SQLite seeks
        to it, not to the last row, and every statement reads from the start again.

        With `keys_of_rowid` (a table; `columns` must then end with its rowid) the keys are
        computed for each chunk's last row only, by looking that row up in the table: for
        keys that are expressions SQLite would otherwise evaluate for every row.
        """
        hidden = ", ".join(
            f"typeof({k}), CASE WHEN typeof({k}) IN ('text', 'blob') THEN CAST({k} AS BLOB) "
            f"ELSE {k} END" for k in keys)
        lookup = None if keys_of_rowid is None else \
            f"SELECT {hidden} FROM {keys_of_rowid} WHERE rowid = ?"
        width = count if lookup is not None else count + 2 * len(keys)
        head = (f"SELECT {'DISTINCT ' if distinct else ''}{columns}"
                f"{'' if lookup is not None else ', ' + hidden} FROM {source} WHERE ({where})")
        sizes = ChunkSizer(ROW_START, ROW_LOWEST, ROW_CHUNK)
        last: list[tuple[str, Any]] | None = None
        level = len(keys)  # how many keys the next range compares (see `_after_keys`)
        while level > 0:
            first = last is None  # no row read yet: the statement asks from the start
            sql, args, order = head, params, keys
            if first and start is not None:
                sql, args = f"{sql} AND {keys[0]} >= ?", (*args, start)
            if last is not None:
                cond, cond_args = _after_keys(keys[:level], last[:level])
                sql, args, order = f"{sql} AND {cond}", (*args, *cond_args), keys[level - 1:]
            want = sizes.size
            rows, held = self._statement(f"{sql} ORDER BY {', '.join(order)} LIMIT ?",
                                         (*args, want), action, columns=width)
            sizes.record(len(rows), held)
            if rows:
                yield [row[:count] for row in rows]
                end = rows[-1][count:]
                if lookup is not None:
                    found = self._read(lookup, (rows[-1][count - 1],), action)
                    if not found:  # (the row went away meanwhile: its keys cannot change)
                        raise StoreError(f"Cannot {action} {self.path}: a row changed while "
                                         "it was read; try again.", path=self.path)
                    end = found[0]
                last = [(str(end[2 * i]), end[2 * i + 1]) for i in range(len(keys))]
            if last is None or (first and len(rows) < want):
                return  # nothing at all, or all of it in the first statement
            # A full chunk: continue after its last row, comparing every key. A short one:
            # the rows sharing the first `level - 1` keys are all read; compare one key less.
            level = len(keys) if len(rows) == want else level - 1

    def _not_utf8(self, action: str) -> SerializationError:
        """A value to look for held a lone surrogate (bytes that are not UTF-8 on a command
        line arrive so): SQLite cannot take it, and nothing stored could match it."""
        return SerializationError(
            f"Cannot {action} {self.path}: a value to look for is not valid UTF-8 (it contains "
            "a lone surrogate, as bytes that are not UTF-8 on a command line become), so "
            "nothing in the database can match it.", path=self.path)

    def _read_error(self, exc: sqlite3.Error, action: str,
                    conn: sqlite3.Connection) -> StoreError:
        """The `StoreError` for a failed read on `conn`, counting the ones a lock turned
        away."""
        err = translate(exc, self.path, action, busy_timeout=self._timeout(conn))
        if isinstance(err, LockedError):
            self.lockouts += 1
        return err

    def _has(self, table: str) -> bool:
        return table in self._tables

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store for {self.path} is closed", path=self.path)

    @contextlib.contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        """One write transaction (`BEGIN IMMEDIATE`), committed on success, else rolled back."""
        if self.read_only:
            raise ReadOnlyError(
                f"Cannot {action} {self.path}: it was opened read-only. Reopen it without "
                "read-only mode (as the database's owner) to make changes.", path=self.path)
        with self._lock:
            self._check_open()
            try:
                self._begin_immediate()
            except sqlite3.Error as exc:
                raise translate(exc, self.path, action, busy_timeout=self._conn_timeout) from None
            try:
                yield self._conn
                # In rollback-journal mode COMMIT waits for readers; a busy COMMIT leaves the
                # transaction open, so trying again is safe.
                _polling(self._conn, self._conn_timeout, lambda: self._conn.execute("COMMIT"))
            except sqlite3.Error as exc:
                _rollback(self._conn)
                raise translate(exc, self.path, action,
                                busy_timeout=self._conn_timeout) from None
            except UnicodeEncodeError:  # a lone surrogate in a bound string (e.g. entry_id)
                _rollback(self._conn)
                raise SerializationError(
                    f"Cannot {action} {self.path}: a text value is not valid UTF-8 "
                    "(it contains a lone surrogate).", path=self.path) from None
            except BaseException:
                _rollback(self._conn)
                raise

    @property
    def busy_timeout(self) -> float:
        """Seconds a statement of this thread's connection waits for another process's lock
        (by polling, see `_polling`; SQLite's own handler is off)."""
        conn, _lock = self._reader()
        return self._timeout(conn)

    def set_busy_timeout(self, seconds: float, *, other_threads: bool = False) -> None:
        """How long the calling thread's reads wait for another process's lock before
        raising `LockedError` (a window's GUI thread can give up sooner than its workers).

        With `other_threads`, the timeout of the connections other threads read through
        (a read-only store's) instead.
        """
        if other_threads:
            with self._lock:
                self._busy_timeout = seconds
                for conn in self._timeouts:
                    self._timeouts[conn] = seconds  # applied by `_polling` at its next read
            return
        conn, lock = self._reader()
        with lock:
            self._check_open()
            if conn is self._conn:
                self._conn_timeout = seconds
            else:
                self._timeouts[conn] = seconds

    def _begin_immediate(self) -> None:
        """`BEGIN IMMEDIATE`, trying every half millisecond for up to the busy timeout (see
        `_polling`). Call with the lock held."""
        _polling(self._conn, self._conn_timeout, lambda: self._conn.execute("BEGIN IMMEDIATE"))

    # --- facts about the file --------------------------------------------------------------

    @property
    def journal_mode(self) -> str:
        """SQLite's journal mode (`wal`, `delete`, ...), as read without changing it."""
        rows = self._read("PRAGMA journal_mode")
        return str(rows[0][0]) if rows else "unknown"

    @property
    def read_only_reason(self) -> str | None:
        """Why writes are impossible (the user's choice or file permissions), or None."""
        if self.read_only:
            return "opened read-only"
        return None if self.path == ":memory:" else file_read_only_reason(self.path)

    @property
    def writable(self) -> bool:
        return self.read_only_reason is None

    def is_healthy(self) -> bool:
        """Whether the connection answers a trivial query."""
        try:
            self._read("SELECT 1")
        except StoreError:
            return False
        return True

    def change_token(self) -> ChangeToken:
        """A cheap token that differs after any commit by another connection (µs to read)."""
        version = self._read("PRAGMA data_version")[0][0]
        last = self._read("SELECT max(id) FROM audit_log")[0][0] if self._has("audit_log") else 0
        return ChangeToken(int(version), int(last or 0))

    def audit_id_range(self) -> tuple[int, int] | None:
        """(oldest id, newest id) of the audit log, or None when it is empty (two lookups)."""
        if not self._has("audit_log"):
            return None
        # Two scalar subqueries: SQLite's min/max shortcut skips a full scan only when the
        # aggregate stands alone; `SELECT min(id), max(id)` read all 1,000,000 rows (60 ms).
        low, high = self._read("SELECT (SELECT min(id) FROM audit_log), "
                               "(SELECT max(id) FROM audit_log)")[0]
        return None if low is None else (int(low), int(high))

    # --- audit log -------------------------------------------------------------------------

    def append_audit(self, event: AuditEvent) -> None:
        """Append an event (one durable transaction) and set its `id`."""
        rust = self.layout is Layout.RUST
        text = encode_event(event.event, rust=rust)
        try:
            stamp = format_timestamp(event.timestamp)
        except ValueError as exc:
            raise SerializationError(f"refusing to write the event's timestamp: {exc}") from None
        with self._write("append to the audit log of") as conn:
            if rust:
                cur = conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                                   (stamp, text))
            else:
                cur = conn.execute(
                    "INSERT INTO audit_log (timestamp, event_type, event_data) VALUES (?, ?, ?)",
                    (stamp, event.type, text))
            new_id = int(cur.lastrowid or 0)
        event.id = new_id

    def get_recent_audits(self, limit: int) -> list[AuditEvent]:
        """The newest `limit` events, newest first."""
        return self.find_audits(AuditFilter(), limit=limit).events

    def read_id_ranges(self, sql: str, low: int, top: int, *, columns: int,
                       params: tuple[Any, ...] = (), action: str = "read the audit log of",
                       scanning: bool = True) -> Iterator[tuple[int, list[Any]]]:
        """The rows of `sql` for ids in (low, top], oldest range first, as a series of short
        statements: yields (hi, rows) for consecutive ranges (lo, hi]. `sql` is a SELECT of
        `columns` columns whose first two parameters are the range's bounds (`id > ? AND
        id <= ?`), then `params`. Each range is sized so its statement runs about
        `STATEMENT_TARGET_S` (at most `SCAN_CHUNK` ids with `scanning`, for SQL that looks
        at every row), and its rows are staged (see `_statement`). Stop early by not asking
        for the next range: nothing is held between them."""
        sizes = _id_chunks(scanning=scanning)
        lo = low
        while lo < top:
            hi = min(lo + sizes.size, top)
            rows, held = self._statement(sql, (lo, hi, *params), action, columns=columns)
            sizes.record(hi - lo, held)
            yield hi, rows
            lo = hi

    def _row_to_event(self, row: tuple[Any, ...]) -> AuditEvent:
        row_id, stamp, text = row
        event = decode_event(text)
        try:
            timestamp = parse_timestamp(stamp)
        except ValueError as exc:
            timestamp = _EPOCH
            if not (isinstance(event, UnknownEvent) and event.malformed):
                raw = text if isinstance(text, str) else str(text)
                event = UnknownEvent(getattr(event, "TYPE", "") or getattr(event, "type", ""),
                                     raw, malformed=True, error=f"bad timestamp: {exc}")
        return AuditEvent(int(row_id), timestamp, event, raw_timestamp=str(stamp),
                          raw_json=text if isinstance(text, str) else str(text))

    def is_indexed(self, flt: AuditFilter) -> bool:
        """Whether an index serves `flt` outright, so a page costs about a millisecond at any
        log size (otherwise the search scans, and callers should run it off the GUI thread)."""
        return (flt.since is None and flt.until is None
                and build_where(flt, self.layout).indexed)

    def find_audits(self, flt: AuditFilter | None = None, *, before_id: int | None = None,
                    after_id: int | None = None, limit: int = 200,
                    progress: Progress | None = None) -> AuditPage:
        """A page of matching events, newest first, with keyset paging.

        `before_id` continues an earlier page; `after_id` restricts to newer rows (live
        refresh). Every page is read as short statements over ranges of ids (sized by
        `ChunkSizer`): filters no index serves (text, time, any filter in the Rust layout)
        are scanned in chunks of at most `SCAN_CHUNK` ids, reporting to `progress`, which
        may cancel by returning False.
        """
        flt = flt or AuditFilter()
        if not self._has("audit_log") or limit <= 0:
            return AuditPage([], None)
        bounds = self.audit_id_range()
        if bounds is None:
            return AuditPage([], None)
        lowest, newest = bounds
        upper = min(before_id, newest + 1) if before_id is not None else newest + 1
        floor = max(lowest, (after_id or 0) + 1)
        try:
            return self._scan(flt, upper, floor, limit, progress, guarded=False)
        except _MalformedJson:
            return self._scan(flt, upper, floor, limit, progress, guarded=True)

    def _scan(self, flt: AuditFilter, upper: int, floor: int, limit: int,
              progress: Progress | None, *, guarded: bool) -> AuditPage:
        where = build_where(flt, self.layout, guarded=guarded)
        # Time bounds are text comparisons on the rows an id range holds (SQLite walks the
        # ids, not the timestamp index): a scan like the text search.
        scanning = not where.indexed or flt.since is not None or flt.until is not None
        sizes = _id_chunks(scanning=scanning)
        found: list[AuditEvent] = []
        hi = upper
        total = max(upper - floor, 1)
        while len(found) < limit and hi > floor:
            need = limit - len(found)
            lo = max(hi - sizes.size, floor)
            sql, params = self._select(flt, where, hi, lo, need)
            rows, held = self._statement(sql, params, "search the audit log of", columns=3,
                                         malformed_json=not guarded)
            for row in rows:
                event = self._row_to_event(row)
                if flt.matches_time(event):
                    found.append(event)
            reached = int(rows[-1][0]) if len(rows) == need else lo
            sizes.record(hi - reached, held)
            hi = reached
            if progress is not None and scanning and not progress(upper - hi, total):
                return AuditPage(found, hi if hi > floor else None, cancelled=True)
        return AuditPage(found, hi if hi > floor else None)

    def _select(self, flt: AuditFilter, where: WhereClause, hi: int, lo: int,
                need: int) -> tuple[str, tuple[Any, ...]]:
        col = self.layout.audit_json
        head = f"SELECT id, timestamp, {col} FROM audit_log WHERE id < ? AND id >= ?"
        types = sorted(flt.event_types)
        if self.layout is Layout.SEED and len(types) > 1 and where.sql.startswith("event_type IN"):
            # One index range per type, merged: SQLite does not walk an IN list in id order.
            rest = where.sql.split(" AND ", 1)[1] if " AND " in where.sql else "1"
            rest_params = where.params[len(types):]
            part = f"SELECT * FROM ({head} AND event_type = ? AND {rest} ORDER BY id DESC LIMIT ?)"
            params: tuple[Any, ...] = ()
            for t in types:
                params += (hi, lo, t, *rest_params, need)
            return " UNION ALL ".join([part] * len(types)) + " ORDER BY id DESC LIMIT ?", (
                *params, need)
        return f"{head} AND {where.sql} ORDER BY id DESC LIMIT ?", (hi, lo, *where.params, need)

    # --- usage -----------------------------------------------------------------------------

    def get_usage(self, entry_id: str, day: date) -> timedelta:
        """Seconds of `entry_id` on `day` (zero when nothing was recorded)."""
        if not self._has("usage"):
            return timedelta(0)
        rows = self._read("SELECT duration_secs FROM usage WHERE entry_id = ? AND day = ?",
                          (entry_id, format_day(day)))
        value = rows[0][0] if rows else 0
        return timedelta(seconds=value) if isinstance(value, int) and value > 0 else timedelta(0)

    def add_usage(self, entry_id: str, day: date, duration: timedelta) -> None:
        """Add whole seconds of `duration` atomically (two writers lose nothing)."""
        check_entry_id(entry_id)
        seconds = usage_seconds(duration)
        with self._write("add usage to") as conn:
            store_writes.add_usage(conn, entry_id, format_day(day), seconds)

    def usage_between(self, start: date | None = None, end: date | None = None,
                      entry_id: str | None = None) -> list[UsageRecord]:
        """Usage per entry per day for the inclusive day range, all entries or one.

        Rows the daemon could not read (a day that is not a date, a negative or non-integer
        count) are left out; `problems()` reports them.
        """
        if not self._has("usage"):
            return []
        lo, hi = day_range(start, end)
        where = "day <= ?"
        params: tuple[Any, ...] = (hi,)
        if entry_id is not None:
            where += " AND entry_id = ?"
            params += (entry_id,)
        out: list[UsageRecord] = []
        day: list[tuple[tuple[int, Any], Any, Any, Any]] = []  # the rows of one day

        def end_of_day() -> None:
            day.sort(key=lambda row: row[0])  # by entry, as ORDER BY day, entry_id
            for _key, eid, day_text, secs in day:
                if type(secs) is not int or secs < 0:  # typeof 'integer', not negative
                    continue
                try:
                    out.append(UsageRecord(str(eid), parse_day(day_text), secs))
                except ValueError:
                    continue
            day.clear()

        # A bounded number of rows per statement (years of usage are tens of thousands of
        # rows), in the order of the day index, (day, rowid), which SQLite reads without
        # sorting: ordering by (day, entry) would sort every row of a day again in every
        # statement that reads part of it. Each day's rows are put in entry order here,
        # by SQLite's own order of the stored values (see `_sqlite_order`). Bad counts are
        # skipped here rather than in SQL, so the rows a statement reads are those it returns.
        current: Any = None
        entry_key = ("typeof(entry_id), CASE WHEN typeof(entry_id) IN ('text', 'blob') "
                     "THEN CAST(entry_id AS BLOB) ELSE entry_id END, CAST(day AS BLOB)")
        for rows in self._walk(f"entry_id, day, duration_secs, {entry_key}", 6, "usage",
                               where, params, ("day", "rowid"), "read", start=lo):
            for eid, day_text, secs, kind, raw, day_bytes in rows:
                if day_bytes != current:
                    end_of_day()
                    current = day_bytes
                day.append((_sqlite_order(kind, raw), eid, day_text, secs))
        end_of_day()
        return out

    # --- cooldowns -------------------------------------------------------------------------

    def get_cooldown_until(self, entry_id: str) -> datetime | None:
        """When `entry_id` becomes available again; None if no (readable) cooldown is stored."""
        if not self._has("cooldowns"):
            return None
        rows = self._read("SELECT until FROM cooldowns WHERE entry_id = ?", (entry_id,))
        if not rows:
            return None
        try:
            return parse_timestamp(rows[0][0])
        except ValueError:
            return None  # the daemon reads an unparseable value as "no cooldown" too

    def set_cooldown_until(self, entry_id: str, until: datetime) -> None:
        """Set (insert or replace) the cooldown of `entry_id`."""
        check_entry_id(entry_id)
        text = cooldown_text(until)
        with self._write("set a cooldown in") as conn:
            store_writes.put_cooldown(conn, entry_id, text)

    def clear_cooldown(self, entry_id: str) -> None:
        """Remove the cooldown of `entry_id` (no error if there is none)."""
        check_entry_id(entry_id)
        with self._write("clear a cooldown in") as conn:
            store_writes.delete_cooldown(conn, entry_id)

    def all_cooldowns(self) -> list[CooldownRecord]:
        """Every cooldown row, readable or not, sorted by entry."""
        if not self._has("cooldowns"):
            return []
        out = []
        rows = [row for chunk in self._walk("entry_id, until", 2, "cooldowns", "1", (),
                                            ("entry_id", "rowid"), "read")
                for row in chunk]
        for eid, raw in rows:
            raw_text = raw if isinstance(raw, str) else str(raw)
            try:
                until: datetime | None = parse_timestamp(raw_text)
            except ValueError:
                until = None
            out.append(CooldownRecord(str(eid), until, raw_text))
        return out

    # --- snapshot --------------------------------------------------------------------------

    def load_snapshot_text(self) -> str | None:
        """The stored snapshot JSON as text, or None when there is none."""
        if not self._has("snapshot"):
            return None
        rows = self._read(f"SELECT {self.layout.snapshot_json} FROM snapshot WHERE id = 1")
        if not rows:
            return None
        return snapshot_as_text(rows[0][0])

    def load_snapshot(self) -> StateSnapshot | None:
        """The saved snapshot; raises `SerializationError` when the row is unreadable."""
        text = self.load_snapshot_text()
        if text is None:
            return None
        try:
            return decode_snapshot(text)
        except SerializationError as exc:
            raise SerializationError(f"{self.path}: {exc}", path=self.path) from None

    def save_snapshot(self, snapshot: StateSnapshot) -> None:
        """Replace the snapshot (refusing values the daemon could not read)."""
        text = encode_snapshot(snapshot)
        with self._write("save the snapshot in") as conn:
            store_writes.put_snapshot(conn, self.layout, text)

    def delete_snapshot(self) -> None:
        """Remove the snapshot row (what the daemon finds after a clean shutdown)."""
        with self._write("delete the snapshot in") as conn:
            store_writes.delete_snapshot(conn)

    # --- overrides -------------------------------------------------------------------------

    def record_override(self, conn: sqlite3.Connection, what: str, entry_id: str | None,
                        previous: str | None, new: str | None) -> None:
        """Record a manual change inside the caller's write transaction `conn`.

        Seed layout: a `manual_override` audit event. Rust layout: a row of the side table
        `inspector_overrides`, because the daemon cannot read unknown event types.
        """
        change = ManualOverride(what=what, entry_id=entry_id, previous=previous, new=new,
                                user=_user_name())
        stamp = format_timestamp(datetime.now().astimezone())
        text = encode_event(change)
        if self.layout is Layout.SEED:
            conn.execute("INSERT INTO audit_log (timestamp, event_type, event_data) "
                         "VALUES (?, ?, ?)", (stamp, change.TYPE, text))
        else:
            conn.execute(OVERRIDES_TABLE)
            self._tables.add("inspector_overrides")
            conn.execute("INSERT INTO inspector_overrides (timestamp, event_json) VALUES (?, ?)",
                         (stamp, text))

    @contextlib.contextmanager
    def override(self, action: str) -> Iterator[sqlite3.Connection]:
        """A write transaction for a manual change; call `record_override` inside it."""
        with self._write(action) as conn:
            yield conn

    def list_overrides(self) -> list[OverrideRecord]:
        """Every recorded manual change, newest first (from the log or the side table)."""
        if self.layout is Layout.SEED:
            head = ("SELECT id, timestamp, event_data FROM audit_log "
                    "WHERE event_type = 'manual_override'")
        else:
            self._refresh_tables()
            if not self._has("inspector_overrides"):
                return []
            head = "SELECT id, timestamp, event_json FROM inspector_overrides WHERE 1"
        rows: list[Any] = []
        before: int | None = None
        while True:  # keyset pages by id: a bounded number of rows per statement
            sql, args = (head, ()) if before is None else (f"{head} AND id < ?", (before,))
            page = self._statement(f"{sql} ORDER BY id DESC LIMIT ?", (*args, ROW_CHUNK),
                                   "read", columns=3)[0]
            rows.extend(page)
            if len(page) < ROW_CHUNK:
                break
            before = int(page[-1][0])
        out = []
        for row in rows:
            ev = self._row_to_event(row)
            if isinstance(ev.event, ManualOverride):
                out.append(OverrideRecord(ev.id, ev.timestamp, ev.event))
        return out

    def _refresh_tables(self) -> None:
        self._tables = {r[0] for r in self._read(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}

    # --- entries ---------------------------------------------------------------------------

    def entry_labels(self) -> dict[str, str]:
        """Every entry the log has started, with the newest label it used.

        The log only grows, so each call reads only the events added since the previous
        one (the window asks after every commit; rescanning 100,000 events each time kept
        a worker busy). A log whose newest id went down (emptied, or an older copy restored
        in place) is read again from the start.
        """
        if not self._has("audit_log"):
            return {}
        col = self.layout.audit_json
        seed = self.layout is Layout.SEED
        if seed:  # (json_valid: a row another tool wrote must not fail the whole read)
            cond, params = "event_type = ? AND json_valid(event_data)", ("session_started",)
        else:  # the prefix test first: json_valid only on the rows that pass it
            cond, params = f"{col} LIKE ? AND json_valid({col})", ('{"type":"session_started"%',)
        with self._labels_lock:
            labels, upto = self._labels
            top = self._read("SELECT max(id) FROM audit_log")[0][0]
            top = top if isinstance(top, int) else 0
            if top < upto:
                labels, upto = {}, 0
            labels = dict(labels)
            sizes = _id_chunks(scanning=not seed)
            while upto < top:  # oldest first, in short statements over id ranges
                hi = min(upto + sizes.size, top)
                rows, held = self._statement(
                    f"SELECT json_extract({col}, '$.entry_id'), json_extract({col}, '$.label') "
                    f"FROM audit_log WHERE id > ? AND id <= ? AND {cond} ORDER BY id",
                    (upto, hi, *params), "read", columns=2)
                labels.update((e, lbl) for e, lbl in rows
                              if isinstance(e, str) and isinstance(lbl, str))
                sizes.record(hi - upto, held)
                upto = hi
            self._labels = (labels, top)  # rows after `top` are read next time
            return dict(labels)

    def known_entries(self) -> list[str]:
        """Every entry id that appears in usage, cooldowns or the log, sorted."""
        ids: set[str] = set()
        for table in ("usage", "cooldowns"):
            if self._has(table):  # each distinct id once, a bounded number per statement
                for rows in self._walk("entry_id", 1, table, "1", (), ("entry_id",), "read",
                                       distinct=True):
                    ids.update(r[0] for r in rows)
        ids.update(self.entry_labels())
        return sorted(i for i in ids if isinstance(i, str))


_TYPE_RANK = {"null": 0, "integer": 1, "real": 1, "text": 2, "blob": 3}


def _sqlite_order(kind: str, raw: Any) -> tuple[int, Any]:
    """A sort key that orders values as SQLite's ORDER BY with the BINARY collation does:
    NULL, then numbers by value, then text by its bytes, then blobs by their bytes. `kind`
    is the value's `typeof`, `raw` the number, or the bytes of text and blobs."""
    return _TYPE_RANK.get(kind, 4), 0 if raw is None else raw


def _id_chunks(*, scanning: bool) -> ChunkSizer:
    """Chunk sizes for a read over id ranges of the audit log: at most `SCAN_CHUNK` ids per
    statement when SQLite must look at every row of the range; when an index serves the
    filter, ranges that start wide and grow fast (a statement costs about the rows it
    returns), shrinking if a statement still runs long."""
    if scanning:
        return ChunkSizer(SCAN_START, SCAN_LOWEST, SCAN_CHUNK)
    return ChunkSizer(INDEXED_START, SCAN_LOWEST, INDEXED_CHUNK, growth=8.0)


class _MalformedJson(Exception):
    """A seed-layout query hit a row with invalid JSON; retry with guarded expressions."""


def _fetch(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """All rows of one statement. Text that is not UTF-8 (another tool wrote bytes) fails the
    whole fetch in `sqlite3`; then the statement is rerun decoding with U+FFFD replacements,
    so one bad row shows as such instead of hiding the rest. Call with the lock held.

    The cursor is closed on every path: a statement left unfinished would keep its read
    transaction, and with it the database's shared lock, until it is garbage-collected."""
    try:
        return _all_rows(conn, sql, params)
    except sqlite3.OperationalError as exc:
        if "Could not decode to UTF-8" not in str(exc):
            raise
    conn.text_factory = _lenient_text
    try:
        return _all_rows(conn, sql, params)
    finally:
        conn.text_factory = str


def _all_rows(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    cur = conn.execute(sql, params)
    try:
        return cur.fetchall()
    finally:
        cur.close()


def _timed_fetch(conn: sqlite3.Connection, sql: str,
                 params: tuple[Any, ...]) -> tuple[list[Any], float]:
    start = time.perf_counter()
    rows = _fetch(conn, sql, params)
    return rows, time.perf_counter() - start


def _timed_description(conn: sqlite3.Connection, sql: str,
                       params: tuple[Any, ...]) -> tuple[list[Any], float]:
    """The result columns of `sql` (a statement returning no row), and how long it ran."""
    start = time.perf_counter()
    cur = conn.execute(sql, params)
    try:
        return list(cur.description or ()), time.perf_counter() - start
    finally:
        cur.close()


_STAGING = "_shepherd_rows"  # temporary tables: temp._shepherd_rows<number of columns>


def _staging_table(conn: sqlite3.Connection, columns: int) -> str:
    """This connection's empty temporary table of `columns` untyped columns (values keep
    their type and bytes), created at its first use. A temporary table lives in the
    connection's own memory: writing it takes no lock on the database and works on a
    read-only connection."""
    name = f"temp.{_STAGING}{columns}"
    try:
        conn.execute(f"DELETE FROM {name}")
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        with contextlib.suppress(sqlite3.Error):  # (refused inside a transaction: then a file)
            conn.execute("PRAGMA temp_store = MEMORY")
        cols = ", ".join(f"c{i}" for i in range(columns))
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING}{columns} ({cols})")
    return name


def _stage(conn: sqlite3.Connection, table: str, sql: str, params: tuple[Any, ...]) -> float:
    """Copy the rows of the SELECT `sql` into `table`, in their order, in one step: the only
    time the database is locked. Returns the seconds it took. Can be tried again when busy
    (a failed statement inserts nothing)."""
    start = time.perf_counter()
    conn.execute(f"INSERT INTO {table} {sql}", params).close()
    return time.perf_counter() - start


def _unstage(conn: sqlite3.Connection, table: str, columns: int) -> list[Any]:
    """The rows `_stage` copied, in order, and `table` emptied (no lock on the database)."""
    cols = ", ".join(f"c{i}" for i in range(columns))
    rows = _fetch(conn, f"SELECT {cols} FROM {table} ORDER BY rowid", ())
    with contextlib.suppress(sqlite3.Error):  # only frees memory: the next use empties it
        conn.execute(f"DELETE FROM {table}")
    return rows


def _after_keys(keys: tuple[str, ...],
                last: list[tuple[str, Any]]) -> tuple[str, tuple[Any, ...]]:
    """SQL for the rows whose first keys equal `last`'s and whose last key sorts after it,
    in SQLite's order (NULL first, then numbers, text, blobs): `k1 IS b1 AND ... AND
    kn > bn` is one range of an index on the keys, which SQLite seeks to (a row value
    comparison or an OR of the levels makes it scan from the first equal key instead).
    `_walk` asks for the levels in turn, each once the deeper one is exhausted.

    Each bound is `last`'s value as `_walk` read it, (typeof, stored value); text is bound
    as its bytes, cast back to text and concatenated with '' so that it has no affinity:
    with an expression index (no affinity either) a TEXT-affinity bound stops SQLite from
    using the index at all."""
    def value(kind: str, raw: Any) -> tuple[str, tuple[Any, ...]]:
        if kind == "null":
            return "NULL", ()
        if kind == "text":  # the stored bytes, as text again: exact even when not UTF-8
            return "(CAST(? AS TEXT) || '')", (raw,)
        return "?", (raw,)

    conds: list[str] = []
    args: tuple[Any, ...] = ()
    for key, (kind, raw) in zip(keys[:-1], last[:-1], strict=True):
        v, v_args = value(kind, raw)
        conds.append(f"{key} IS {v}")
        args += v_args
    kind, raw = last[-1]
    if kind == "null":
        conds.append(f"{keys[-1]} IS NOT NULL")
    else:
        v, v_args = value(kind, raw)
        conds.append(f"{keys[-1]} > {v}")
        args += v_args
    return " AND ".join(conds), args


_T = TypeVar("_T")


def _read_schema(conn: sqlite3.Connection) -> SchemaInfo:
    """`inspect_schema` in one read transaction (one shared lock for all its statements)."""
    conn.execute("BEGIN")
    try:
        return inspect_schema(conn)
    finally:
        conn.execute("COMMIT")  # nothing was written: this only ends the read


def _polling(conn: sqlite3.Connection, timeout: float, step: Callable[[], _T]) -> _T:
    """Run `step` (statements on `conn` that can be tried again: taking the write lock, a
    read), trying again every half millisecond while the database is busy, for up to
    `timeout` seconds.

    SQLite's own busy handler backs off to 100 ms between tries. A service writing flat out
    in rollback-journal mode takes the lock again right after each commit and shuts readers
    out while it commits, leaving short gaps that those sparse tries kept missing: one edit
    in twenty, and background reads now and then, failed with "locked". The connection's
    store's connections have no SQLite busy handler at all (`busy_timeout` 0), so the
    uncontended path costs nothing extra.
    """
    if timeout <= 0:
        return step()  # no waiting at all (a window's GUI thread)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            busy = isinstance(code, int) and code & 0xFF == _SQLITE_BUSY
            if not busy or time.monotonic() >= deadline:
                raise
        time.sleep(_BEGIN_POLL_S)


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _rollback(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        conn.execute("ROLLBACK")


def _check_header(p: Path, *, read_only: bool) -> int:
    """Refuse files that cannot be SQLite databases before SQLite opens them; return the size.

    An empty file is refused only `read_only`: a writable open makes it a new database.

    Only `stat()`: the file is never opened here. POSIX record locks belong to the process,
    and closing *any* descriptor of the file drops every lock SQLite holds on it
    (https://www.sqlite.org/howtocorrupt.html, 2.2): reading the header with open()/close()
    let the service write under this process's open transactions. Whether the content is
    SQLite is left to SQLite, which keeps its descriptors open while it holds locks.
    """
    shown = str(p)
    try:
        size = p.stat().st_size
    except PermissionError:
        raise NotFoundError(
            f"Cannot read {shown}: permission denied. Open it as a user who may read it "
            "(the database's owner, or root).", path=shown) from None
    except OSError as exc:
        raise NotFoundError(f"Cannot read {shown}: {exc.strerror}.", path=shown) from None
    if size == 0 and read_only:
        raise IncompatibleSchemaError(
            f"{shown} is empty (0 bytes): not a Shepherd database yet. shepherdd creates its "
            "tables in it when it starts; open it again then, or choose the service's "
            "database.", path=shown)
    if 0 < size < _SQLITE_HEADER_SIZE:
        raise CorruptDatabaseError(
            f"{shown} is not a SQLite database (or is truncated to {size} bytes). "
            "Choose the service's database file, or restore it from a backup.", path=shown)
    if not os.access(p, os.R_OK):
        raise NotFoundError(
            f"Cannot read {shown}: permission denied. Open it as a user who may read it "
            "(the database's owner, or root).", path=shown)
    return size


def file_read_only_reason(path: str | os.PathLike[str]) -> str | None:
    """Why this user cannot write the database file (or its journal), or None if it can."""
    p = Path(path)
    if not os.access(p, os.W_OK):
        return f"the file is not writable by {_user_name()}; open it as the database's owner"
    if not os.access(p.parent, os.W_OK):
        return (f"its folder is not writable by {_user_name()} (SQLite needs it for journal "
                "files); open it as the database's owner")
    return None


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid {os.getuid()}"
