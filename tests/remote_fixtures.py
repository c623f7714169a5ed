"""Fixtures of the remote-database tests (imported by tests/test_remote*.py, not conftest):
a real sshd on 127.0.0.1 for the session (`sshd`), `RemoteStore`s through it that are
closed after each test (`connect`), and databases to serve: copies of the Rust-written
fixtures and a seed-layout database made from one of them (fixtures are never modified).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import fixture_path
from sshd import Sshd

from shepherd_store import AuditEvent, AuditFilter, SqliteStore, overrides
from shepherd_store.cli import main
from shepherd_store.remote import RemoteStore

#: The databases written by the real Rust store (tests/fixtures/README.md).
RUST_FIXTURES = ("rust-v0.db", "rust-v0-nosession.db", "rust-clean.db",
                 "rust-crash-restarted.db", "rust-crash-down.db")
#: Who the tests' edits say they come from.
CLIENT = "tester@laptop"

#: A time the tests' edits set (2026-03-08 12:00 in the fixtures' zone).
EST_NOON = datetime(2026, 3, 8, 12, 0, tzinfo=timezone(timedelta(hours=-5)))

Connect = Callable[..., RemoteStore]


@pytest.fixture(scope="session")
def sshd() -> Iterator[Sshd]:
    """A throwaway sshd on 127.0.0.1 that lets this user in with a throwaway key."""
    folder = Path(tempfile.mkdtemp(prefix="shepherd-sshd-"))
    server = Sshd.start(folder)
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


def remote_options(sshd: Sshd, **options: Any) -> dict[str, Any]:
    """`RemoteStore` options that reach `sshd`, with this venv's python on the other side."""
    options.setdefault("ssh_config", str(sshd.ssh_config))
    options.setdefault("remote_python", [sys.executable])
    options.setdefault("client_name", CLIENT)
    options.setdefault("connect_timeout", 20.0)
    return options


@pytest.fixture
def connect(sshd: Sshd) -> Iterator[Connect]:
    """`connect(path, **options)`: a connected `RemoteStore` on `path` through `sshd`."""
    opened: list[RemoteStore] = []

    def make(path: Path, **options: Any) -> RemoteStore:
        store = RemoteStore(sshd.url(path), **remote_options(sshd, **options))
        opened.append(store)
        store.connect()
        return store

    yield make
    for store in opened:
        store.close()


def copy_fixture(folder: Path, name: str) -> Path:
    """A writable copy of a Rust-written fixture."""
    dest = folder / name
    shutil.copyfile(fixture_path(name), dest)
    dest.chmod(0o644)
    return dest


def seed_database(folder: Path) -> Path:
    """A seed-layout database holding rust-crash-restarted.db's log, usage and cooldowns,
    rust-v0.db's snapshot and one manual override (a `manual_override` event)."""
    dest = folder / "seed.db"
    with SqliteStore.open(fixture_path("rust-crash-restarted.db"), read_only=True) as src, \
            SqliteStore.open(fixture_path("rust-v0.db"), read_only=True) as v0, \
            SqliteStore.open(dest) as store:
        events = src.find_audits(AuditFilter(), limit=100_000).events
        for event in reversed(events):
            store.append_audit(AuditEvent(0, event.timestamp, event.event))
        for record in src.usage_between():
            store.add_usage(record.entry_id, record.day, timedelta(seconds=record.seconds))
        for cooldown in src.all_cooldowns():
            assert cooldown.until is not None
            store.set_cooldown_until(cooldown.entry_id, cooldown.until)
        snapshot = v0.load_snapshot()
        assert snapshot is not None
        store.save_snapshot(snapshot)
        current = overrides.cooldown_text(store, "minecraft")
        assert current is not None
        overrides.set_cooldown(store, "minecraft", EST_NOON, expected=current)
    return dest


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Whether `condition` became true within `seconds` (polled every 10 ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def gone(pid: int) -> bool:
    """Whether process `pid` has ended."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run `work` in a thread; the list gets its result or its exception."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(work())
        except Exception as exc:
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """`shepherd-store ARGS` (`main`) in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err
