"""An existing empty (0-byte) file: a writable open sets it up as a new database, as the Rust
store does (SQLite sees an empty database and the service creates its tables in it); a
read-only open refuses it, says why, and leaves it exactly as it was."""

from __future__ import annotations

import builtins
import io
import os
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shepherd_store import (
    AuditEvent,
    IncompatibleSchemaError,
    Layout,
    ServiceStarted,
    SqliteStore,
    StateSnapshot,
)

WHEN = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)


def schema(path: Path) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return sorted(conn.execute("SELECT type, name, sql FROM sqlite_master"))
    finally:
        conn.close()


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def pragmas_of_open(monkeypatch: Any, path: Path) -> tuple[SqliteStore, list[str]]:
    """A writable store on `path`, and the PRAGMA statements its opening ran."""
    seen: list[str] = []
    real_connect = sqlite3.connect

    def connect(*args: Any, **kw: Any) -> sqlite3.Connection:
        conn = real_connect(*args, **kw)
        conn.set_trace_callback(lambda sql: seen.append(sql) if "PRAGMA" in sql else None)
        return conn

    with monkeypatch.context() as m:
        m.setattr(sqlite3, "connect", connect)
        store = SqliteStore.open(path)
    store._conn.set_trace_callback(None)
    return store, seen


def test_a_writable_open_initialises_an_empty_file_like_a_new_one(tmp_path: Path,
                                                                  monkeypatch: Any) -> None:
    fresh = tmp_path / "fresh.db"  # does not exist: the store creates it
    store, fresh_pragmas = pragmas_of_open(monkeypatch, fresh)
    with store:
        fresh_mode = store.journal_mode
    assert "PRAGMA synchronous = FULL" in fresh_pragmas
    assert "PRAGMA journal_mode = WAL" in fresh_pragmas
    empty = tmp_path / "empty.db"
    empty.touch()
    store, empty_pragmas = pragmas_of_open(monkeypatch, empty)
    assert empty_pragmas == fresh_pragmas  # WAL, synchronous = FULL: as for a new file
    with store:
        assert store.layout is Layout.SEED
        assert store.writable
        assert store.journal_mode == fresh_mode == "wal"
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        store.append_audit(AuditEvent(0, WHEN, ServiceStarted()))
        store.add_usage("tuxmath", date(2026, 1, 10), timedelta(minutes=5))
        store.set_cooldown_until("tuxmath", WHEN)
        store.save_snapshot(StateSnapshot(WHEN, None))
    assert empty.stat().st_size > 0
    assert schema(empty) == schema(fresh)
    with SqliteStore.open(empty, read_only=True) as store:
        assert [e.event for e in store.get_recent_audits(5)] == [ServiceStarted()]
        assert store.get_usage("tuxmath", date(2026, 1, 10)) == timedelta(minutes=5)
        assert store.get_cooldown_until("tuxmath") == WHEN
        assert store.load_snapshot() == StateSnapshot(WHEN, None)


def test_a_read_only_open_refuses_an_empty_file_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "shepherdd.db"
    path.touch()
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    with pytest.raises(IncompatibleSchemaError) as info:
        SqliteStore.open(path, read_only=True)
    message = str(info.value)
    assert str(path) in message and info.value.path == str(path)
    assert "empty (0 bytes)" in message
    assert "not a Shepherd database yet" in message
    assert "creates" in message and "when it starts" in message
    # Left byte-identical: still 0 bytes, untouched, no -wal, -shm or -journal beside it.
    assert path.read_bytes() == b""
    assert path.stat().st_mtime_ns == 1_000_000_000
    assert listing(tmp_path) == ["shepherdd.db"]


def test_an_empty_file_refused_read_only_can_then_be_initialised(tmp_path: Path) -> None:
    path = tmp_path / "shepherdd.db"
    path.touch()
    with pytest.raises(IncompatibleSchemaError):
        SqliteStore.open(path, read_only=True)
    SqliteStore.open(path).close()
    with SqliteStore.open(path, read_only=True) as store:
        assert store.layout is Layout.SEED and store.get_recent_audits(5) == []


@pytest.mark.parametrize("read_only", [False, True])
def test_the_empty_file_is_never_opened_by_python(tmp_path: Path, monkeypatch: Any,
                                                  read_only: bool) -> None:
    """Only stat(): closing any descriptor of the file would drop SQLite's POSIX locks."""
    path = tmp_path / "empty.db"
    path.touch()
    opened: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy(file: Any, *args: Any, **kw: Any) -> Any:
        if isinstance(file, str | os.PathLike) and Path(file).name.startswith("empty.db"):
            opened.append(str(file))
        return real_open(file, *args, **kw)

    def os_spy(file: Any, *args: Any, **kw: Any) -> Any:
        if isinstance(file, str | os.PathLike) and Path(file).name.startswith("empty.db"):
            opened.append(str(file))
        return real_os_open(file, *args, **kw)

    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr(io, "open", spy)
    monkeypatch.setattr(os, "open", os_spy)
    try:
        SqliteStore.open(path, read_only=read_only).close()
    except IncompatibleSchemaError:
        assert read_only
    monkeypatch.undo()
    assert opened == []


def test_a_file_of_a_few_bytes_is_still_refused_writable(tmp_path: Path) -> None:
    """Only 0 bytes means "not created yet": anything shorter than a header is damage."""
    path = tmp_path / "short.db"
    path.write_bytes(b"\x00")
    with pytest.raises(Exception, match="not a SQLite database"):
        SqliteStore.open(path)
    assert path.read_bytes() == b"\x00"
