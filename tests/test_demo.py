"""The demo the README's run command opens: a child's afternoons, one recent crash, and live
play paced by a demo clock that is never ahead of the real one.

The live tests that need real time to pass (a demo clock caught up with the wall clock, then
sessions at real time) run in a "fast reality": a wall clock and a monotonic clock that both
run FAST times faster than the machine's, injected into `DemoClock`; every check compares
with that wall clock.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time as time_module
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from inspector.app import open_window
from inspector.demo import DemoService, demo_clock_for
from shepherd_store import AuditEvent, AuditFilter, SqliteStore
from shepherd_store.cli import main as cli_main
from shepherd_store.policy import load_policy
from shepherd_store.recovery import RecoveryScanner, recover
from shepherd_store.simulate import (
    DEFAULT_ENTRIES,
    DEMO_LEAD,
    DemoClock,
    SimulationStopped,
    demo_history_end,
)
from shepherd_store.simulate_crash import write_demo_history
from shepherd_store.timefmt import whole_seconds

REPO = Path(__file__).resolve().parent.parent
COOLDOWN = {e.id: e.cooldown_seconds for e in DEFAULT_ENTRIES}


def all_events(store: SqliteStore) -> list[AuditEvent]:
    """Every audit event, oldest first."""
    return store.find_audits(AuditFilter(), limit=1_000_000).events[::-1]


def interrupted(store: SqliteStore, now: datetime | None = None) -> list[str | None]:
    return [f.session_id for f in recover(store, now=now).findings
            if f.kind == "interrupted_session"]


class FastReality:
    """A wall clock and a monotonic clock running `speed` times faster than the machine's,
    from `start`."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.start, self.speed, self._m0 = start, speed, time_module.monotonic()

    def monotonic(self) -> float:
        return (time_module.monotonic() - self._m0) * self.speed

    def wall(self) -> datetime:
        return self.start + timedelta(seconds=self.monotonic())


# --- the history -----------------------------------------------------------------------------


def test_demo_history_is_a_childs_afternoons_with_one_recent_crash(tmp_path: Path) -> None:
    demo = DemoService(tmp_path)  # not started: the history alone
    now = datetime.now().astimezone()
    policy = load_policy(demo.policy_path)
    assert policy.entries["minecraft"].daily_quota_seconds
    with SqliteStore.open(demo.path, read_only=True) as store:
        events = all_events(store)
        found = recover(store).findings
        cooldowns = store.all_cooldowns()
    assert len({e.timestamp.date() for e in events}) >= 55  # about 60 days of history
    assert max(e.timestamp for e in events) <= demo.history_end <= now - DEMO_LEAD
    types = {e.type for e in events}
    assert {"warning_issued", "launch_denied", "session_extended"} <= types
    assert cooldowns  # the service sets one after each session of a limited entry
    # One crash during a game, the day before the history's last, the service back within
    # minutes: the Recovery tab has it to show on open, and nothing else.
    [crash] = demo.crashes
    assert crash.session_id is not None and crash.started_at is not None
    assert crash.restarted_at is not None
    assert crash.crashed_at.date() == demo.history_end.date() - timedelta(days=1)
    assert timedelta(seconds=40) <= crash.restarted_at - crash.crashed_at <= timedelta(minutes=15)
    assert [(f.kind, f.session_id) for f in found] == [("interrupted_session", crash.session_id)]
    assert any(e.type == "session_started" and crash.restarted_at < e.timestamp
               and e.timestamp.date() == crash.crashed_at.date() for e in events)  # plays on
    # Afternoons: sessions of minutes, daytime only.
    ended = [e.event.duration for e in events if e.type == "session_ended"
             and e.event.duration > timedelta(0)]  # type: ignore[attr-defined]
    assert timedelta(minutes=10) <= statistics.median(ended) <= timedelta(hours=1)
    starts = [e.timestamp.astimezone() for e in events if e.type == "session_started"]
    assert all(7 <= t.hour < 22 for t in starts)


def test_history_end_and_crash_day_follow_the_hour(tmp_path: Path) -> None:
    local = datetime.now().astimezone().tzinfo
    afternoon = datetime(2026, 3, 10, 16, 0, tzinfo=local)
    assert demo_history_end(afternoon) == afternoon - DEMO_LEAD
    night = datetime(2026, 3, 11, 2, 0, tzinfo=local)  # the demo shows the evening before
    assert demo_history_end(night) == datetime(2026, 3, 10, 18, 30, tzinfo=local)
    with SqliteStore.open(tmp_path / "one.db") as store:  # a single day: the crash is today's
        sim = write_demo_history(store, 1, end=datetime(2026, 3, 10, 21, 0, tzinfo=local))
        [crash] = sim.crashes
        assert crash.crashed_at.date().isoformat() == "2026-03-10"
    with SqliteStore.open(tmp_path / "none.db") as store:
        sim = write_demo_history(store, 10, end=afternoon, crashes=0)
        assert sim.crashes == [] and interrupted(store, afternoon) == []


# --- the demo clock --------------------------------------------------------------------------


def test_demo_clock_catches_up_then_runs_at_real_time() -> None:
    real = FastReality(datetime(2026, 3, 10, 16, 0, tzinfo=UTC), 1.0)
    fake = [0.0]
    real.monotonic = lambda: fake[0]  # type: ignore[method-assign]
    clock = DemoClock(real.start - timedelta(hours=3), 60, wall=real.wall,
                      monotonic=real.monotonic)
    assert clock.now() == real.start - timedelta(hours=3) and not clock.caught_up
    assert clock.current_speed == 60 and clock.lag == timedelta(hours=3)
    fake[0] = 60.0  # a real minute: an hour of demo time
    assert clock.now() == real.start - timedelta(hours=2)
    assert clock.lag == timedelta(hours=2, minutes=1)  # the wall clock went on a minute
    catch_up = 3 * 3600 / 59
    # The demo clock shows 16:00 three real minutes after it started; it meets the wall
    # clock after 3 h / 59, and from then on shows the wall clock's time.
    assert clock.real_time_at(real.start) == real.start + timedelta(minutes=3)
    meeting = real.start + timedelta(seconds=catch_up)
    assert abs(clock.real_time_at(meeting) - meeting) < timedelta(milliseconds=1)
    fake[0] = catch_up + 600.0  # caught up: from then on the wall clock itself
    assert clock.caught_up and clock.current_speed == 1.0
    assert clock.now() == real.wall() and clock.lag == timedelta(0)
    later = real.wall() + timedelta(minutes=5)
    assert clock.real_time_at(later) == later
    with pytest.raises(ValueError, match="aware"):
        DemoClock(datetime(2026, 3, 10, 16, 0))


def test_a_stopped_wait_returns_at_once() -> None:
    clock = DemoClock(datetime.now(UTC) - timedelta(hours=1), 60)
    stop = threading.Event()
    raised: list[bool] = []

    def wait() -> None:
        try:
            clock.wait_until(datetime.now(UTC) + timedelta(hours=1), stop)
        except SimulationStopped:
            raised.append(True)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    time_module.sleep(0.3)
    began = time_module.monotonic()
    stop.set()
    waiter.join(2)
    assert not waiter.is_alive() and raised == [True]
    assert time_module.monotonic() - began < 1.0


# --- live play ---------------------------------------------------------------------------------


def test_live_play_is_paced_coherent_with_the_real_clock_and_never_ahead(tmp_path: Path) -> None:
    """Three hours of catching up at 60x, then real time (in a fast reality): no row later
    than the wall clock when written; recovery never sees a live session open past its
    deadline (while catching up, such a session is written in one go: recovery sees it only
    for the milliseconds between its first and last row) and always sees the crash; a
    cooldown set once caught up is in the future of the wall clock."""
    local = datetime.now().astimezone().tzinfo
    real = FastReality(datetime(2026, 3, 10, 16, 0, tzinfo=local), 500.0)
    end = real.wall() - DEMO_LEAD
    with SqliteStore.open(tmp_path / "live.db") as store:
        sim = write_demo_history(store, 10, end=end, seed=7)
        [crash] = sim.crashes
        history_last = store.change_token().last_audit_id
        clock = DemoClock(end, 60, wall=real.wall, monotonic=real.monotonic,
                          monotonic_rate=real.speed)
        scanner = RecoveryScanner(store)
        scanner.scan(now=real.wall())
        late: list[str] = []
        problems: list[str] = []
        cooldowns: list[tuple[datetime, datetime, datetime, int]] = []
        opened: dict[str, datetime] = {}  # the demo clock at each live session's first row
        in_one_go: dict[str, bool] = {}  # whether the clock had passed its end by then
        seen_interrupted: dict[str, int] = {}  # live sessions recovery called interrupted
        # The usage the log accounts for: the history's, plus each live session_ended's.
        expected = {(r.entry_id, r.day): r.seconds for r in store.usage_between()}
        usage_ahead: list[str] = []

        def check(event: AuditEvent) -> None:
            wall = real.wall()
            if event.timestamp > wall:
                late.append(f"row {event.id} {event.type} at {event.timestamp} > {wall}")
            report = scanner.update(now=wall)
            for f in report.findings:
                if f.kind == "interrupted_session" and f.session_id != crash.session_id:
                    seen_interrupted[f.session_id or ""] = event.id
            if crash.session_id not in [f.session_id for f in report.findings]:
                problems.append(f"after row {event.id}: the crash is no longer found")
            sid = getattr(event.event, "session_id", "")
            if event.type == "session_started":
                opened[sid] = clock.now()
            elif event.type == "session_ended":
                in_one_go[sid] = opened[sid] >= event.timestamp
                key = (event.event.entry_id, event.timestamp.date())  # type: ignore[attr-defined]
                expected[key] = expected.get(key, 0) + whole_seconds(event.event.duration)  # type: ignore[attr-defined]
                if seen_interrupted.get(sid) == event.id:
                    problems.append(f"session {sid} ended, still called interrupted")
                entry = event.event.entry_id  # type: ignore[attr-defined]
                until = store.get_cooldown_until(entry)
                if COOLDOWN[entry] and until is None:
                    problems.append(f"no cooldown after row {event.id}")
                elif (COOLDOWN[entry] and until is not None
                      and clock.real_time_at(event.timestamp) == event.timestamp):
                    cooldowns.append((until, wall, event.timestamp, event.id))  # caught up

        sim.on_audit = check
        stop = threading.Event()
        worker = threading.Thread(target=sim.run_paced, args=(clock,), kwargs={"stop": stop})
        worker.start()
        try:
            deadline = time_module.monotonic() + 90
            before: tuple[int, dict[tuple[str, object], int]] | None = None
            # until a cooldown was set at real time (4 hours at most: 29 s)
            while real.wall() < real.start + timedelta(hours=1) or (
                    not cooldowns and real.wall() < real.start + timedelta(hours=4)):
                assert time_module.monotonic() < deadline, "the fast reality fell behind"
                # Usage is written as a session ends, never ahead of its session_ended row:
                # more usage than the log accounts for, twice with no row between, is early.
                rows = store.change_token().last_audit_id
                extra = {k: v for r in store.usage_between()
                         if (v := r.seconds - expected.get(k := (r.entry_id, r.day), 0)) > 0}
                if extra and before is not None and before == (rows, extra):
                    usage_ahead.append(f"after row {rows}: {extra}")
                before = (rows, extra)
                time_module.sleep(0.05)
        finally:
            stop.set()
            worker.join(5)
        assert not worker.is_alive()
        live = [e for e in all_events(store) if e.id > history_last]
    assert late == [], late[:3]
    assert problems == [], problems[:3]
    assert usage_ahead == [], usage_ahead[:3]
    assert seen_interrupted and all(in_one_go.get(sid) for sid in seen_interrupted)
    assert [e.type for e in live].count("session_started") >= 3
    assert cooldowns and [c for c in cooldowns if c[0] <= c[1]] == []
    # Paced: the rows came over the hours of demo time, not in one burst at the start.
    assert live[-1].timestamp - live[0].timestamp >= timedelta(hours=2)
    assert live[-1].timestamp >= real.start + timedelta(minutes=30)  # also at real time


def test_live_play_looks_like_a_childs_afternoons(tmp_path: Path) -> None:
    """Three days of live play (a demo clock far behind the wall clock, at 100000x): sessions
    of tens of minutes, many to their deadline with warnings, cooldowns that deny a launch
    now and then, a daily quota used up, evenings that end, mornings that start."""
    with SqliteStore.open(tmp_path / "days.db") as store:
        local = datetime.now().astimezone().tzinfo
        end = datetime(2026, 3, 9, 15, 0, tzinfo=local)
        sim = write_demo_history(store, 5, end=end, seed=1)
        history_last = store.change_token().last_audit_id
        clock = DemoClock(end, 100_000, wall=lambda: end + timedelta(days=5))
        stop = threading.Event()
        sim.on_audit = lambda e: stop.set() if e.timestamp > end + timedelta(days=3) else None
        sim.run_paced(clock, stop=stop)
        live = [e for e in all_events(store) if e.id > history_last]
        usage = store.usage_between(end.date(), end.date() + timedelta(days=3))
    started = [e for e in live if e.type == "session_started"]
    ended = {e.event.session_id: e.event for e in live  # type: ignore[attr-defined]
             if e.type == "session_ended"}
    assert len(started) >= 12
    assert all(time(7) <= e.timestamp.astimezone().time() <= time(21, 35) for e in started)
    played = [e.duration for e in ended.values() if e.duration > timedelta(0)]
    assert timedelta(minutes=15) <= statistics.median(played) <= timedelta(minutes=50)
    # Never a game of seconds: nobody starts one with its daily time nearly used up.
    assert min(played) >= timedelta(minutes=4) and max(played) <= timedelta(hours=1, minutes=16)
    expired = [e for e in ended.values() if e.reason.TYPE == "expired"]
    warned = {e.event.session_id for e in live if e.type == "warning_issued"}  # type: ignore[attr-defined]
    assert len(expired) >= len(ended) // 5 and {e.session_id for e in expired} <= warned
    reasons = " ".join(r for e in live if e.type == "launch_denied"
                       for r in e.event.reasons)  # type: ignore[attr-defined]
    assert "CooldownActive" in reasons and "QuotaExhausted" in reasons
    types = [e.type for e in live]
    assert types.count("service_stopped") >= 2 and types.count("service_started") >= 2
    per_day: dict[object, int] = {}
    for row in usage:
        per_day[row.day] = per_day.get(row.day, 0) + row.seconds
    assert all(3600 <= s <= 7 * 3600 for d, s in per_day.items() if d != end.date())


def test_demo_window_shows_the_demo_clock_and_the_service_writes(qtbot, tmp_path: Path) -> None:
    demo = DemoService(tmp_path, speed=1200)
    try:
        window = open_window(demo.path, config=demo.policy_path)
        qtbot.addWidget(window)
        window.show()
        assert not window.status_demo_clock.isVisible()  # not writing yet
        before = window.audit.model.rowCount()
        demo.start()
        assert demo_clock_for(demo.path) is demo.clock
        window._update_status()
        label = window.status_demo_clock
        assert label.isVisible() and label.text().startswith("demo clock ")
        assert "1200× speed" in label.text() and "future" in label.toolTip()
        qtbot.waitUntil(lambda: window.audit.model.rowCount() > before + 8, timeout=20_000)
    finally:
        demo.stop()
    window._update_status()
    assert not window.status_demo_clock.isVisible() and demo_clock_for(demo.path) is None
    assert demo.errors == []
    now = datetime.now().astimezone()
    with SqliteStore.open(demo.path, read_only=True) as store:
        newest = store.get_recent_audits(50)
        assert store.load_snapshot() is None  # as the shipped service: none
        assert interrupted(store) == [demo.crashes[0].session_id]
    assert all(e.timestamp <= now for e in newest)
    window.close()


# --- the command line ------------------------------------------------------------------------


def test_cli_demo_writes_the_same_kind_of_database(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "demo.db"
    assert cli_main(["demo", str(db), "--days", "20", "--crashes", "3", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "(20 days of history)" in out and "3 crashes" in out
    with SqliteStore.open(db, read_only=True) as store:
        events = all_events(store)
        report = recover(store)
    assert {"warning_issued", "launch_denied"} <= {e.type for e in events}
    yesterday = datetime.now().astimezone().date() - timedelta(days=1)
    crashed = [f for f in report.findings if f.kind == "interrupted_session"]
    assert any(f.started_at is not None and f.started_at.date() == yesterday for f in crashed)
    assert 1 <= len(crashed) <= 3  # the other two may fall between games
    assert report.findings and len(report.runs) >= 20


def test_cli_demo_live_is_paced_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "shepherd_store", "demo", str(db), "--days",
                             "3", "--live", "--speed", "2000"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("Wrote ")
        assert "demo clock" in proc.stdout.readline()
        with SqliteStore.open(db, read_only=True) as store:
            first = store.change_token().last_audit_id
            deadline = time_module.monotonic() + 20
            while store.change_token().last_audit_id < first + 6:
                assert time_module.monotonic() < deadline, "no live sessions were written"
                time_module.sleep(0.05)
    finally:
        began = time_module.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert time_module.monotonic() - began < 2.0
    assert proc.returncode == 0, err
    assert "Stopped after" in out and "Traceback" not in err
    now = datetime.now().astimezone()
    with SqliteStore.open(db, read_only=True) as store:
        newest = store.get_recent_audits(100)
    assert newest[0].type == "service_stopped"
    assert all(e.timestamp <= now for e in newest)
