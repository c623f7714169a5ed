"""`translate`: SQLite's errors become `StoreError`s whose messages tell the truth."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from shepherd_store import LockedError, SqliteStore
from shepherd_store.errors import format_timeout, translate


def busy() -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError("database is locked")
    exc.sqlite_errorcode = 5  # type: ignore[attr-defined]
    return exc


@pytest.mark.parametrize(("seconds", "shown"), [
    (5.0, "5 s"), (5, "5 s"), (0.5, "0.5 s"), (0.2, "0.2 s"), (0.25, "250 ms"),
    (0.75, "750 ms"), (1.5, "1.5 s"), (2.25, "2.25 s"), (30.0, "30 s"), (3600, "3600 s"),
    (0.001, "1 ms"), (0.0005, "0.5 ms"),
])
def test_format_timeout(seconds: float, shown: str) -> None:
    assert format_timeout(seconds) == shown


@pytest.mark.parametrize(("seconds", "shown"), [
    (5.0, "the 5 s busy timeout"), (0.75, "the 750 ms busy timeout"),
    (0.2, "the 0.2 s busy timeout"),
])
def test_locked_message_states_the_timeout(seconds: float, shown: str) -> None:
    err = translate(busy(), "/x.db", "read", busy_timeout=seconds)
    assert isinstance(err, LockedError)
    assert shown in str(err), str(err)
    assert "Cannot read /x.db" in str(err)
    if seconds != 5.0:
        assert "5 s" not in str(err)


def test_locked_message_without_waiting() -> None:
    # A window's GUI thread does not wait for locks at all (timeout 0).
    err = translate(busy(), "/x.db", "read", busy_timeout=0)
    assert isinstance(err, LockedError)
    assert "locked" in str(err)
    assert "does not wait" in str(err)
    assert " s busy timeout" not in str(err)


def test_locked_message_of_an_unknown_timeout() -> None:
    # Callers that do not know the timeout get no made-up figure.
    err = translate(busy(), "/x.db", "read")
    assert isinstance(err, LockedError)
    assert "5 s" not in str(err)
    assert "busy timeout" in str(err)


def test_store_write_states_its_timeout(seed_path: Path) -> None:
    with SqliteStore.open(seed_path, busy_timeout=0.2) as store:
        holder = sqlite3.connect(seed_path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(LockedError) as info:
                store.add_usage("a", date(2026, 1, 1), timedelta(seconds=1))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert "the 0.2 s busy timeout" in str(info.value), str(info.value)
    assert "5 s" not in str(info.value)


def test_store_read_states_this_threads_timeout(rust_copy: Path) -> None:
    # In rollback-journal mode an exclusive lock blocks readers too.
    with SqliteStore.open(rust_copy, busy_timeout=0.2) as store:
        store.set_busy_timeout(0.05)
        assert store.busy_timeout == 0.05
        holder = sqlite3.connect(rust_copy, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(LockedError) as info:
                store.get_recent_audits(10)
            with pytest.raises(LockedError) as opening:
                SqliteStore.open(rust_copy, busy_timeout=0.1, read_only=True)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert "the 50 ms busy timeout" in str(info.value), str(info.value)
    assert "the 0.1 s busy timeout" in str(opening.value), str(opening.value)
