"""A remote database over a slow link that breaks: the real sshd of tests/sshd.py behind the
relay of tests/relay.py (a 100 ms round trip, connections cut on demand). A cut mid-edit
leaves the old values or the new ones, never both or half; an edit sent again after
reconnecting is applied once; a cut is noticed and reconnecting waits for the link; and the
command line over a cut link says so, with its exit status, never a traceback.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import relay as relay_module
import remote_fixtures
from conftest import REPO
from relay import Relay
from remote_fixtures import EST_NOON, copy_fixture, gone, in_thread, remote_options, wait_for
from sshd import Sshd

from shepherd_store import AuditFilter, SqliteStore, overrides
from shepherd_store.errors import ConnectionLostError
from shepherd_store.overrides import CooldownChange
from shepherd_store.remote import RemoteStore, new_edit_id
from shepherd_store.remote.edits import edit_traces as traces_in
from shepherd_store.store import ChangeToken

sshd = remote_fixtures.sshd
DAY = date(2026, 1, 5)
ONE_WAY_S = 0.05
ENTRY_POINT = Path(sys.executable).parent / "shepherd-store"


@pytest.fixture
def relay(sshd: Sshd) -> Iterator[Relay]:
    """The link to the sshd: 50 ms each way."""
    with Relay(sshd.port, ONE_WAY_S) as link:
        yield link


@pytest.fixture
def through(sshd: Sshd, relay: Relay) -> Iterator[Callable[..., RemoteStore]]:
    """`through(path, **options)`: a connected `RemoteStore` on `path` over the relay."""
    opened: list[RemoteStore] = []

    def make(path: Path, **options: Any) -> RemoteStore:
        options = remote_options(sshd, ssh_config=None,
                                 ssh_options=relay_module.ssh_options(sshd, relay), **options)
        store = RemoteStore(relay_module.url(sshd, path), **options)
        opened.append(store)
        store.connect()
        return store

    yield make
    for store in opened:
        store.close()





def traces(path: Path, edit_id: str) -> int:
    """The traces the edit left (a writable open rolls back what a killed edit left)."""
    with SqliteStore.open(path) as store:
        return len(traces_in(store._conn, store.layout, edit_id))


def cooldowns(path: Path, entries: tuple[str, ...] = ("minecraft", "tuxmath")
              ) -> dict[str, str | None]:
    with SqliteStore.open(path) as store:
        return {e: overrides.cooldown_text(store, e) for e in entries}


def usage(path: Path) -> int:
    with SqliteStore.open(path, read_only=True) as store:
        return int(store.get_usage("minecraft", DAY).total_seconds())


class WriteLock:
    """The service in the middle of a commit: an edit there waits for it."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


# --- the link ------------------------------------------------------------------------------------


def test_over_the_slow_link_a_request_takes_a_round_trip_and_answers_as_locally(
        tmp_path: Path, through: Callable[..., RemoteStore], relay: Relay) -> None:
    path = copy_fixture(tmp_path, "rust-crash-restarted.db")
    remote = through(path)
    started = time.perf_counter()
    remote.change_token()
    took = time.perf_counter() - started
    assert took >= 2 * ONE_WAY_S  # the relay slows the link indeed (how much more: a figure)
    with SqliteStore.open(path, read_only=True) as local:
        assert remote.find_audits(AuditFilter(), limit=500) == local.find_audits(limit=500)
        assert remote.usage_between() == local.usage_between()
    assert relay.accepted == 1 and relay.open_connections == 1


def test_a_cut_is_noticed_and_reconnecting_waits_for_the_link(
        tmp_path: Path, through: Callable[..., RemoteStore], relay: Relay) -> None:
    path = copy_fixture(tmp_path, "rust-clean.db")
    dropped: list[ConnectionLostError] = []
    changes: list[ChangeToken] = []
    remote = through(path, on_disconnect=dropped.append, on_change=changes.append)
    assert relay.cut() == 1
    assert wait_for(lambda: bool(dropped), 5) and "was lost" in str(dropped[0])
    with pytest.raises(ConnectionLostError):
        remote.all_cooldowns()
    relay.refuse(True)  # the computer cannot be reached for now
    started = time.monotonic()
    with pytest.raises(ConnectionLostError, match="Cannot connect"):
        remote.reconnect(attempts=2, delay=0.3)
    assert time.monotonic() - started >= 0.3
    relay.refuse(False)
    remote.reconnect(attempts=3, delay=0.3)
    assert remote.audit_id_range() == (1, 109)
    with SqliteStore.open(path) as service:
        service.add_usage("tuxmath", DAY, timedelta(seconds=5))
    assert wait_for(lambda: bool(changes), 5)


# --- edits and cuts ------------------------------------------------------------------------------


def test_a_cut_mid_edit_leaves_the_old_or_the_new_values(
        tmp_path: Path, through: Callable[..., RemoteStore], relay: Relay) -> None:
    path = copy_fixture(tmp_path, "rust-clean.db")
    remote = through(path, write=True)
    outcomes = []
    # (the request arrives after 50 ms, its answer 50 ms after it is applied)
    for step, delay in enumerate((0.0, 0.03, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.4)):
        old = cooldowns(path)
        until = EST_NOON + timedelta(minutes=step + 1)
        edit_id = new_edit_id()
        pid = remote.hello["pid"]
        thread, out = in_thread(partial(remote.apply_cooldowns,
                                        [CooldownChange(e, old[e], until) for e in old],
                                        edit_id=edit_id))
        time.sleep(delay)
        relay.cut()
        thread.join(10)
        assert wait_for(partial(gone, pid))  # (the server finishes what it received)
        now = cooldowns(path)
        stamp = f"2026-03-08T12:{step + 1:02d}:00-05:00"
        applied = now == {e: stamp for e in old}
        assert applied or now == old, f"half an edit: {old} -> {now}"
        assert traces(path, edit_id) == (2 if applied else 0)
        if not isinstance(out[0], Exception):
            assert applied and out[0] == {e: stamp for e in old}
        else:
            assert isinstance(out[0], ConnectionLostError) and out[0].edit_id == edit_id
        outcomes.append(applied)
        remote.reconnect()
    assert any(outcomes) and not all(outcomes), outcomes  # (both ends of the race were seen)
    print(f"a cut mid-edit: applied {outcomes}")


@pytest.mark.parametrize("arrived", [True, False])
def test_an_edit_sent_again_after_a_cut_is_applied_once(
        tmp_path: Path, through: Callable[..., RemoteStore], relay: Relay,
        arrived: bool) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    remote = through(path, write=True)
    before = usage(path)
    edit_id = new_edit_id()
    lock = WriteLock(path)  # the edit waits there for the service's commit...
    thread, out = in_thread(lambda: remote.adjust_usage("minecraft", DAY, 60, reason="cut",
                                                        edit_id=edit_id))
    time.sleep(0.5 if arrived else 0.0)  # (0: cut before the relay passed it on)
    pid = remote.hello["pid"]
    relay.cut()  # ...when the link is cut: the answer never arrives
    thread.join(10)
    assert isinstance(out[0], ConnectionLostError) and out[0].edit_id == edit_id
    lock.release()
    assert wait_for(partial(gone, pid))
    assert usage(path) == (before + 60 if arrived else before)
    remote.reconnect()
    for _ in range(2):
        assert remote.adjust_usage("minecraft", DAY, 60, reason="cut", edit_id=edit_id) == \
            before + 60
    assert usage(path) == before + 60 and traces(path, edit_id) == 1


# --- the command line over a cut link ------------------------------------------------------------


def cli(sshd: Sshd, relay: Relay, *args: str | Path, python: str = sys.executable
        ) -> subprocess.Popen[str]:
    """`shepherd-store ARGS` through the relay (output to pipes)."""
    env = {**os.environ, "TZ": "America/New_York", "SHEPHERD_REMOTE_PYTHON": python,
           "SHEPHERD_SSH_OPTIONS": " ".join(relay_module.ssh_options(sshd, relay))}
    return subprocess.Popen([str(ENTRY_POINT), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)


def test_a_command_over_a_cut_link_says_so_without_a_traceback(
        tmp_path: Path, sshd: Sshd, relay: Relay) -> None:
    path = copy_fixture(tmp_path, "rust-clean.db")
    follower = cli(sshd, relay, "--db", relay_module.url(sshd, path), "audit", "--follow")
    assert follower.stdout is not None
    try:
        assert follower.stdout.readline().split()[0] == "ID"
        assert wait_for(lambda: relay.open_connections == 1)
        relay.cut()
        _out, err = follower.communicate(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 5, err
    assert err.startswith("shepherd-store: The connection to ") and "was lost" in err
    assert "Traceback" not in err


def logging_python(folder: Path) -> tuple[str, Path]:
    """A remote python that keeps a copy of the requests it receives (to see when one has
    arrived there)."""
    log = folder / "requests.log"
    script = folder / "logging-python"
    script.write_text(f'#!/bin/sh\ntee -a {log} | {sys.executable} "$@"\n')
    script.chmod(0o755)
    return str(script), log


@pytest.mark.parametrize("link_back", [True, False])
def test_an_edit_over_a_cut_link_is_sent_again_or_said_unknown(
        tmp_path: Path, sshd: Sshd, relay: Relay, link_back: bool) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    old = cooldowns(path, ("minecraft",))
    python, log = logging_python(tmp_path)
    lock = WriteLock(path)
    editor = cli(sshd, relay, "--db", relay_module.url(sshd, path), "cooldown", "set",
                 "minecraft", "+2h", "--write", python=python)
    try:
        assert wait_for(lambda: log.exists() and '"op":"set_cooldown"' in
                        log.read_text().replace(" ", ""), 30), "the edit never arrived"
        relay.refuse(not link_back)
        relay.cut()
        if link_back:
            time.sleep(0.3)  # (the edit sent again waits for the lock too)
        lock.release()
        out, err = editor.communicate(timeout=60)
    finally:
        if editor.poll() is None:
            editor.kill()
    assert "Traceback" not in err, err
    if link_back:
        assert editor.returncode == 0, err
        assert "Connecting again to send the edit once more" in err
        assert out.startswith("Cooldown of Minecraft set until ") and "from now" in out
    else:
        assert editor.returncode == 5, err
        assert "The edit may or may not have been applied: see with `shepherd-store --db " \
               "ssh://" in err and err.rstrip().endswith("cooldowns`.")
    time.sleep(1.0)  # (the first server, cut off, still finishes what it received)
    now = cooldowns(path, ("minecraft",))
    edits = [e for e in overrides_of(path) if e.what == "cooldown"]
    assert len(edits) == (now != old)  # the old value, or the new one set once
    if link_back:
        assert now != old and edits[0].new == now["minecraft"]


def overrides_of(path: Path) -> list[Any]:
    with SqliteStore.open(path, read_only=True) as store:
        return [o.change for o in store.list_overrides()]

