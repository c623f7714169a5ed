"""Statements on one `sqlite3` connection, below the store: waiting for another process's
lock by polling, fetching all the rows of a statement (text that is not UTF-8 included), and
staging the rows of a read in a temporary table (DESIGN.md, "Short reads").
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

BUSY_TIMEOUT_S = 5.0  # seconds a statement waits for another process's lock (as the Rust store)
_BEGIN_POLL_S = 0.0005  # how often a write waiting for the lock tries again
_SQLITE_BUSY = 5

_T = TypeVar("_T")


def polling(conn: sqlite3.Connection, timeout: float, step: Callable[[], _T]) -> _T:
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


def fetch(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
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


def timed_fetch(conn: sqlite3.Connection, sql: str,
                params: tuple[Any, ...]) -> tuple[list[Any], float]:
    start = time.perf_counter()
    rows = fetch(conn, sql, params)
    return rows, time.perf_counter() - start


def timed_description(conn: sqlite3.Connection, sql: str,
                      params: tuple[Any, ...]) -> tuple[list[Any], float]:
    """The result columns of `sql` (a statement returning no row), and how long it ran."""
    start = time.perf_counter()
    cur = conn.execute(sql, params)
    try:
        return list(cur.description or ()), time.perf_counter() - start
    finally:
        cur.close()


_STAGING = "_shepherd_rows"  # temporary tables: temp._shepherd_rows<number of columns>


def staging_table(conn: sqlite3.Connection, columns: int) -> str:
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


def stage(conn: sqlite3.Connection, table: str, sql: str, params: tuple[Any, ...]) -> float:
    """Copy the rows of the SELECT `sql` into `table`, in their order, in one step: the only
    time the database is locked. Returns the seconds it took. Can be tried again when busy
    (a failed statement inserts nothing)."""
    start = time.perf_counter()
    conn.execute(f"INSERT INTO {table} {sql}", params).close()
    return time.perf_counter() - start


def unstage(conn: sqlite3.Connection, table: str, columns: int) -> list[Any]:
    """The rows `stage` copied, in order, and `table` emptied (no lock on the database)."""
    cols = ", ".join(f"c{i}" for i in range(columns))
    rows = fetch(conn, f"SELECT {cols} FROM {table} ORDER BY rowid", ())
    with contextlib.suppress(sqlite3.Error):  # only frees memory: the next use empties it
        conn.execute(f"DELETE FROM {table}")
    return rows


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def rollback(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        conn.execute("ROLLBACK")
