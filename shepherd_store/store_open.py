"""Opening a database file for `SqliteStore`: the checks made before SQLite sees the file,
the connection's first statements, and the tables a new or incomplete database lacks.
"""

from __future__ import annotations

import getpass
import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from .errors import CorruptDatabaseError, IncompatibleSchemaError, NotFoundError, translate
from .schema import (
    RUST_MISSING_TABLES,
    SEED_INDEXES,
    SEED_MISSING_TABLES,
    SEED_TABLES,
    Layout,
    SchemaInfo,
    inspect_schema,
    read_schema,
)
from .store_sql import polling

_SQLITE_HEADER_SIZE = 100  # bytes of the file header every SQLite database starts with


def connect(path: str | os.PathLike[str], *, read_only: bool,
            busy_timeout: float) -> tuple[sqlite3.Connection, str, str]:
    """A connection to the database at `path` (`mode=ro` when `read_only`, else creating a
    missing file), after the checks SQLite would not make: (connection, the path as messages
    show it, its URI). See `SqliteStore.open`."""
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
    if exists:
        # An empty file is a new database to SQLite, and the Rust store creates its tables
        # in it: a writable open sets it up like a missing file (a read-only one refuses).
        check_header(p, read_only=read_only)
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
    return conn, shown, uri


def prepare(conn: sqlite3.Connection, path: str, *, read_only: bool,
            busy_timeout: float) -> tuple[Layout, frozenset[str]]:
    """The first statements on a new connection: no SQLite busy handler, `synchronous=FULL`
    when writing, the schema read in one transaction; a writable open creates the seed layout
    in an empty database, or this layout's missing tables. Returns (layout, tables)."""
    try:
        # No SQLite busy handler: every statement that can meet another process's lock
        # goes through `polling`, which tries again far more often (see there).
        conn.execute("PRAGMA busy_timeout = 0")

        def prologue() -> SchemaInfo:
            if not read_only:  # (a connection's first statements load the schema: locks)
                conn.execute("PRAGMA synchronous = FULL")
            # The schema in one read transaction, so that it needs the lock only once.
            return read_schema(conn)

        info = polling(conn, busy_timeout, prologue)
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
            polling(conn, busy_timeout, lambda: conn.execute("BEGIN IMMEDIATE"))
            try:
                for stmt in ddl:
                    conn.execute(stmt)
                polling(conn, busy_timeout, lambda: conn.execute("COMMIT"))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            tables = inspect_schema(conn).tables
        except sqlite3.Error as exc:
            raise translate(exc, path, "create the tables of",
                            busy_timeout=busy_timeout) from None
    return layout, tables


def check_header(p: Path, *, read_only: bool) -> int:
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
        return f"the file is not writable by {user_name()}; open it as the database's owner"
    if not os.access(p.parent, os.W_OK):
        return (f"its folder is not writable by {user_name()} (SQLite needs it for journal "
                "files); open it as the database's owner")
    return None


def user_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid {os.getuid()}"
