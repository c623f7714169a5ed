"""`SqliteStore`: the one implementation of the `Store` protocol, plus the inspector's reads.

One connection per store, guarded by a lock (like the Rust `Mutex<Connection>`), in
autocommit mode: every read is a single statement (its read transaction ends with it) and
every write is one explicit `BEGIN IMMEDIATE ... COMMIT`.

The class is built in layers: `store_reads.BoundedReads` (the connections, short read
statements, keyset walks and id ranges), `store_queries.StoreQueries` (the inspector's
reads), and here the opening, the trait, the writes and the overrides' transaction.
`store_writes` has each value's validation and statements, `store_open` the opening of a
file, `store_sql` the statements on one connection.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, Self

from . import store_writes
from .errors import ReadOnlyError, SerializationError, StoreError, translate
from .events import AuditEvent, ManualOverride, dumps, encode_event
from .query import SCAN_CHUNK, AuditFilter, ChunkSizer
from .schema import OVERRIDES_TABLE, Layout
from .snapshot import StateSnapshot, decode_snapshot, encode_snapshot
from .store_open import connect, prepare, user_name
from .store_open import file_read_only_reason as file_read_only_reason
from .store_queries import CooldownRecord as CooldownRecord
from .store_queries import Progress as Progress
from .store_queries import StoreQueries
from .store_queries import UsageRecord as UsageRecord
from .store_reads import StatementObserver as StatementObserver
from .store_reads import _MalformedJson as _MalformedJson
from .store_sql import BUSY_TIMEOUT_S, polling, rollback
from .store_writes import check_entry_id, cooldown_text, snapshot_as_text, usage_seconds
from .timefmt import format_day, format_timestamp, parse_timestamp

# Long reads are series of short statements (DESIGN.md, "Short reads"); these size them,
# read at each call (`SqliteStore._row_chunks`, `_id_chunks`): the recovery scan sizes its
# own reads by them, and tests shrink them to cut reads into many statements.
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


class SqliteStore(StoreQueries):
    """The Shepherd store on one SQLite file (or in memory). Safe to share between threads.

    A read-only store on a file gives every other thread that reads through it a connection
    of its own, so a worker's scan never makes the thread that opened it (the GUI) wait.
    """

    def __init__(self, conn: sqlite3.Connection, path: str, layout: Layout, tables: frozenset[str],
                 *, read_only: bool) -> None:
        """Use `SqliteStore.open` or `SqliteStore.in_memory` instead."""
        super().__init__(conn, path, layout, tables)
        self.read_only = read_only

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
        conn, shown, uri = connect(path, read_only=read_only, busy_timeout=busy_timeout)
        try:
            store = cls._setup(conn, shown, read_only=read_only, busy_timeout=busy_timeout)
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
        return cls._setup(conn, ":memory:", read_only=False, busy_timeout=BUSY_TIMEOUT_S)

    @classmethod
    def _setup(cls, conn: sqlite3.Connection, path: str, *, read_only: bool,
               busy_timeout: float) -> SqliteStore:
        layout, tables = prepare(conn, path, read_only=read_only, busy_timeout=busy_timeout)
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

    # --- the sizes of read statements ----------------------------------------------------

    def _row_chunks(self) -> ChunkSizer:
        """Sizes of the statements of a keyset walk (usage, cooldowns, entries)."""
        return ChunkSizer(ROW_START, ROW_LOWEST, ROW_CHUNK)

    def _id_chunks(self, *, scanning: bool) -> ChunkSizer:
        """Chunk sizes for a read over id ranges of the audit log: at most `SCAN_CHUNK` ids per
        statement when SQLite must look at every row of the range; when an index serves the
        filter, ranges that start wide and grow fast (a statement costs about the rows it
        returns), shrinking if a statement still runs long."""
        if scanning:
            return ChunkSizer(SCAN_START, SCAN_LOWEST, SCAN_CHUNK)
        return ChunkSizer(INDEXED_START, SCAN_LOWEST, INDEXED_CHUNK, growth=8.0)

    # --- writes ----------------------------------------------------------------------------

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
                polling(self._conn, self._conn_timeout, lambda: self._conn.execute("COMMIT"))
            except sqlite3.Error as exc:
                rollback(self._conn)
                raise translate(exc, self.path, action,
                                busy_timeout=self._conn_timeout) from None
            except UnicodeEncodeError:  # a lone surrogate in a bound string (e.g. entry_id)
                rollback(self._conn)
                raise SerializationError(
                    f"Cannot {action} {self.path}: a text value is not valid UTF-8 "
                    "(it contains a lone surrogate).", path=self.path) from None
            except BaseException:
                rollback(self._conn)
                raise

    def _begin_immediate(self) -> None:
        """`BEGIN IMMEDIATE`, trying every half millisecond for up to the busy timeout (see
        `polling`). Call with the lock held."""
        polling(self._conn, self._conn_timeout, lambda: self._conn.execute("BEGIN IMMEDIATE"))

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

    def trace_user(self) -> str:
        """Who the traces of manual changes name (this computer's user)."""
        return user_name()

    def trace_extra(self) -> dict[str, str]:
        """Keys added to each trace's JSON (none here; a remote edit adds its id)."""
        return {}

    def record_override(self, conn: sqlite3.Connection, what: str, entry_id: str | None,
                        previous: str | None, new: str | None) -> None:
        """Record a manual change inside the caller's write transaction `conn`.

        Seed layout: a `manual_override` audit event. Rust layout: a row of the side table
        `inspector_overrides`, because the daemon cannot read unknown event types.
        """
        change = ManualOverride(what=what, entry_id=entry_id, previous=previous, new=new,
                                user=self.trace_user())
        stamp = format_timestamp(datetime.now().astimezone())
        text = encode_event(change)
        extra = self.trace_extra()
        if extra:  # keys of ours beside the event's (the daemon reads no trace; we ignore them)
            text = dumps({**json.loads(text), **extra})
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
