"""Bad files and bad conditions give a clear `StoreError` subclass naming the file."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shepherd_store import (
    AuditEvent,
    AuditFilter,
    CorruptDatabaseError,
    IncompatibleSchemaError,
    LaunchDenied,
    LockedError,
    NotFoundError,
    ReadOnlyError,
    ServiceStarted,
    SqliteStore,
    StoreError,
    UnknownEvent,
    encode_event,
)

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
not_root = pytest.mark.skipif(ROOT, reason="root bypasses file permissions")


def open_error(path: Path, **kw: Any) -> StoreError:
    with pytest.raises(StoreError) as info:
        SqliteStore.open(path, **kw).close()
    err = info.value
    assert str(path) in str(err), str(err)
    assert err.path == str(path)
    return err


def test_missing_file_read_only(tmp_path: Path) -> None:
    path = tmp_path / "nope.db"
    err = open_error(path, read_only=True)
    assert isinstance(err, NotFoundError)
    assert "does not exist" in str(err)
    assert not path.exists()


def test_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "folder" / "x.db"
    assert isinstance(open_error(path), NotFoundError)
    assert not path.parent.exists()


@pytest.mark.parametrize("read_only", [False, True])
def test_directory(tmp_path: Path, read_only: bool) -> None:
    err = open_error(tmp_path, read_only=read_only)
    assert isinstance(err, NotFoundError)
    assert "directory" in str(err)
    assert list(tmp_path.iterdir()) == []


def test_zero_byte_file(tmp_path: Path) -> None:
    # Read-only only: a writable open initialises an empty file (tests/test_empty_file.py).
    path = tmp_path / "empty.db"
    path.touch()
    err = open_error(path, read_only=True)
    assert isinstance(err, IncompatibleSchemaError)
    assert "empty" in str(err)
    assert path.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


@pytest.mark.parametrize("content", [
    b"hello, this is a text file\n" * 20,
    b"x",
    b"SQLite format 3\x00",  # a header and nothing else
    bytes(range(256)) * 8,
])
@pytest.mark.parametrize("read_only", [False, True])
def test_not_a_database(tmp_path: Path, content: bytes, read_only: bool) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    err = open_error(path, read_only=read_only)
    assert isinstance(err, CorruptDatabaseError)
    assert path.read_bytes() == content


@pytest.mark.parametrize("size", [1000, 4096, 20480])
@pytest.mark.parametrize("read_only", [False, True])
def test_truncated_fixture(tmp_path: Path, rust_v0: Path, size: int, read_only: bool) -> None:
    path = tmp_path / "cut.db"
    path.write_bytes(rust_v0.read_bytes()[:size])
    err = open_error(path, read_only=read_only)
    assert isinstance(err, CorruptDatabaseError)
    assert "damaged" in str(err) or "not a SQLite" in str(err)
    assert path.stat().st_size == size


def _big_seed_db(path: Path, n: int = 4000) -> None:
    SqliteStore.open(path).close()
    text = encode_event(ServiceStarted())
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO audit_log (timestamp, event_type, event_data) VALUES (?, ?, ?)",
            [(f"2026-01-01T00:{i % 60:02d}:00+00:00", "service_started",
              text[:-1] + f',"pad":"{"x" * 200}{i}"}}') for i in range(n)])
        conn.executemany("INSERT INTO usage VALUES (?, ?, ?)",
                         [(f"e{i % 30}", f"2026-01-{1 + i // 30:02d}", i) for i in range(900)])
    conn.close()
    assert not Path(str(path) + "-wal").exists()


@pytest.mark.parametrize("read_only", [False, True])
def test_truncated_generated_database(tmp_path: Path, read_only: bool) -> None:
    path = tmp_path / "big.db"
    _big_seed_db(path)
    size = path.stat().st_size
    assert size > 500_000
    with path.open("r+b") as fh:
        fh.truncate(size // 2)
    calls: list[Callable[[SqliteStore], object]] = [
        lambda s: s.get_recent_audits(200),
        lambda s: s.find_audits(AuditFilter(text="pad"), limit=5000),
        lambda s: s.find_audits(AuditFilter(event_types=frozenset({"service_started"})),
                                limit=5000),
        lambda s: s.usage_between(),
        lambda s: s.load_snapshot(),
        lambda s: s.change_token(),
    ]
    if not read_only:
        calls.append(lambda s: s.append_audit(AuditEvent.new(ServiceStarted())))
    failures: list[StoreError] = []
    try:
        store = SqliteStore.open(path, read_only=read_only)
    except StoreError as exc:
        failures.append(exc)
    else:
        with store:
            for call in calls:
                try:
                    call(store)
                except StoreError as exc:
                    failures.append(exc)
    assert failures, "reading a database cut in half must fail somewhere"
    for exc in failures:
        assert isinstance(exc, CorruptDatabaseError), repr(exc)
        assert str(path) in str(exc)


def test_unrelated_tables_only(tmp_path: Path) -> None:
    path = tmp_path / "firefox-places.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    err = open_error(path)
    assert isinstance(err, IncompatibleSchemaError)
    assert "not a Shepherd" in str(err)
    assert path.read_bytes() == before


def test_wrong_columns(tmp_path: Path) -> None:
    path = tmp_path / "odd.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE audit_log (id INTEGER PRIMARY KEY, message TEXT)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    err = open_error(path)
    assert isinstance(err, IncompatibleSchemaError)
    assert "audit_log" in str(err)
    assert path.read_bytes() == before


@pytest.fixture
def exclusive_lock() -> Iterator[Callable[[Path], sqlite3.Connection]]:
    held: list[sqlite3.Connection] = []

    def lock(path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        held.append(conn)
        return conn

    yield lock
    for conn in held:
        conn.execute("ROLLBACK")
        conn.close()


def test_locked_wal_database(seed_path: Path,
                             exclusive_lock: Callable[[Path], sqlite3.Connection]) -> None:
    with SqliteStore.open(seed_path, busy_timeout=0.2) as store:
        store.add_usage("tuxmath", date(2026, 1, 1), timedelta(seconds=5))
        exclusive_lock(seed_path)
        assert store.get_usage("tuxmath", date(2026, 1, 1)) == timedelta(seconds=5)
        for write in (lambda: store.append_audit(AuditEvent.new(ServiceStarted())),
                      lambda: store.add_usage("tuxmath", date(2026, 1, 1), timedelta(seconds=1)),
                      lambda: store.set_cooldown_until("x", datetime(2030, 1, 1, tzinfo=UTC))):
            start = time.monotonic()
            with pytest.raises(LockedError) as info:
                write()
            assert 0.15 <= time.monotonic() - start < 3
            assert str(seed_path) in str(info.value)
            assert "locked" in str(info.value)
    with SqliteStore.open(seed_path) as store:  # nothing half-written
        assert store.get_usage("tuxmath", date(2026, 1, 1)) == timedelta(seconds=5)
        assert store.get_recent_audits(10) == []


def test_locked_rollback_journal_database(
        rust_copy: Path, exclusive_lock: Callable[[Path], sqlite3.Connection]) -> None:
    store = SqliteStore.open(rust_copy, busy_timeout=0.2)
    try:
        exclusive_lock(rust_copy)
        start = time.monotonic()
        with pytest.raises(LockedError) as info:
            store.add_usage("tuxmath", date(2026, 1, 1), timedelta(seconds=1))
        assert time.monotonic() - start < 3
        assert str(rust_copy) in str(info.value)
        # In rollback-journal mode an exclusive lock blocks readers as well.
        with pytest.raises(LockedError):
            store.get_recent_audits(10)
        with pytest.raises(LockedError):
            SqliteStore.open(rust_copy, busy_timeout=0.2, read_only=True)
    finally:
        store.close()


def test_lock_released_lets_writes_through(seed_path: Path) -> None:
    other = sqlite3.connect(seed_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    with SqliteStore.open(seed_path, busy_timeout=0.2) as store:
        with pytest.raises(LockedError):
            store.add_usage("a", date(2026, 1, 1), timedelta(seconds=1))
        other.execute("ROLLBACK")
        other.close()
        store.add_usage("a", date(2026, 1, 1), timedelta(seconds=1))
        assert store.get_usage("a", date(2026, 1, 1)) == timedelta(seconds=1)


def test_read_only_store_refuses_writes(seed_path: Path) -> None:
    with SqliteStore.open(seed_path, read_only=True) as store:
        with pytest.raises(ReadOnlyError) as info:
            store.add_usage("a", date(2026, 1, 1), timedelta(seconds=1))
        assert str(seed_path) in str(info.value)
        assert store.read_only_reason == "opened read-only"


def test_closed_store_raises_store_error(seed_path: Path) -> None:
    store = SqliteStore.open(seed_path)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.get_recent_audits(1)
    with pytest.raises(StoreError, match="closed"):
        store.add_usage("a", date(2026, 1, 1), timedelta(seconds=1))


@pytest.mark.parametrize("name", ["my db.db", "q?x=1.db", "hash#frag.db", "pct%20.db",
                                  "ünï cødé.db"])
def test_awkward_file_names(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with SqliteStore.open(path) as store:
        store.add_usage("a", date(2026, 1, 1), timedelta(seconds=3))
    assert path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    with SqliteStore.open(path, read_only=True) as store:
        assert store.get_usage("a", date(2026, 1, 1)) == timedelta(seconds=3)


def test_rust_fixture_copy_with_awkward_name(tmp_path: Path, rust_v0: Path) -> None:
    path = tmp_path / "shepherd?mode=rwc.db"
    shutil.copyfile(rust_v0, path)
    with SqliteStore.open(path, read_only=True) as store:
        assert len(store.get_recent_audits(100)) == 23


@pytest.mark.permissions
@not_root
def test_unreadable_file(tmp_path: Path, rust_v0: Path) -> None:
    path = tmp_path / "secret.db"
    shutil.copyfile(rust_v0, path)
    path.chmod(0o000)
    try:
        err = open_error(path, read_only=True)
        assert isinstance(err, NotFoundError)
        assert "permission" in str(err).lower()
    finally:
        path.chmod(0o644)


@pytest.mark.permissions
@not_root
def test_read_only_file_refuses_writes(tmp_path: Path, rust_v0: Path) -> None:
    path = tmp_path / "ro.db"
    shutil.copyfile(rust_v0, path)
    path.chmod(0o444)
    before = path.read_bytes()
    try:
        with SqliteStore.open(path) as store:
            assert store.read_only_reason is not None
            with pytest.raises(ReadOnlyError) as info:
                store.add_usage("tuxmath", date(2026, 1, 1), timedelta(seconds=1))
            assert str(path) in str(info.value)
            assert len(store.get_recent_audits(100)) == 23
    finally:
        path.chmod(0o644)
    assert path.read_bytes() == before


@pytest.mark.permissions
@not_root
def test_read_only_directory_refuses_writes(tmp_path: Path, rust_v0: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    path = folder / "db.db"
    shutil.copyfile(rust_v0, path)
    folder.chmod(0o555)
    try:
        with SqliteStore.open(path) as store:
            assert store.read_only_reason is not None
            with pytest.raises(StoreError) as info:
                store.add_usage("tuxmath", date(2026, 1, 1), timedelta(seconds=1))
            assert isinstance(info.value, (ReadOnlyError, NotFoundError))
    finally:
        folder.chmod(0o755)


# Regression: one row whose text is not UTF-8 (written by some other tool) made every read
# that fetched it fail with "Could not decode to UTF-8", hiding the whole audit log.
def test_rows_with_invalid_utf8_do_not_hide_the_rest(rust_copy: Path) -> None:
    conn = sqlite3.connect(rust_copy, isolation_level=None)
    conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES "
                 "('2026-07-05T10:00:00-04:00', CAST(X'7B2274797065223A22FF227D' AS TEXT))")
    conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES ("
                 "'2026-07-05T10:01:00-04:00', "
                 "CAST('{\"type\":\"launch_denied\",\"entry_id\":\"tux' || X'C328' || "
                 "'\",\"reasons\":[]}' AS TEXT))")
    conn.execute("INSERT INTO usage VALUES (CAST(X'6D696E65FF' AS TEXT), '2026-07-05', 60)")
    conn.execute("INSERT INTO cooldowns VALUES (CAST(X'FE' AS TEXT), '2030-01-01T00:00:00Z')")
    conn.close()
    with SqliteStore.open(rust_copy, read_only=True) as store:
        recent = store.get_recent_audits(100)
        assert [e.id for e in recent] == list(range(25, 0, -1))
        assert recent[1].event == UnknownEvent("\ufffd", '{"type":"\ufffd"}')
        denied = recent[0].event
        assert isinstance(denied, LaunchDenied) and denied.entry_id.startswith("tux\ufffd")
        found = store.find_audits(AuditFilter(text="launch_denied")).events
        assert [e.id for e in found] == [25, 18]
        assert len(store.usage_between()) == 14
        assert "mine\ufffd" in store.known_entries()
        assert len(store.all_cooldowns()) == 3
        assert store.get_cooldown_until("tuxmath") is not None
