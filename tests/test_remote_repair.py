"""Crash repairs of a database on another computer (issue #17), through the real sshd of
tests/sshd.py: `recovery fix` over ssh prints and writes what it does on a copy here; a
repair sent again with its edit id answers its first outcome and is applied once (also when
the link is cut mid-repair, through the relay of tests/relay.py); refusals cross with their
reason; lost usage and a missing cooldown are repaired there too; and the window's Recovery
tab repairs a remote database as a local one. Each result is read back here by `recover`.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import relay as relay_module
import remote_fixtures
from relay import Relay
from remote_fixtures import (
    CLIENT,
    Connect,
    copy_fixture,
    gone,
    remote_options,
    seed_database,
    wait_for,
)
from remote_window_support import close_window, remote_window
from sshd import Sshd

from inspector import workers
from shepherd_store import (
    ReadOnlyError,
    RecoveryConflict,
    SqliteStore,
    WarningIssued,
    recover,
    repair,
    repair_cooldown,
    repair_usage_lost,
)
from shepherd_store.errors import ConnectionLostError
from shepherd_store.events import AuditEvent
from shepherd_store.policy import Policy, PolicyEntry
from shepherd_store.remote import RemoteStore, new_edit_id
from shepherd_store.remote.edits import edit_traces

sshd = remote_fixtures.sshd
connect = remote_fixtures.connect
CRASHED = "0f8ce7eb-fd2a-45f7-8af2-1d479169906c"
NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
POLICY_TOML = """
[[entries]]
id = "minecraft"
label = "Minecraft"
[entries.limits]
daily_quota_seconds = 3600
cooldown_seconds = 1800
"""
POLICY = Policy("policy.toml", {"minecraft": PolicyEntry("minecraft", "Minecraft", 3600, 1800)})
#: A cooldown later than the one a repair of CRASHED sets (which the repair leaves), and
#: one earlier (which it replaces).
LATE, EARLY = "2026-03-08T12:00:00-05:00", "2026-03-01T12:00:00-05:00"


def two_copies(folder: Path, name: str) -> tuple[Path, Path]:
    """Two copies of a fixture (or of the seed database): one edited here, one there."""
    first = seed_database(folder) if name == "seed" else copy_fixture(folder, name)
    second = folder / f"remote-{first.name}"
    shutil.copyfile(first, second)
    return first, second


def set_cooldown(late: bool, *paths: Path) -> None:
    for path in paths:
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE cooldowns SET until = ? WHERE entry_id = 'minecraft'",
                         (LATE if late else EARLY,))
        conn.close()


def state(path: Path) -> dict[str, Any]:
    """What a repair changes, as a store here reads it back (the traces without who made
    them and when)."""
    with SqliteStore.open(path, read_only=True) as store:
        return {"usage": store.usage_between(), "cooldowns": store.all_cooldowns(),
                "changes": [(o.change.what, o.change.entry_id, o.change.previous, o.change.new)
                            for o in store.list_overrides()],
                "findings": recover(store, POLICY, now=NOW).findings}


def traces(path: Path, edit_id: str) -> list[Any]:
    with SqliteStore.open(path) as store:
        return edit_traces(store._conn, store.layout, edit_id)


def finding_of(store: Any, kind: str = "interrupted_session", **now: Any) -> Any:
    report = store.recover(POLICY, **now) if isinstance(store, RemoteStore) else \
        recover(store, POLICY, **now)
    return report, next(f for f in report.findings if f.kind == kind)


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def remote_env(monkeypatch: pytest.MonkeyPatch, sshd: Sshd) -> Iterator[None]:
    """New York time here and there, and ssh reaching the test sshd."""
    monkeypatch.setenv("TZ", "America/New_York")
    monkeypatch.delenv("SHEPHERD_DB", raising=False)
    monkeypatch.setenv("SHEPHERD_SSH_OPTIONS", f"-F {sshd.ssh_config}")
    monkeypatch.setenv("SHEPHERD_REMOTE_PYTHON", f"env TZ=America/New_York {sys.executable}")
    monkeypatch.setattr("shepherd_store.cli_recovery.local_now", lambda: NOW)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


run = remote_fixtures.run


@pytest.mark.usefixtures("remote_env")
@pytest.mark.parametrize("name", ["rust-crash-restarted.db", "seed"])
@pytest.mark.parametrize("late", [False, True])
def test_recovery_fix_remotely_prints_and_writes_what_it_does_locally(
        tmp_path: Path, sshd: Sshd, capsys: pytest.CaptureFixture[str], name: str,
        late: bool) -> None:
    here, there = two_copies(tmp_path, name)
    set_cooldown(late, here, there)  # (late: left as it is, and said why)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY_TOML, encoding="utf-8")
    address = sshd.url(there)
    before = there.read_bytes()
    for argv in (("--seconds", "4000"), ("--max", "--cooldown"),
                 ("--seconds", "3300", "--max")):
        local = run(capsys, "--db", here, "recovery", "fix", CRASHED, *argv)
        assert run(capsys, "--db", address, "recovery", "fix", CRASHED, *argv, "--write") \
            == local and local[0] == 2, argv
    for session in ("0f8c", "ffffffff"):
        local = run(capsys, "--db", here, "recovery", "fix", session)
        assert run(capsys, "--db", address, "recovery", "fix", session, "--write") == local
    status, out, err = run(capsys, "--db", address, "recovery", "fix", CRASHED)
    assert (status, out) == (3, "") and "unless the command is given --write" in err
    assert there.read_bytes() == before
    fix = ("--config", policy, "recovery", "fix", CRASHED[:8], "--seconds", "3400",
           "--cooldown")
    local = run(capsys, "--db", here, *fix)
    remote = run(capsys, "--db", address, *fix, "--write")
    assert remote == local and local[0] == 0, local
    assert local[1].startswith(f"Recorded 3400 s (56 min) of Minecraft's interrupted "
                               f"session {CRASHED} on 2026-03-07")
    assert ("Cooldown not changed: the stored cooldown" in local[1]) is late
    assert state(there) == state(here)
    assert state(there)["findings"][0].resolved
    with SqliteStore.open(there, read_only=True) as store:
        made = [o.change for o in store.list_overrides() if " via SSH as " in o.change.user]
    assert [c.what for c in made] == (["usage"] if late else ["cooldown", "usage"])
    for _ in range(2):  # the second time: refused as locally, nothing written
        again = run(capsys, "--db", address, "recovery", "fix", CRASHED, "--write")
        assert again == run(capsys, "--db", here, "recovery", "fix", CRASHED)
        assert again[:2] == (1, "") and "was already recorded" in again[2]
    assert run(capsys, "--db", address, "recovery") == run(capsys, "--db", here, "recovery")


# --- the library: sent again, answered the first outcome -----------------------------------------


@pytest.mark.parametrize("name", ["rust-crash-restarted.db", "seed"])
@pytest.mark.parametrize("late", [False, True])
def test_a_repair_sent_again_answers_its_first_outcome(tmp_path: Path, connect: Connect,
                                                       name: str, late: bool) -> None:
    here, there = two_copies(tmp_path, name)
    set_cooldown(late, here, there)
    with SqliteStore.open(here) as store:
        report, finding = finding_of(store, now=NOW)
        expected = repair(store, CRASHED, seconds=3400, cooldown=True, policy=POLICY,
                          report=report, finding=finding)
    assert (expected.cooldown_note is not None) is late
    remote = connect(there, write=True)
    report, finding = finding_of(remote, now=NOW)
    edit_id = new_edit_id()
    first = remote.repair(CRASHED, seconds=3400, cooldown=True, policy=POLICY, report=report,
                          finding=finding, edit_id=edit_id)
    assert first == expected
    # the same edit again: with what it was sent with, or with nothing (the scan there then
    # finds the session repaired, and the edit's own traces answer)
    assert remote.repair(CRASHED, seconds=3400, cooldown=True, policy=POLICY, report=report,
                         finding=finding, edit_id=edit_id) == expected
    assert remote.repair(CRASHED, cooldown=True, policy=POLICY, edit_id=edit_id) == expected
    assert len(traces(there, edit_id)) == (1 if late else 2)
    assert state(there) == state(here)
    with pytest.raises(RecoveryConflict, match="already recorded") as refused:  # a new edit
        remote.repair(CRASHED, seconds=3400, report=report, finding=finding)
    assert refused.value.reason == "resolved"
    assert state(there) == state(here)


def test_refusals_cross_with_their_reason_and_write_nothing(tmp_path: Path,
                                                             connect: Connect) -> None:
    path = copy_fixture(tmp_path, "rust-crash-restarted.db")
    reader = connect(path)
    report, finding = finding_of(reader, now=NOW)
    with pytest.raises(ReadOnlyError):
        reader.repair(CRASHED, report=report, finding=finding)
    remote = connect(path, write=True)
    for session, reason in (("ffffffff-0000-4000-8000-000000000000", "unknown"),
                            (CRASHED, "changed")):
        if reason == "changed":  # a row about the session since the report was read
            with SqliteStore.open(path) as store:
                store.append_audit(AuditEvent(0, NOW, WarningIssued(CRASHED, 60)))
        before = path.read_bytes()
        with pytest.raises(RecoveryConflict) as refused:
            remote.repair(session, report=report, finding=finding if reason == "changed"
                          else None)
        assert refused.value.reason == reason
        assert path.read_bytes() == before


def test_lost_usage_and_a_missing_cooldown_are_repaired_there_once(tmp_path: Path,
                                                                    connect: Connect) -> None:
    here, there = two_copies(tmp_path, "rust-crash-restarted.db")
    for path in (here, there):  # the service failed to store a day's usage
        with sqlite3.connect(path) as conn:
            conn.execute("DELETE FROM usage WHERE entry_id = 'tuxmath' AND day = '2026-03-07'")
        conn.close()
    remote = connect(there, write=True)
    local = SqliteStore.open(here)
    try:
        _report, lost = finding_of(remote, "usage_lost", now=NOW)
        assert lost == finding_of(local, "usage_lost", now=NOW)[1]
        expected = repair_usage_lost(local, lost)
        edit_id = new_edit_id()
        for _ in range(2):
            assert remote.repair_usage_lost(lost, edit_id=edit_id) == expected
        with pytest.raises(RecoveryConflict):  # a new edit: the usage changed since
            remote.repair_usage_lost(lost)
        repair(local, CRASHED, seconds=3400)
        remote.repair(CRASHED, seconds=3400)  # without the cooldown: it is missing now
        soon = {"now": datetime(2026, 3, 7, 20, 57, tzinfo=UTC)}  # (its cooldown ahead)
        _report, missing = finding_of(remote, "cooldown_missing", **soon)
        assert missing == finding_of(local, "cooldown_missing", **soon)[1]
        expected = repair_cooldown(local, missing)
        edit_id = new_edit_id()
        for _ in range(2):
            assert remote.repair_cooldown(missing, edit_id=edit_id) == expected
        with pytest.raises(RecoveryConflict) as refused:
            remote.repair_cooldown(missing)
        assert refused.value.reason == "nothing"
    finally:
        local.close()
    assert state(there) == state(here)


# --- a cut mid-repair ----------------------------------------------------------------------------


@pytest.fixture
def relay(sshd: Sshd) -> Iterator[Relay]:
    with Relay(sshd.port, 0.05) as link:
        yield link


def through(sshd: Sshd, relay: Relay, path: Path) -> RemoteStore:
    options = remote_options(sshd, ssh_config=None, write=True,
                             ssh_options=relay_module.ssh_options(sshd, relay))
    return RemoteStore.open(relay_module.url(sshd, path), **options)




@pytest.mark.parametrize("arrived", [True, False])
def test_a_repair_cut_mid_way_is_applied_once_when_sent_again(
        tmp_path: Path, sshd: Sshd, relay: Relay, arrived: bool) -> None:
    here, there = two_copies(tmp_path, "rust-crash-restarted.db")
    with SqliteStore.open(here) as store:
        report, finding = finding_of(store, now=NOW)
        expected = repair(store, CRASHED, seconds=3500, cooldown=True, policy=POLICY,
                          report=report, finding=finding)
    old = state(there)
    remote = through(sshd, relay, there)
    try:
        report, finding = finding_of(remote, now=NOW)
        send = partial(remote.repair, CRASHED, seconds=3500, cooldown=True, policy=POLICY,
                       report=report, finding=finding, edit_id=new_edit_id())
        lock = sqlite3.connect(there, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # the service mid-commit: the repair waits for it...
        out: list[Any] = []
        thread = threading.Thread(target=lambda: out.append(_outcome(send)))
        thread.start()
        time.sleep(0.5 if arrived else 0.0)  # (0: cut before the relay passed it on)
        pid = remote.hello["pid"]
        relay.cut()  # ...when the link is cut: its answer never arrives
        thread.join(10)
        assert isinstance(out[0], ConnectionLostError) and out[0].edit_id is not None
        lock.execute("ROLLBACK")
        lock.close()
        assert wait_for(partial(gone, pid))  # (the server finishes what it received)
        now = state(there)
        assert now == (state(here) if arrived else old)  # old or new: never half of it
        remote.reconnect()
        for _ in range(2):
            assert send() == expected
    finally:
        remote.close()
    assert state(there) == state(here)
    with SqliteStore.open(there, read_only=True) as store:
        assert recover(store, POLICY, now=NOW).finding(CRASHED).resolved  # type: ignore


def _outcome(send: Callable[[], Any]) -> Any:
    try:
        return send()
    except Exception as exc:
        return exc


# --- the window ----------------------------------------------------------------------------------


def test_the_recovery_tab_repairs_a_remote_database_as_a_local_one(
        qtbot: Any, tmp_path: Path, sshd: Sshd, monkeypatch: pytest.MonkeyPatch) -> None:
    here, there = two_copies(tmp_path, "rust-crash-restarted.db")
    window = remote_window(qtbot, sshd, there)
    try:
        window.db.set_policy(POLICY)
        tab = window.recovery
        tab.show()
        qtbot.waitUntil(lambda: tab.state is not None, timeout=60_000)
        assert tab.state is not None
        finding = tab.state.report.finding(CRASHED)
        assert finding is not None and tab.db.read_only_reason is not None
        monkeypatch.setattr(window, "confirm_remote_edits", lambda host: True)
        window.action_read_only.setChecked(False)
        qtbot.waitUntil(lambda: window.db.writable, timeout=30_000)
        monkeypatch.setattr(tab, "confirm", lambda text: True)
        reports: list[str] = []
        monkeypatch.setattr(tab, "report", reports.append)
        with SqliteStore.open(here) as store:
            expected = repair(store, CRASHED, seconds=3400, cooldown=True, policy=POLICY,
                              report=recover(store, POLICY, now=NOW))
        assert tab.repair_finding(finding, 3400, cooldown=True) and reports == []
        assert tab.last_result == expected
        assert "56 min 40 s" in tab.repair_box.status.text()
        qtbot.waitUntil(lambda: tab.state is not None and tab.state.report.finding(
            CRASHED).resolved, timeout=30_000)  # type: ignore[union-attr]
        assert state(there) == state(here)
        with SqliteStore.open(there, read_only=True) as store:
            trace = store.list_overrides()[-1].change
        assert trace.what == "usage" and f"{CLIENT} via SSH as " in trace.user
        assert not tab.repair_finding(finding, 3300)  # the finding as it was: refused
        assert len(reports) == 1 and "already recorded" in reports[0]
        assert state(there) == state(here)
    finally:
        close_window(window)
        workers.wait_all()
