"""Durability with real processes: concurrent writers, SIGKILL mid-write, read-only opens."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from shepherd_store import (
    AuditEvent,
    AuditFilter,
    PolicyLoaded,
    ReadOnlyError,
    SqliteStore,
    StateSnapshot,
)

REPO = Path(__file__).resolve().parent.parent
DAY = date(2026, 1, 10)

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def child(code: str, *args: str) -> subprocess.Popen[str]:
    """A Python process running `code` with the repository importable; argv[1:] = args."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=REPO,
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


ADDER = """
    import sys
    from datetime import date, timedelta
    from shepherd_store import SqliteStore
    path, n, entry = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with SqliteStore.open(path) as store:
        print("ready", flush=True)
        sys.stdin.readline()  # wait for "go" so both writers overlap
        for _ in range(n):
            store.add_usage(entry, date(2026, 1, 10), timedelta(seconds=1, microseconds=999))
    print("done", flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["seed", "rust"])
def test_concurrent_add_usage_loses_nothing(tmp_path: Path, layout: str,
                                            request: pytest.FixtureRequest) -> None:
    path = tmp_path / "seed.db" if layout == "seed" else request.getfixturevalue("rust_copy")
    SqliteStore.open(path).close()
    procs = [child(ADDER, str(path), "500", "durability") for _ in range(2)]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert out.strip() == "done"
    with SqliteStore.open(path, read_only=True) as store:
        assert store.get_usage("durability", DAY) == timedelta(seconds=1000)
    assert integrity(path) == "ok"


APPENDER = """
    import sys
    from shepherd_store import AuditEvent, PolicyLoaded, SqliteStore
    path, base = sys.argv[1], int(sys.argv[2])
    with SqliteStore.open(path) as store:
        print("ready", flush=True)
        i = 0
        while True:
            event = AuditEvent.new(PolicyLoaded(base + i))
            store.append_audit(event)
            print(f"{event.id} {base + i}", flush=True)
            i += 1
"""


def _kill_rounds(path: Path, rounds: int, seed: int) -> dict[int, int]:
    """Run `rounds` appenders, each SIGKILLed at a random moment; return acked id -> value."""
    rng = random.Random(seed)
    acked: dict[int, int] = {}
    for r in range(rounds):
        proc = child(APPENDER, str(path), str(r * 1_000_000))
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr
        time.sleep(rng.uniform(0.0, 0.08))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2:  # a line cut by the kill is not an acknowledgement
                acked[int(parts[0])] = int(parts[1])
    return acked


@pytest.mark.slow
@pytest.mark.parametrize(("layout", "rounds"), [("seed", 30), ("rust", 15)])
def test_sigkill_never_loses_acknowledged_events(tmp_path: Path, layout: str, rounds: int,
                                                 request: pytest.FixtureRequest) -> None:
    path = tmp_path / "seed.db" if layout == "seed" else request.getfixturevalue("rust_copy")
    SqliteStore.open(path).close()
    acked = _kill_rounds(path, rounds, seed=rounds)
    assert len(acked) > rounds, "the writers must have acknowledged events"
    assert integrity(path) == "ok"
    with SqliteStore.open(path, read_only=True) as store:
        stored = {e.id: e for e in store.find_audits(AuditFilter(), limit=10**7).events}
    missing = sorted(set(acked) - set(stored))
    assert not missing, f"acknowledged but lost: {missing[:10]}"
    for event_id, value in acked.items():
        assert stored[event_id].event == PolicyLoaded(value)
    ids = sorted(stored)
    assert len(ids) == len(set(ids))
    if layout == "rust":
        assert sorted(stored)[:23] == list(range(1, 24))
    with SqliteStore.open(path) as store:  # still writable after all the crashes
        item = AuditEvent.new(PolicyLoaded(1))
        store.append_audit(item)
        assert item.id > max(ids)
    assert integrity(path) == "ok"


READER = """
    import sys
    from datetime import date, datetime, timedelta, timezone
    from shepherd_store import (AuditEvent, AuditFilter, ReadOnlyError, ServiceStarted,
                                SqliteStore, StateSnapshot)
    utc = timezone.utc
    with SqliteStore.open(sys.argv[1], read_only=True) as s:
        s.get_recent_audits(1000)
        s.find_audits(AuditFilter(entry_id="tuxmath", text="x"))
        s.find_audits(AuditFilter(event_types=frozenset({"session_ended"})))
        s.usage_between()
        s.all_cooldowns()
        s.load_snapshot_text()
        s.change_token()
        s.known_entries()
        s.list_overrides()
        refused = 0
        for write in (lambda: s.append_audit(AuditEvent.new(ServiceStarted())),
                      lambda: s.add_usage("tuxmath", date(2026, 1, 1), timedelta(seconds=1)),
                      lambda: s.set_cooldown_until("tuxmath", datetime(2030, 1, 1, tzinfo=utc)),
                      lambda: s.clear_cooldown("tuxmath"),
                      lambda: s.save_snapshot(StateSnapshot(datetime(2030, 1, 1, tzinfo=utc))),
                      lambda: s.delete_snapshot()):
            try:
                write()
            except ReadOnlyError:
                refused += 1
        print("refused", refused, flush=True)
"""


def _read_only_round(path: Path) -> None:
    digest, mtime = sha256(path), path.stat().st_mtime_ns
    proc = child(READER, str(path))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.split() == ["refused", "6"]
    assert sha256(path) == digest
    assert path.stat().st_mtime_ns == mtime


def test_read_only_rust_copy_is_byte_identical(rust_copy: Path) -> None:
    _read_only_round(rust_copy)
    assert sorted(p.name for p in rust_copy.parent.iterdir()) == [rust_copy.name]


def test_read_only_seed_file_is_byte_identical(seed_path: Path) -> None:
    with SqliteStore.open(seed_path) as store:
        store.append_audit(AuditEvent.new(PolicyLoaded(3)))
        store.add_usage("tuxmath", DAY, timedelta(seconds=5))
        store.save_snapshot(StateSnapshot(AuditEvent.new(PolicyLoaded(0)).timestamp))
    _read_only_round(seed_path)
    wal = Path(str(seed_path) + "-wal")
    # A WAL reader may create the -wal/-shm side files, but never writes a frame.
    assert not wal.exists() or wal.stat().st_size == 0


def test_read_only_in_process_writes_refused_without_touching_file(rust_copy: Path) -> None:
    digest = sha256(rust_copy)
    with SqliteStore.open(rust_copy, read_only=True) as store:
        with pytest.raises(ReadOnlyError, match="read-only"):
            store.add_usage("tuxmath", DAY, timedelta(seconds=1))
        with pytest.raises(ReadOnlyError):
            store.append_audit(AuditEvent.new(PolicyLoaded(1)))
        with pytest.raises(ReadOnlyError), store.override("set a cooldown in"):
            pass
        assert store.get_usage("tuxmath", DAY) == timedelta(seconds=2700)
    assert sha256(rust_copy) == digest


def _other_process_can_lock(path: Path) -> bool:
    """Whether another process gets a write lock on `path` at once (no waiting)."""
    code = textwrap.dedent(f"""
        import sqlite3, sys
        conn = sqlite3.connect({str(path)!r}, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            sys.exit(1)
        conn.execute("ROLLBACK")
    """)
    return subprocess.run([sys.executable, "-c", code], timeout=30).returncode == 0


@pytest.mark.parametrize("read_only", [True, False])
def test_opening_a_store_keeps_the_locks_this_process_holds(seed_path: Path,
                                                            read_only: bool) -> None:
    # POSIX record locks belong to the process: closing *any* descriptor of the file drops
    # every lock SQLite holds on it (sqlite.org/howtocorrupt.html, 2.2). Opening a store
    # once read the header with open()/close(): a window opening its writer dropped its
    # reader's lock, and the soak saw "database disk image is malformed" mid-read.
    assert _other_process_can_lock(seed_path)
    holder = sqlite3.connect(seed_path, timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # this process holds the write lock
        assert not _other_process_can_lock(seed_path)
        with SqliteStore.open(seed_path, read_only=read_only, busy_timeout=0) as store:
            assert store.layout is not None
            assert not _other_process_can_lock(seed_path), "opening a store dropped a lock"
        assert not _other_process_can_lock(seed_path), "closing a store dropped a lock"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
