"""A remote database when things go wrong, through a real sshd on 127.0.0.1: dropped
connections and killed processes mid-edit (the old value or the new, never both), a retry
that applies an edit once, timeouts, reconnecting, and a remote computer that lacks Python
or the library (what to install, and the library copied over with `bootstrap=True`)."""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import time
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import pytest
import remote_fixtures
from remote_fixtures import (
    EST_NOON,
    Connect,
    copy_fixture,
    gone,
    in_thread,
    remote_options,
    wait_for,
)
from sshd import Sshd

from shepherd_store import SqliteStore, overrides
from shepherd_store.errors import (
    ConnectionLostError,
    ProtocolError,
    RemoteSetupError,
    RemoteTimeoutError,
)
from shepherd_store.overrides import CooldownChange
from shepherd_store.remote import RemoteStore, new_edit_id
from shepherd_store.remote.launch import library_zip
from shepherd_store.store import ChangeToken

sshd = remote_fixtures.sshd
connect = remote_fixtures.connect
DAY = date(2026, 1, 5)





def edit_traces(path: Path, edit_id: str) -> int:
    """How many traces the edit `edit_id` left (a writable open rolls back a hot journal,
    as the service's next access would)."""
    with SqliteStore.open(path) as store:
        ids = [e.raw_json for e in store.find_audits(limit=10_000).events]
        store._refresh_tables()
        rows = store._read("SELECT event_json FROM inspector_overrides") \
            if "inspector_overrides" in store._tables else []
    return sum(f'"edit_id":"{edit_id}"' in str(text) for text in [*ids, *(r[0] for r in rows)])


def usage(path: Path, entry: str = "minecraft") -> int:
    with SqliteStore.open(path) as store:
        return int(store.get_usage(entry, DAY).total_seconds())


class WriteLock:
    """Another process's write lock on the database, held until released (the service in
    the middle of a commit)."""

    def __init__(self, path: Path, mode: str = "IMMEDIATE") -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute(f"BEGIN {mode}")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


# --- dropped connections -----------------------------------------------------------------------


def test_a_dropped_connection_is_said_and_reconnect_restores_it(tmp_path: Path,
                                                                connect: Connect) -> None:
    path = copy_fixture(tmp_path, "rust-clean.db")
    dropped: list[ConnectionLostError] = []
    changes: list[ChangeToken] = []
    remote = connect(path, on_disconnect=dropped.append, on_change=changes.append)
    remote.drop_connection()
    assert wait_for(lambda: bool(dropped))
    assert not remote.connected and "was lost" in str(dropped[0])
    with pytest.raises(ConnectionLostError, match="was lost"):
        remote.all_cooldowns()
    remote.reconnect()
    assert remote.connected and remote.audit_id_range() == (1, 109)
    with SqliteStore.open(path) as service:
        service.add_usage("tuxmath", DAY, timedelta(seconds=5))
    assert wait_for(lambda: bool(changes), 5)
    assert len(dropped) == 1


def test_an_unreachable_computer_is_said_and_tried_again_with_backoff(tmp_path: Path,
                                                                      sshd: Sshd) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    closed = f"ssh://{sshd.user}@127.0.0.1:1{path}"  # (nothing listens on port 1)
    remote = RemoteStore(closed, **remote_options(sshd))
    started = time.monotonic()
    with pytest.raises(ConnectionLostError, match=r"Cannot connect to .*127\.0\.0\.1 with ssh"):
        remote.reconnect(attempts=3, delay=0.2)
    assert time.monotonic() - started >= 0.2 + 0.4  # waited between the attempts
    remote.close()


def test_a_request_that_takes_too_long_times_out_and_the_connection_carries_on(
        tmp_path: Path, connect: Connect) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    remote = connect(path, timeout=0.5)
    lock = WriteLock(path, "EXCLUSIVE")  # readers wait (up to 5 s there)
    try:
        started = time.monotonic()
        with pytest.raises(RemoteTimeoutError,
                           match=r"did not answer all_cooldowns within 0\.5 s"):
            remote.all_cooldowns()
        # It gave up at its own timeout, not after the remote side's 5 s wait for the lock.
        assert time.monotonic() - started < 4.5
    finally:
        lock.release()
    assert len(remote.all_cooldowns()) == 2 and remote.connected


# --- edits and faults --------------------------------------------------------------------------


def test_an_edit_retried_after_a_drop_is_applied_once(tmp_path: Path, connect: Connect) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    remote = connect(path, write=True)
    before = usage(path)
    edit_id = new_edit_id()
    lock = WriteLock(path)  # the edit waits there for the service's commit...
    thread, out = in_thread(lambda: remote.adjust_usage("minecraft", DAY, 60, reason="retry",
                                                        edit_id=edit_id))
    time.sleep(0.5)
    remote.drop_connection()  # ...when the link drops: the answer never arrives
    thread.join(10)
    assert isinstance(out[0], ConnectionLostError) and out[0].edit_id == edit_id
    assert "same edit id" in str(out[0])
    lock.release()  # the server, still running, applies it now
    assert wait_for(lambda: usage(path) == before + 60)
    remote.reconnect()
    assert remote.adjust_usage("minecraft", DAY, 60, reason="retry", edit_id=edit_id) == \
        before + 60  # its first outcome, not a second application
    assert remote.adjust_usage("minecraft", DAY, 60, reason="retry", edit_id=edit_id) == \
        before + 60
    assert usage(path) == before + 60 and edit_traces(path, edit_id) == 1
    with pytest.raises(ProtocolError, match="used for a usage change"):
        remote.clear_cooldown("minecraft", expected=None, edit_id=edit_id)


def test_an_edit_that_never_arrived_is_applied_by_its_retry(tmp_path: Path,
                                                            connect: Connect) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    remote = connect(path, write=True)
    before = usage(path)
    edit_id = new_edit_id()
    lock = WriteLock(path)
    thread, out = in_thread(lambda: remote.adjust_usage("minecraft", DAY, 30, reason="lost",
                                                        edit_id=edit_id))
    time.sleep(0.5)
    os.kill(remote.hello["pid"], signal.SIGKILL)  # the remote side dies mid-edit
    thread.join(10)
    assert isinstance(out[0], ConnectionLostError) and out[0].edit_id == edit_id
    lock.release()
    assert usage(path) == before and edit_traces(path, edit_id) == 0
    remote.reconnect()
    assert remote.adjust_usage("minecraft", DAY, 30, reason="lost", edit_id=edit_id) == \
        before + 30
    assert usage(path) == before + 30 and edit_traces(path, edit_id) == 1


@pytest.mark.parametrize("kill", ["ssh", "server"])
def test_killing_a_process_mid_edit_leaves_the_old_or_the_new_values(
        tmp_path: Path, connect: Connect, kill: str) -> None:
    path = copy_fixture(tmp_path, "rust-clean.db")
    remote = connect(path, write=True)
    outcomes = []
    for step, delay in enumerate((0.0, 0.001, 0.003, 0.006, 0.01, 0.02, 0.05)):
        with SqliteStore.open(path) as store:
            old = {e: overrides.cooldown_text(store, e) for e in ("minecraft", "tuxmath")}
        until = EST_NOON + timedelta(minutes=step + 1)
        edit_id = new_edit_id()
        changes = [CooldownChange(e, old[e], until) for e in old]
        pid = remote.hello["pid"]
        thread, out = in_thread(partial(remote.apply_cooldowns, changes, edit_id=edit_id))
        time.sleep(delay)
        if kill == "ssh":
            remote.drop_connection()
        else:
            os.kill(pid, signal.SIGKILL)
        thread.join(10)
        assert wait_for(partial(gone, pid))  # (after a drop it finishes what it received)
        with SqliteStore.open(path) as store:  # (rolls back what a killed edit left)
            now = {e: overrides.cooldown_text(store, e) for e in old}
        traces = edit_traces(path, edit_id)
        stamp = f"2026-03-08T12:{step + 1:02d}:00-05:00"
        applied = now == {e: stamp for e in old}
        assert applied or now == old, f"half an edit: {old} -> {now}"
        assert traces == (2 if applied else 0)
        if not isinstance(out[0], Exception):
            assert applied and out[0] == {e: stamp for e in old}
        outcomes.append(applied)
        remote.reconnect()
    print(f"killing the {kill} process: applied {outcomes}")


# --- what the remote computer lacks ------------------------------------------------------------


def script(folder: Path, name: str, body: str) -> str:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_no_python_there_says_what_to_install(tmp_path: Path, connect: Connect) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    with pytest.raises(RemoteSetupError, match=r"has no /nonexistent/python3: install Python "
                       r"3\.11 or newer there"):
        connect(path, remote_python="/nonexistent/python3")


def test_a_python_too_old_there_says_what_to_install(tmp_path: Path, connect: Connect) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    old = script(tmp_path, "python3.8", 'if [ "$1" = -c ]; then echo 3.8; exit 0; fi\n'
                 'echo "SyntaxError: invalid syntax" >&2; exit 1')  # (no 3.8 here: a stand-in)
    with pytest.raises(RemoteSetupError, match=r"has Python 3\.8 .* needs 3\.11 or newer"):
        connect(path, remote_python=old)


def test_another_protocol_there_is_refused_with_what_to_do(tmp_path: Path,
                                                           connect: Connect) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    other = script(tmp_path, "other-server", "echo '{\"hello\": \"shepherd-store\", "
                   "\"protocol\": 0, \"version\": \"0.0.1\"}'; exec cat >/dev/null")
    with pytest.raises(ProtocolError, match=r"runs shepherd_store 0\.0\.1 speaking protocol 0"):
        connect(path, remote_python=other)


def test_a_login_banner_before_the_server_is_skipped(tmp_path: Path, connect: Connect) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    chatty = script(tmp_path, "chatty-python", f'echo "Welcome to the kids\' computer!"\n'
                    f'exec {sys.executable} "$@"')
    assert connect(path, remote_python=chatty).audit_id_range() == (1, 23)


def test_without_the_library_there_it_says_so_and_bootstrap_copies_it(
        tmp_path: Path, connect: Connect) -> None:
    path = copy_fixture(tmp_path, "rust-crash-restarted.db")
    bare = [sys.executable, "-S"]  # this python without site-packages: no shepherd_store
    with pytest.raises(RemoteSetupError, match=r"library is not installed .* bootstrap=True"):
        connect(path, remote_python=bare)
    cache = tmp_path / "cache"
    remote = connect(path, remote_python=bare, bootstrap=True, remote_cache=str(cache))
    zipped = cache / library_zip().version / "shepherd_store.zip"
    assert remote.hello["library"] == f"{zipped}/shepherd_store"
    assert zipped.read_bytes() == library_zip().data
    assert sorted(p.name for p in zipped.parent.iterdir()) == ["shepherd_store.zip"]
    with SqliteStore.open(path, read_only=True) as local:
        assert remote.usage_between() == local.usage_between()
        assert remote.find_audits(limit=500) == local.find_audits(limit=500)
    copied = zipped.stat().st_mtime_ns
    remote.reconnect()  # the copy is there: not sent again
    assert zipped.stat().st_mtime_ns == copied and remote.audit_id_range() == (1, 130)


# --- ending --------------------------------------------------------------------------------------


def test_closing_ends_the_remote_side(tmp_path: Path, connect: Connect) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    remote = connect(path)
    pid = remote.hello["pid"]
    assert not gone(pid)
    remote.close()
    assert wait_for(lambda: gone(pid), 5)
    with pytest.raises(ConnectionLostError, match="closed"):
        remote.all_cooldowns()


def test_sigterm_ends_the_server_cleanly(tmp_path: Path, connect: Connect) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    dropped: list[ConnectionLostError] = []
    remote = connect(path, on_disconnect=dropped.append)
    os.kill(remote.hello["pid"], signal.SIGTERM)
    assert wait_for(lambda: bool(dropped), 5)
    assert "stopping on a signal" in str(dropped[0])
    assert wait_for(lambda: gone(remote.hello["pid"]), 5)
