"""Snapshot diagnosis: one test per finding, on databases written by the simulator."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shepherd_store import (
    AuditEvent,
    ServiceStarted,
    SqliteStore,
    StateSnapshot,
    WarningIssued,
)
from shepherd_store.diagnose import CODES, FIXES, Finding, diagnose, needs_action
from shepherd_store.overrides import add_usage
from shepherd_store.policy import Policy, PolicyEntry
from shepherd_store.simulate import SimEntry, Simulator

NY = ZoneInfo("America/New_York")
WALL = datetime(2026, 7, 4, 14, 0, tzinfo=NY)
ENTRIES = (SimEntry("minecraft", "Minecraft", 0, 1800, 3600, 3.0),
           SimEntry("tuxmath", "Tux Math", 2700, 900, 1800, 2.0))
POLICY = Policy("policy.toml", {e.id: PolicyEntry(e.id, e.label, None, e.cooldown_seconds,
                                                  e.max_run_seconds) for e in ENTRIES})
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def local_ny(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Show times as a viewer in New York would see them."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore.open(tmp_path / "sim.db") as s:
        yield s


def simulator(store: SqliteStore, seed: int = 5) -> Simulator:
    """Three days of history ending two hours before WALL, the service still up."""
    sim = Simulator(store, seed=seed, entries=ENTRIES, tz=NY, wall_clock=lambda: WALL)
    sim.write_history(3, end=WALL - timedelta(hours=2))
    return sim


def snapshot(store: SqliteStore) -> StateSnapshot:
    snap = store.load_snapshot()
    assert snap is not None
    return snap


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def the(findings: list[Finding], code: str) -> Finding:
    (found,) = [f for f in findings if f.code == code]
    return found


# --- the normal states -------------------------------------------------------------------


def test_no_snapshot(store: SqliteStore) -> None:
    findings = diagnose(store)
    assert codes(findings) == ["no_snapshot"]
    assert not needs_action(findings)


def test_no_active_session_after_a_quiet_history(store: SqliteStore) -> None:
    simulator(store)
    snap = snapshot(store)
    assert snap.active_session is None
    findings = diagnose(store, now=WALL, policy=POLICY)
    assert codes(findings) == ["no_active_session"]
    assert not needs_action(findings)


def test_a_running_session_is_fine(store: SqliteStore, local_ny: None) -> None:
    sim = simulator(store)
    sid = sim.start_session("minecraft")
    s = snapshot(store).active_session
    assert s is not None and s.session_id == sid
    findings = diagnose(store, now=s.started_at + timedelta(minutes=5))
    assert codes(findings) == ["session_running"]
    assert not needs_action(findings)
    f = findings[0]
    assert f.title == "Minecraft is running"  # the label from the log, not the id
    assert f"{s.started_at.astimezone(NY):%H:%M}" in f.explanation
    assert "55 min" in f.explanation  # time left


# --- one test per finding ----------------------------------------------------------------


def test_session_already_ended_makes_the_snapshot_stale(store: SqliteStore) -> None:
    sim = simulator(store)
    sim.start_session("minecraft")
    stale = snapshot(store)
    sim.finish_session()
    store.save_snapshot(stale)  # e.g. restored from a backup taken mid-session
    findings = diagnose(store, now=WALL + timedelta(hours=3), policy=POLICY)
    assert codes(findings) == ["session_already_ended"]
    f = findings[0]
    assert (f.severity, f.fix) == ("warning", "clear_active_session")
    assert "Minecraft" in f.explanation and "ended" in f.explanation
    assert needs_action(findings)


def test_crash_and_restart_leave_unaccounted_usage(store: SqliteStore) -> None:
    sim = simulator(store)
    sid = sim.crash_mid_session("minecraft")
    sim.restart_service()
    s = snapshot(store).active_session
    assert s is not None and s.session_id == sid
    restart = next(e for e in store.get_recent_audits(10)
                   if isinstance(e.event, ServiceStarted))
    findings = diagnose(store, now=restart.timestamp + timedelta(minutes=5), policy=POLICY)
    assert codes(findings) == ["unaccounted_usage"]
    f = findings[0]
    assert (f.severity, f.fix) == ("problem", "add_usage")
    assert f.gap is not None
    assert (f.gap.entry_id, f.gap.session_id, f.gap.day) == ("minecraft", sid,
                                                            s.started_at.date())
    assert f.gap.min_seconds == int((snapshot(store).timestamp - s.started_at).total_seconds())
    assert f.gap.max_seconds == int((restart.timestamp - s.started_at).total_seconds())
    assert "started again" in f.explanation
    # the one-click fix, then the diagnosis knows it was done
    add_usage(store, f.gap.entry_id, f.gap.day, f.gap.max_seconds, reason=f.gap.reason)
    after = diagnose(store, now=restart.timestamp + timedelta(minutes=6), policy=POLICY)
    assert codes(after) == ["usage_added_by_hand"]
    assert not needs_action(after)


def test_deadline_passed_while_the_service_was_down(store: SqliteStore) -> None:
    sim = simulator(store)
    sim.crash_mid_session("minecraft")
    s = snapshot(store).active_session
    assert s is not None
    # Not restarted yet: past the deadline, the log has nothing since the snapshot.
    findings = diagnose(store, now=s.deadline + timedelta(hours=1), policy=POLICY)
    assert codes(findings) == ["unaccounted_usage", "deadline_passed_while_down"]
    gap = findings[0].gap
    assert gap is not None and gap.max_seconds == 3600  # capped at the deadline
    f = the(findings, "deadline_passed_while_down")
    assert (f.severity, f.fix) == ("warning", "clear_active_session")
    assert "crashed" in f.explanation
    # Restarted after the deadline: the window has both ends.
    store.append_audit(AuditEvent(0, s.deadline + timedelta(minutes=30), ServiceStarted()))
    findings = diagnose(store, now=s.deadline + timedelta(hours=1), policy=POLICY)
    assert "restart" in the(findings, "deadline_passed_while_down").explanation
    # (a restart before the deadline: test_crash_and_restart_leave_unaccounted_usage)


def test_snapshot_from_the_future(store: SqliteStore) -> None:
    sim = simulator(store)
    sim.start_session("minecraft")
    snap = snapshot(store)
    findings = diagnose(store, now=snap.timestamp - timedelta(hours=1), policy=POLICY)
    f = the(findings, "snapshot_from_future")
    assert (f.severity, f.fix) == ("problem", "clear_active_session")
    assert "1 h 00 min" in f.explanation and "clock" in f.explanation
    assert findings[0] is f  # the most serious first
    assert "snapshot_from_future" not in codes(diagnose(store, now=snap.timestamp))


def test_deadline_before_start(store: SqliteStore) -> None:
    sim = simulator(store)
    sim.start_session("minecraft")
    snap = snapshot(store)
    assert snap.active_session is not None
    s = snap.active_session
    store.save_snapshot(replace(snap, active_session=replace(
        s, deadline=s.started_at - timedelta(minutes=10))))
    findings = diagnose(store, now=s.started_at + timedelta(hours=2), policy=POLICY)
    assert codes(findings) == ["deadline_before_start"]
    assert findings[0].fix == "clear_active_session"
    assert "10 min earlier" in findings[0].explanation


def test_started_after_snapshot(store: SqliteStore) -> None:
    sim = simulator(store)
    sim.start_session("minecraft")
    snap = snapshot(store)
    assert snap.active_session is not None
    store.save_snapshot(replace(snap, timestamp=snap.timestamp - timedelta(minutes=20)))
    findings = diagnose(store, now=snap.timestamp, policy=POLICY)
    assert "started_after_snapshot" in codes(findings)


def test_warnings_that_do_not_fit(store: SqliteStore) -> None:
    sim = simulator(store)
    sim.start_session("minecraft")
    snap = snapshot(store)
    s = snap.active_session
    assert s is not None
    store.save_snapshot(replace(snap, active_session=replace(s, warnings_issued=(300, 60, 60,
                                                                                 7200))))
    findings = diagnose(store, now=s.started_at + timedelta(minutes=1), policy=POLICY)
    f = the(findings, "warnings_mismatch")
    assert (f.severity, f.fix) == ("warning", None)
    assert "1 min warning was listed twice" in f.explanation
    assert "2 h 00 min warning was impossible in a session of 1 h 00 min" in f.explanation
    assert "5 min and 1 min warnings were not due yet" in f.explanation


def test_warnings_that_match_the_log_are_fine(store: SqliteStore) -> None:
    sim = simulator(store)
    sim.start_session("minecraft")
    snap = snapshot(store)
    s = snap.active_session
    assert s is not None
    at = s.deadline - timedelta(seconds=299)
    store.append_audit(AuditEvent(0, at, WarningIssued(session_id=s.session_id,
                                                       threshold_seconds=300)))
    store.save_snapshot(StateSnapshot(at + timedelta(milliseconds=5),
                                      replace(s, warnings_issued=(300,))))
    findings = diagnose(store, now=at + timedelta(seconds=10), policy=POLICY)
    assert codes(findings) == ["session_running"]
    # the log's warning missing from the snapshot is a mismatch too
    store.save_snapshot(StateSnapshot(at + timedelta(milliseconds=6), s))
    findings = diagnose(store, now=at + timedelta(seconds=10), policy=POLICY)
    assert "not list it" in the(findings, "warnings_mismatch").explanation


def test_unknown_entry(store: SqliteStore) -> None:
    sim = simulator(store)
    sim.start_session("minecraft")
    snap = snapshot(store)
    s = snap.active_session
    assert s is not None
    ghost = replace(s, entry_id="ghost", session_id=str(uuid.uuid4()))
    store.save_snapshot(replace(snap, active_session=ghost))
    now = s.started_at + timedelta(minutes=1)
    f = the(diagnose(store, now=now, policy=POLICY), "unknown_entry")
    assert (f.severity, f.fix) == ("warning", "clear_active_session")
    assert "ghost" in f.explanation and "policy" in f.explanation
    # known to the policy (never started yet): not unknown
    policy = Policy("p", {**POLICY.entries, "ghost": PolicyEntry("ghost", "Ghost")})
    assert "unknown_entry" not in codes(diagnose(store, now=now, policy=policy))
    # known to the log under another session: not unknown either
    store.save_snapshot(replace(snap, active_session=replace(s, session_id=str(uuid.uuid4()))))
    assert "unknown_entry" not in codes(diagnose(store, now=now))


@pytest.mark.parametrize("raw", [
    "{broken",
    '{"timestamp":"2026-07-04 14:00:00","active_session":null}',
    '{"timestamp":"2026-07-04T14:00:00Z","active_session":{"session_id":"x","entry_id":"a",'
    '"started_at":"2026-07-04T14:00:00Z","deadline":"2026-07-04T15:00:00Z",'
    '"warnings_issued":[]}}',
])
def test_unreadable_snapshot_row(tmp_path: Path, raw: str) -> None:
    path = tmp_path / "bad.db"
    SqliteStore.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO snapshot (id, data) VALUES (1, ?)", (raw,))
    conn.commit()
    conn.close()
    with SqliteStore.open(path, read_only=True) as store:
        findings = diagnose(store)
    assert codes(findings) == ["snapshot_unreadable"]
    assert (findings[0].severity, findings[0].fix) == ("problem", "delete_snapshot")
    assert "cannot be read:" not in findings[0].explanation  # no doubled prefix


# --- a real crash: the simulator process killed with SIGKILL mid-session ----------------

CHILD = """
import sys, time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo
from shepherd_store import SqliteStore
from shepherd_store.simulate import SimEntry, Simulator
NY = ZoneInfo("America/New_York")
wall = datetime(2026, 7, 4, 14, 0, tzinfo=NY)
store = SqliteStore.open(sys.argv[1])
sim = Simulator(store, seed=11, entries=[SimEntry("minecraft", "Minecraft", 0, 1800, 3600)],
                tz=NY, wall_clock=lambda: wall)
sim.write_history(2, end=wall - timedelta(hours=2))
print(sim.start_session("minecraft"), flush=True)
time.sleep(60)
"""


def test_sigkill_mid_session(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                            text=True, cwd=REPO)
    try:
        assert proc.stdout is not None
        sid = proc.stdout.readline().strip()
        assert sid, "the simulator did not start a session"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    with SqliteStore.open(path) as store:
        assert store.is_healthy()
        s = snapshot(store).active_session
        assert s is not None and s.session_id == sid
        # While the deadline has not passed, a dead service looks like a running one...
        assert codes(diagnose(store, now=s.started_at + timedelta(minutes=3))) == [
            "session_running"]
        # ... after it, the crash is plain.
        late = diagnose(store, now=s.deadline + timedelta(minutes=10))
        assert codes(late) == ["unaccounted_usage", "deadline_passed_while_down"]
        # and once the service is back, the restart bounds the lost time
        sim = Simulator(store, seed=12, entries=ENTRIES, tz=NY, wall_clock=lambda: WALL)
        sim.restart_service()
        restart = next(e for e in store.get_recent_audits(10)
                       if isinstance(e.event, ServiceStarted))
        f = the(diagnose(store, now=restart.timestamp + timedelta(minutes=1)),
                "unaccounted_usage")
        assert f.gap is not None
        assert f.gap.max_seconds == int((restart.timestamp - s.started_at).total_seconds())


# --- the Rust fixture and the query discipline ---------------------------------------------


def test_rust_fixture(rust_v0: Path, local_ny: None) -> None:
    with SqliteStore.open(rust_v0, read_only=True) as store:
        findings = diagnose(store, now=datetime(2026, 11, 26, 12, 0, tzinfo=NY))
    assert codes(findings) == ["unaccounted_usage", "deadline_passed_while_down",
                               "warnings_mismatch"]
    gap = findings[0].gap
    assert gap is not None
    assert (gap.min_seconds, gap.max_seconds, str(gap.day)) == (630, 660, "2026-07-04")
    text = findings[0].explanation
    assert "between 10 min 30 s and 11 min of Minecraft" in text
    assert "2026-07-04 14:10:30" in text and "2026-07-04 14:11" in text  # local time, NY


def test_queries_are_filtered_and_bounded(store: SqliteStore,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    sim = simulator(store)
    sim.crash_mid_session("minecraft")
    sim.restart_service()
    calls: list[tuple[Any, int]] = []
    real = store.find_audits

    def spy(flt: Any = None, **kw: Any) -> Any:
        calls.append((flt, kw.get("limit", 200)))
        return real(flt, **kw)

    monkeypatch.setattr(store, "find_audits", spy)
    monkeypatch.setattr(store, "get_recent_audits", lambda limit: pytest.fail("whole log"))
    diagnose(store, now=WALL + timedelta(hours=5), policy=POLICY)
    assert calls
    for flt, limit in calls:
        assert flt is not None and (flt.session_id or flt.event_types)
        assert limit <= 200


def test_every_finding_is_complete() -> None:
    assert len(set(CODES)) == len(CODES)
    assert set(FIXES) == {"clear_active_session", "delete_snapshot", "add_usage"}


def test_needs_action() -> None:
    info = Finding("session_running", "info", "t", "e", "a")
    assert not needs_action([]) and not needs_action([info])
    assert needs_action([info, replace(info, severity="warning")])
    assert needs_action([replace(info, severity="problem")])
