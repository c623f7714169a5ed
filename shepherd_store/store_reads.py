"""Long reads as series of short statements (DESIGN.md, "Short reads"): the base of
`SqliteStore` that holds its connections (a read-only store's other threads each get their
own), runs each read statement staged and observed, and cuts long reads into keyset walks
and id ranges, each statement sized by `ChunkSizer` from the last one's pace.

The starting and largest sizes are `SqliteStore`'s (`_row_chunks`, `_id_chunks`).
"""

from __future__ import annotations

import contextlib
import functools
import queue
import sqlite3
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any

from .errors import LockedError, SerializationError, StoreError, translate
from .query import ChunkSizer
from .store_sql import (
    AHEAD,
    BUSY_TIMEOUT_S,
    Staged,
    lock_held,
    polling,
    stage,
    staging_table,
    timed_description,
    timed_fetch,
    unstage,
)

#: The page cache of a worker thread's connection, in KiB (SQLite's default is 2,000). Its
#: reads are scans of id ranges and keyset pages, which look at each page once: the default
#: kept 2 MB in every thread that had scanned (the window has four) for nothing.
THREAD_CACHE_KIB = 512
#: Called after each read statement on the database with its SQL, its parameters and an
#: upper bound of the seconds it held the database's lock (see `BoundedReads._statement`);
#: `SqliteStore.statement_observer`.
StatementObserver = Callable[[str, tuple[Any, ...], float], None]
#: The name of the thread that stages the next range of a read (`read_id_ranges`, `ahead`).
READ_AHEAD_THREAD = "shepherd-read-ahead"
#: PRAGMAs read as their table-valued functions (`SELECT * FROM pragma_x`), so staged: read
#: directly, a one-row PRAGMA holds the lock while its thread takes the GIL back between its
#: two steps (`data_version`, the window's change token, held it up to 16-19 ms by the
#: kernel's lock events while the window's workers scanned; staged, at most 0.6 ms). Only
#: these: each has the function and no side effect.
_STAGED_PRAGMAS = frozenset({"application_id", "data_version", "encoding", "freelist_count",
                             "journal_mode", "page_count", "page_size", "schema_version",
                             "user_version"})


class _MalformedJson(Exception):
    """A seed-layout query hit a row with invalid JSON; retry with guarded expressions."""


class BoundedReads:
    """The connections of a store and its reads: every read statement short (its read
    transaction ends with it), long reads a series of them with the lock free between."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self.path = path
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
        #: Called after every read statement on the database file with (sql, params,
        #: seconds it ran): benchmarks and tests watch how long reads hold the lock with it.
        self.statement_observer: StatementObserver | None = None
        self._columns: dict[str, int] = {}  # how many columns each SELECT of `_read` returns

    # --- the sizes of long reads (given by `SqliteStore`) ------------------------------------

    def _row_chunks(self) -> ChunkSizer:
        """Sizes of the statements of a keyset walk (`_walk`)."""
        raise NotImplementedError

    def _id_chunks(self, *, scanning: bool) -> ChunkSizer:
        """Sizes of the statements of a read over id ranges of the audit log (`scanning`:
        SQLite must look at every row of a range)."""
        raise NotImplementedError

    # --- connections and statements ------------------------------------------------------

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
            # Setting the cache size reads the schema, so it may meet the service's lock:
            # waited for as any statement's is, outside the store's lock (which the other
            # threads need meanwhile); if it cannot be had, the default cache does.
            with pair[1], contextlib.suppress(sqlite3.Error):
                polling(conn, self._busy_timeout,
                        lambda: conn.execute(f"PRAGMA cache_size = -{THREAD_CACHE_KIB}"))
        return pair

    def _timeout(self, conn: sqlite3.Connection) -> float:
        return self._conn_timeout if conn is self._conn else self._timeouts.get(
            conn, self._busy_timeout)

    def _read(self, sql: str, params: tuple[Any, ...] = (), action: str = "read") -> list[Any]:
        """Run one read statement to completion (its read transaction ends with it).

        For statements that return a few rows quickly (a read that can scan much is a
        series of them: `_walk`, `_scan`). A SELECT is staged (see `_statement`), its
        column count learnt once; a PRAGMA is read directly, except those of
        `_STAGED_PRAGMAS` without an argument, staged as their table-valued functions."""
        columns = None
        words = sql.split()
        if len(words) == 2 and words[0].upper() == "PRAGMA" and \
                words[1].lower() in _STAGED_PRAGMAS:
            sql = f"SELECT * FROM pragma_{words[1].lower()}"
        if sql.lstrip()[:6].upper() == "SELECT":
            columns = self._columns.get(sql)
            if columns is None:
                columns = self._columns[sql] = len(self._statement(
                    f"SELECT * FROM ({sql}) LIMIT 0", params, action, describe=True)[0])
        return self._statement(sql, params, action, columns=columns)[0]

    def _statement(self, sql: str, params: tuple[Any, ...], action: str, *,
                   columns: int | None = None, malformed_json: bool = False,
                   describe: bool = False) -> tuple[list[Any], float]:
        """The rows of one read statement, and an upper bound of the seconds it held the
        database's lock.

        With `columns` (how many the statement returns) the rows are *staged*: one
        `INSERT INTO` a temporary table `SELECT ...` copies them inside SQLite, in a
        single step that runs without the GIL, and the rows are read from that table
        after the database's lock is released. Read directly, every row is a step of its
        own, and between two steps the thread waits for the GIL *holding the lock*: with
        the window's other threads busy, a 20,000-row statement held it 5 times longer.

        The seconds of a staged statement run from before its step to the end of its
        SELECT by SQLite's own clock, read inside the step (`store_sql.lock_held`): the
        wait for the GIL after the step, when the lock is already released, is not
        counted (with the window's threads busy it made a statement that held the lock
        5 ms, by strace, look 427 ms long). Those of a statement read directly
        (a PRAGMA, a `describe`) are the whole call, waits for the GIL between its steps
        included, as they hold the lock. Waiting for another process's lock (`polling`)
        is never counted: only the attempt that ran is timed.

        A statement that returns no row (`LIMIT 0`) ends, and releases the lock, in its
        first step: with `describe`, the "rows" are its `cursor.description` instead.

        With `malformed_json`, an invalid-JSON error raises `_MalformedJson` (to retry with
        guarded expressions). Autocommit: no transaction ever spans two statements.
        """
        conn, lock = self._reader()
        with lock:
            self._check_open()
            with self._errors(conn, action, malformed_json=malformed_json):
                if describe:
                    rows, held = polling(conn, self._timeout(conn),
                                         lambda: timed_description(conn, sql, params))
                elif columns is None:
                    rows, held = polling(conn, self._timeout(conn),
                                         lambda: timed_fetch(conn, sql, params))
                else:
                    # Every step polls: on a connection's first statements even the
                    # temporary table's need the database's schema, so its lock.
                    timeout = self._timeout(conn)
                    width = columns
                    table = polling(conn, timeout, lambda: staging_table(conn, width))
                    staged = polling(conn, timeout,
                                     lambda: stage(conn, table, sql, params, width))
                    rows, done = polling(conn, timeout, lambda: unstage(conn, table, width))
                    held = lock_held(staged, done)
        observer = self.statement_observer
        if observer is not None:
            observer(sql, params, held)
        return rows, held

    @contextlib.contextmanager
    def _errors(self, conn: sqlite3.Connection, action: str, *,
                malformed_json: bool = False) -> Iterator[None]:
        """A failed read on `conn` as the `StoreError` saying so (`_statement`)."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if malformed_json and "malformed JSON" in str(exc):
                raise _MalformedJson from None
            raise self._read_error(exc, action, conn) from None
        except sqlite3.Error as exc:
            raise self._read_error(exc, action, conn) from None
        except UnicodeEncodeError:
            raise self._not_utf8(action) from None

    def _walk(self, columns: str, count: int, source: str, where: str,
              params: tuple[Any, ...], keys: tuple[str, ...], action: str, *,
              distinct: bool = False, keys_of_rowid: str | None = None,
              start: Any = None) -> Iterator[list[Any]]:
        """The rows of `SELECT columns FROM source WHERE where ORDER BY keys`, as a series
        of short statements: each returns at most `ROW_CHUNK` rows (fewer when they run
        long, see `ChunkSizer`) and the next continues after the last row's keys.

        `keys` must identify a row (end with `rowid`, or be unique); with `distinct`, the
        rows of `SELECT DISTINCT` (then `keys` are its columns). Continuing "after the
        last row" is asked as index ranges SQLite can seek to (see `after_keys`), and the
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
        sizes = self._row_chunks()
        last: list[tuple[str, Any]] | None = None
        level = len(keys)  # how many keys the next range compares (see `after_keys`)
        while level > 0:
            first = last is None  # no row read yet: the statement asks from the start
            sql, args, order = head, params, keys
            if first and start is not None:
                sql, args = f"{sql} AND {keys[0]} >= ?", (*args, start)
            if last is not None:
                cond, cond_args = after_keys(keys[:level], last[:level])
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

    def read_id_ranges(self, sql: str, low: int, top: int, *, columns: int,
                       params: tuple[Any, ...] = (), action: str = "read the audit log of",
                       scanning: bool = True, ahead: bool = False
                       ) -> Generator[tuple[int, list[Any]], None, None]:
        """The rows of `sql` for ids in (low, top], oldest range first, as a series of short
        statements: yields (hi, rows) for consecutive ranges (lo, hi]. `sql` is a SELECT of
        `columns` columns whose first two parameters are the range's bounds (`id > ? AND
        id <= ?`), then `params`. Each range is sized so its statement runs about
        `STATEMENT_TARGET_S` (at most `SCAN_CHUNK` ids with `scanning`, for SQL that looks
        at every row), and its rows are staged (see `_statement`). Stop early by not asking
        for the next range, or by closing the iterator: nothing is held between them.

        With `ahead`, each range's statement runs while the caller works on the rows of
        the one before (`_ranges_ahead`): for long reads whose caller spends longer on a
        range's rows than its statement takes, as the Recovery scan does."""
        sizes = self._id_chunks(scanning=scanning)
        if ahead and low < top:
            yield from self._ranges_ahead(sql, low, top, columns, params, action, sizes)
        else:
            yield from self._ranges(sql, low, top, columns, params, action, sizes)

    def _ranges(self, sql: str, low: int, top: int, columns: int, params: tuple[Any, ...],
                action: str, sizes: ChunkSizer) -> Iterator[tuple[int, list[Any]]]:
        """`read_id_ranges`, each statement run when its range is asked for."""
        lo = low
        while lo < top:
            hi = min(lo + sizes.size, top)
            rows, held = self._statement(sql, (lo, hi, *params), action, columns=columns)
            sizes.record(hi - lo, held)
            yield hi, rows
            lo = hi

    def _ranges_ahead(self, sql: str, low: int, top: int, columns: int,
                      params: tuple[Any, ...], action: str,
                      sizes: ChunkSizer) -> Iterator[tuple[int, list[Any]]]:
        """`read_id_ranges` with each range staged by a helper thread while the caller
        works on the rows of the range before: the staging step runs without the GIL, so
        it overlaps the caller's Python (150-250 ms of a 1.9 s Recovery scan of a million
        events, on two idle cores).

        Only that step moves: the helper stages the next range (`store_sql.stage`, into a
        table of its own, `AHEAD`) when the caller takes one, on the caller's connection
        and under its lock, as every statement; the caller then reads the rows out
        (`unstage`), times it (`lock_held`), sizes the next range and calls the observer
        (the next range's step may be under way by then), as without `ahead`. So at most
        one range is read ahead, no other connection (page cache, temporary tables) is
        opened, and the caller's other statements wait at most for that one step. The
        helper's errors reach the caller as they would have without `ahead` (the same
        exception, translated the same way). Closing the iterator (a cancelled scan, an
        error in the caller) waits for the step under way, if any, and ends the helper.
        Without a thread to be had, it reads as without `ahead`.

        The caller waits until the helper has begun each step (`begun`): a thread that
        wants the GIL while another runs Python waits for the interpreter's switch
        interval (5 ms, as long as the caller's work on a range), so a helper left to
        start on its own started its step after the caller had finished and saved nothing.
        """
        conn, lock = self._reader()
        timeout = self._timeout(conn)
        with lock:
            self._check_open()
            with self._errors(conn, action):
                table = polling(conn, timeout, lambda: staging_table(conn, columns, AHEAD))
        asks: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
        staged: queue.SimpleQueue[Staged | BaseException] = queue.SimpleQueue()
        begun = threading.Semaphore(0)

        def helper() -> None:
            while (ask := asks.get()) is not None:
                begun.release()
                args = (*ask, *params)
                try:
                    with lock:
                        self._check_open()
                        with self._errors(conn, action):
                            staged.put(polling(conn, timeout, functools.partial(
                                stage, conn, table, sql, args, columns)))
                except BaseException as exc:  # (to the caller, as it was raised)
                    staged.put(exc)

        thread = threading.Thread(target=helper, name=READ_AHEAD_THREAD, daemon=True)
        try:
            thread.start()
        except RuntimeError:  # (no thread to be had)
            yield from self._ranges(sql, low, top, columns, params, action, sizes)
            return
        lo, hi = low, min(low + sizes.size, top)
        unread = True  # a range staged (or being staged) and not read out
        try:
            asks.put((lo, hi))
            begun.acquire()
            while True:
                got = staged.get()
                if isinstance(got, BaseException):
                    unread = False
                    raise got
                with lock:
                    self._check_open()
                    with self._errors(conn, action):
                        rows, done = polling(conn, timeout,
                                             lambda: unstage(conn, table, columns))
                unread = False
                held = lock_held(got, done)
                sizes.record(hi - lo, held)
                following = (hi, min(hi + sizes.size, top))
                if hi < top:  # staged while the caller works on these rows
                    asks.put(following)
                    begun.acquire()
                    unread = True
                observer = self.statement_observer
                if observer is not None:
                    observer(sql, (lo, hi, *params), held)
                yield hi, rows
                if hi >= top:
                    return
                lo, hi = following
        finally:
            asks.put(None)
            thread.join()
            if unread:  # (closed early: its rows need not stay in memory until next time)
                with lock, contextlib.suppress(sqlite3.Error):
                    conn.execute(f"DELETE FROM {table}")

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

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store for {self.path} is closed", path=self.path)

    @property
    def busy_timeout(self) -> float:
        """Seconds a statement of this thread's connection waits for another process's lock
        (by polling, see `polling`; SQLite's own handler is off)."""
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
                    self._timeouts[conn] = seconds  # applied by `polling` at its next read
            return
        conn, lock = self._reader()
        with lock:
            self._check_open()
            if conn is self._conn:
                self._conn_timeout = seconds
            else:
                self._timeouts[conn] = seconds


def after_keys(keys: tuple[str, ...],
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
