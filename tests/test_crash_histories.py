"""Crash recovery against the ground truth: simulated crashes of the shipped service.

`CrashingSimulator` writes histories the way the shipped `shepherdd` writes and crashes
(nothing after the crash, no snapshot) and records the truth of each crash: the session it
cut short, the true crash time and the next start. `recovery.recover` sees only the
database. For every history: each crashed session is one `interrupted_session` whose bounds
hold the play the crash took out of usage, credited to the day its rule names; a crash with
no session running is an `unclean_shutdown`; nothing else is found; a repair is recorded
once and adds exactly its seconds. Histories: seeded random ones (midnight, both DST changes
of America/New_York in 2026, unlimited entries, repeated crashes, a crash the service never
came back from), scripted edge cases, and the Rust-written fixtures.

"Lost" is in whole seconds, as the service would have stored it (`usage` truncates): the
bounds are whole seconds too.
"""

from __future__ import annotations

import json
import os
import random
import time as time_module
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shepherd_store import AuditEvent, ServiceStarted, SessionStarted, SqliteStore
from shepherd_store.policy import Policy, PolicyEntry
from shepherd_store.recovery import (
    RecoveryConflict,
    RecoveryFinding,
    RecoveryReport,
    RecoveryScanner,
    recover,
    repair,
)
from shepherd_store.simulate import DEFAULT_ENTRIES
from shepherd_store.simulate_crash import CrashingSimulator, CrashRecord
from shepherd_store.timefmt import whole_seconds

NY = ZoneInfo("America/New_York")
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: The recovery module's: a session in the open run is interrupted once its deadline is
#: this far behind `now`.
GRACE = timedelta(minutes=2)
#: Upstream's graceful stop of an expired game: `HostStopMode::Graceful { timeout: 5 s }`.
GAME_EXIT_GRACE = 5

POLICY = Policy("simulated", {e.id: PolicyEntry(
    e.id, e.label, e.daily_quota_seconds or None, e.cooldown_seconds or None,
    e.max_run_seconds or None) for e in DEFAULT_ENTRIES})


def lost_seconds(crash: CrashRecord) -> int:
    """The play the crash took out of usage, in the whole seconds usage stores."""
    return whole_seconds(crash.lost)


def provable(crash: CrashRecord, now: datetime) -> bool:
    """Whether the database alone shows the session was interrupted (see the module's rules):
    the service came back, or the deadline is long past. An unlimited session whose service
    never came back looks exactly like one still running."""
    return crash.how == "stop" or crash.restarted_at is not None or (
        crash.deadline is not None and now > crash.deadline + GRACE)


def service_day(start: datetime, seconds: int) -> date:
    """The day the service credits a session that ends `seconds` after `start`: the local
    date (New York's offset at that instant) when it ends."""
    return (start + timedelta(seconds=seconds)).astimezone(NY).date()


def compare(report: RecoveryReport, crashes: list[CrashRecord], now: datetime) -> Counter[str]:
    """Assert that `report` matches the ground truth `crashes`; count what was compared."""
    seen: Counter[str] = Counter()
    kinds = Counter(f.kind for f in report.findings)
    assert kinds["usage_lost"] == 0, "the simulated usage is consistent"
    interrupted = [f for f in report.findings if f.kind == "interrupted_session"]
    found = Counter(f.session_id for f in interrupted)
    assert all(n == 1 for n in found.values()), f"found more than once: {found}"
    session_crashes = {c.session_id: c for c in crashes if c.session_id is not None}
    expected = {sid for sid, c in session_crashes.items() if provable(c, now)}
    assert set(found) == expected, (
        f"missed: {expected - set(found)}; not crashed: {set(found) - expected}")
    for sid in expected:
        crash = session_crashes[sid]
        f = report.finding(sid)
        assert f is not None and f.min_seconds is not None and crash.started_at is not None
        lost = lost_seconds(crash)
        where = f"session {sid} ({crash.to_json()}), finding {f.min_seconds}..{f.max_seconds}"
        assert f.entry_id == crash.entry_id and f.started_at == crash.started_at, where
        assert f.min_seconds <= lost, where
        if f.max_seconds is None:
            assert crash.deadline is None and crash.restarted_at is None, where
            seen["unbounded"] += 1
        else:
            assert lost <= f.max_seconds, where
        assert f.day == service_day(crash.started_at, f.min_seconds), where
        if f.day != crash.day:  # the crash came on a later day than the last proof of play
            seen["day before the crash's"] += 1
        assert not f.resolved
        seen["interrupted"] += 1
        seen["across midnight"] += crash.started_at.date() != crash.crashed_at.date()
        seen["unlimited"] += crash.deadline is None
        seen["dst"] += crash.started_at.utcoffset() != crash.crashed_at.utcoffset()
        seen["never back"] += crash.restarted_at is None and crash.how == "crash"
        seen["clean stop during it"] += crash.how == "stop"
    for sid, crash in session_crashes.items():
        if sid not in expected:  # indistinguishable from a session still running
            session = next(s for r in report.runs for s in r.sessions if s.session_id == sid)
            assert session.status == "running"
            assert report.runs[0].end == "open" and crash.restarted_at is None
            assert crash.how == "crash"
            seen["still looks running"] += 1
    # A crash with no session running: the run ended unclean (or is the open last run).
    idle = [c for c in crashes if c.session_id is None]
    unclean = [f for f in report.findings if f.kind == "unclean_shutdown"]
    assert len(unclean) == sum(c.restarted_at is not None for c in idle)
    runs_by_restart = {r.ended_at: r for r in report.runs if r.end == "unclean"}
    for crash in idle:
        if crash.restarted_at is None:
            assert report.runs[0].end == "open"
            assert report.runs[0].last_event_at == crash.last_row_at
            seen["idle, never back"] += 1
            continue
        run = runs_by_restart[crash.restarted_at]
        assert run.last_event_at == crash.last_row_at
        assert not any(s.interrupted for s in run.sessions)
        assert any(set(f.evidence) >= {run.ended_id} for f in unclean)
        seen["unclean_shutdown"] += 1
    # Runs that ended unclean are exactly the crashes the service came back from.
    restarts = sorted(c.restarted_at for c in crashes
                      if c.restarted_at is not None and c.how == "crash")
    assert sorted(r.ended_at for r in report.runs if r.end == "unclean") == restarts
    return seen


def history(seed: int, end: datetime, *, days: int = 12, crash_rate: float = 0.1,
            crashes: int = 3, late: float = 0.3, down_at_end: bool = False,
            points: tuple[datetime, ...] = (), stop_in_session: float = 0.05
            ) -> tuple[SqliteStore, CrashingSimulator]:
    store = SqliteStore.in_memory()
    sim = CrashingSimulator(store, seed=seed, tz=NY, crash_rate=crash_rate,
                            late_night_rate=late, stop_in_session_rate=stop_in_session)
    sim.write_history(days, end=end, crashes=crashes, down_at_end=down_at_end,
                      crash_points=points)
    return store, sim


def night_points(seed: int, end: datetime) -> tuple[datetime, ...]:
    """Crash points a session is cut at: just after midnight, and on a DST night shortly
    after the change (in a session begun up to 45 minutes before, perhaps before it)."""
    rng = random.Random(seed)
    after_midnight = datetime.combine(end.date() - timedelta(days=6), time(0, 10),
                                      tzinfo=NY) + timedelta(minutes=rng.uniform(0, 30))
    points = [after_midnight]
    if end.month == 3:  # 02:00 EST became 03:00 EDT
        points.append(datetime(2026, 3, 8, 3, 5, tzinfo=NY) + timedelta(
            minutes=rng.uniform(0, 25)))
    elif end.month == 11:  # 02:00 EDT became 01:00 EST (06:00 UTC): the second 01:xx
        points.append(datetime(2026, 11, 1, 6, 5, tzinfo=UTC) + timedelta(
            minutes=rng.uniform(0, 25)))
    return tuple(points)


# --- generated histories -----------------------------------------------------------------

#: History ends: across spring-forward (2026-03-08), fall-back (2026-11-01), and ordinary.
ENDS = [datetime(2026, 3, 12, 22, 0, tzinfo=NY), datetime(2026, 11, 5, 22, 0, tzinfo=NY),
        datetime(2026, 6, 20, 16, 0, tzinfo=NY)]


@pytest.mark.parametrize("end", ENDS, ids=["spring-forward", "fall-back", "june"])
def test_generated_crash_histories_match_the_ground_truth(end: datetime) -> None:
    totals: Counter[str] = Counter()
    for seed in range(40):
        store, sim = history(seed, end, down_at_end=seed % 3 == 0, late=0.3,
                             points=night_points(seed, end))
        with store:
            now = end + timedelta(days=1)
            totals += compare(recover(store, POLICY, now=now), sim.crashes, now)
        assert sim.skipped_points == []
    # The histories covered what they are meant to.
    for what in ("interrupted", "across midnight", "unlimited", "unclean_shutdown",
                 "never back", "clean stop during it"):
        assert totals[what] > 0, (what, totals)
    if end.month in (3, 11):
        assert totals["dst"] >= 10, totals


def test_repeated_crashes_before_any_clean_stop() -> None:
    end = datetime(2026, 4, 30, 23, 0, tzinfo=NY)
    again = 0
    for seed in range(8):
        store, sim = history(seed, end, days=8, crash_rate=0.45, crashes=10)
        with store:
            now = end + timedelta(days=1)
            report = recover(store, POLICY, now=now)
            assert compare(report, sim.crashes, now)["interrupted"] > 0
        restarts = {c.restarted_at for c in sim.crashes}
        # Runs started by a reboot after a crash that crashed in turn (crash, reboot, crash).
        again += sum(r.started_at in restarts and r.end == "unclean" for r in report.runs)
    assert again >= 10


def test_clean_histories_give_no_finding() -> None:
    for seed, end in enumerate(ENDS * 3):
        store, sim = history(seed, end, crash_rate=0.0, crashes=0, late=0.5,
                             stop_in_session=0.0)
        with store:
            report = recover(store, POLICY, now=end + timedelta(days=1))
            assert sim.crashes == []
            assert report.findings == (), [f.title for f in report.findings]
            assert all(r.end in ("clean", "open") for r in report.runs)


def test_incremental_update_agrees_with_a_full_scan() -> None:
    end = datetime(2026, 10, 28, 20, 0, tzinfo=NY)
    store, sim = history(5, end, days=6, crash_rate=0.15, late=0.5)
    with store:
        scanner = RecoveryScanner(store, POLICY)
        now = end + timedelta(days=10)
        scanner.scan(now=now)
        for k in range(1, 4):  # more days (across fall-back), read incrementally
            sim.write_history(3, end=end + timedelta(days=3 * k), crashes=2)
            updated = scanner.update(now=now)
            full = recover(store, POLICY, now=now)
            assert updated.findings == full.findings
            assert updated.runs == full.runs and updated.last_id == full.last_id
            compare(updated, sim.crashes, now)


def test_incremental_update_sees_a_later_session_cut_an_open_one() -> None:
    """(Found by bench_recovery's "update = full scan afterwards".) The open run's session A
    is interrupted (deadline long past); then session B starts in the same run. A full scan
    bounds A by B's start (evidence: B's row); the incremental update must too."""
    est = timezone(timedelta(hours=-5))

    def t(h: int, m: int) -> datetime:
        return datetime(2026, 3, 7, h, m, tzinfo=est)

    with SqliteStore.in_memory() as store:
        store.append_audit(AuditEvent(0, t(10, 0), ServiceStarted()))
        store.append_audit(AuditEvent(0, t(10, 1), SessionStarted(
            "11111111-1111-4111-8111-111111111111", "minecraft", "Minecraft", t(10, 31))))
        scanner = RecoveryScanner(store)
        scanner.scan(now=t(12, 0))
        store.append_audit(AuditEvent(0, t(11, 0), SessionStarted(
            "22222222-2222-4222-8222-222222222222", "tuxmath", "Tux Math", t(11, 30))))
        assert scanner.update(now=t(12, 0)).findings == recover(store, now=t(12, 0)).findings


def test_repair_resolves_and_adds_exactly_its_seconds() -> None:
    end = datetime(2026, 3, 10, 22, 0, tzinfo=NY)
    repaired = 0
    for seed in range(10):
        store, sim = history(seed, end, crashes=4, late=0.5)
        with store:
            now = end + timedelta(days=1)
            report = recover(store, POLICY, now=now)
            compare(report, sim.crashes, now)
            for crash in sim.crashes:
                f = report.finding(crash.session_id) if crash.session_id else None
                if f is None:
                    continue
                assert f.min_seconds is not None and crash.started_at is not None
                seconds = lost_seconds(crash)  # the truth: what the service would have added
                day = service_day(crash.started_at, seconds)
                before = whole_seconds(store.get_usage(f.entry_id or "", day))
                result = repair(store, crash.session_id or "", seconds=seconds, cooldown=bool(
                    POLICY.entries[crash.entry_id or ""].cooldown_seconds), policy=POLICY,
                    now=now)
                assert result.seconds == seconds and result.day == day
                assert whole_seconds(store.get_usage(f.entry_id or "", day)) == before + seconds
                again = recover(store, POLICY, now=now).finding(crash.session_id or "")
                assert again is not None and again.resolved and not again.needs_action
                with pytest.raises(RecoveryConflict) as refused:
                    repair(store, crash.session_id or "", seconds=seconds, policy=POLICY,
                           now=now)
                assert refused.value.reason == "resolved"
                assert whole_seconds(store.get_usage(f.entry_id or "", day)) == before + seconds
                repaired += 1
            final = recover(store, POLICY, now=now)
            assert not final.needs_action, [f.title for f in final.findings if f.needs_action]
    assert repaired >= 10


# --- scripted edge cases -------------------------------------------------------------------


def scripted() -> tuple[SqliteStore, CrashingSimulator]:
    store = SqliteStore.in_memory()
    return store, CrashingSimulator(store, seed=11, tz=NY)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)  # type: ignore[misc]


def one_finding(store: SqliteStore, sim: CrashingSimulator,
                now: datetime) -> tuple[CrashRecord, RecoveryFinding]:
    report = recover(store, POLICY, now=now)
    compare(report, sim.crashes, now)
    (crash,) = [c for c in sim.crashes if c.session_id]
    f = report.finding(crash.session_id or "")
    assert f is not None
    return crash, f


def test_crash_across_midnight_credits_the_day_of_the_lower_bound() -> None:
    store, sim = scripted()
    with store:
        sim.boot(at(2026, 5, 15, 23, 0))
        sid = sim.play("minecraft", at(2026, 5, 15, 23, 40), crash_after=2400,
                       clients_after=[600])
        sim.boot(at(2026, 5, 16, 7, 30))
        crash, f = one_finding(store, sim, at(2026, 5, 17, 0, 0))
    assert crash.session_id == sid and crash.day == date(2026, 5, 16)
    assert (f.min_seconds, f.max_seconds) == (600, 3600)  # the client row; the deadline
    assert f.day == date(2026, 5, 15)  # 23:50, the last proof of play


def test_crash_across_spring_forward() -> None:
    store, sim = scripted()
    with store:
        sim.boot(at(2026, 3, 7, 23, 0))
        sim.play("minecraft", at(2026, 3, 8, 1, 50), crash_after=3590)  # 03:49:50 EDT
        sim.boot(at(2026, 3, 8, 9, 0))
        crash, f = one_finding(store, sim, at(2026, 3, 9, 0, 0))
    assert crash.started_at is not None and crash.started_at.isoformat()[-6:] == "-05:00"
    assert crash.crashed_at.isoformat()[-6:] == "-04:00"
    assert crash.deadline == at(2026, 3, 8, 3, 50)  # 60 real minutes, an hour on the clock
    assert f.max_seconds == 3600 and 3540 <= f.min_seconds <= 3541  # the 60 s warning


def test_crash_across_fall_back_in_the_repeated_hour() -> None:
    store, sim = scripted()
    with store:
        sim.boot(at(2026, 10, 31, 23, 0))
        start = at(2026, 11, 1, 1, 30)  # EDT, the first 01:30
        sim.play("minecraft", start, crash_after=2400)  # 01:10 EST, the second 01:xx
        restart = datetime(2026, 11, 1, 1, 40, fold=1, tzinfo=NY)  # 01:40 EST
        sim.boot(restart)
        crash, f = one_finding(store, sim, at(2026, 11, 2, 0, 0))
    assert crash.crashed_at.isoformat()[-6:] == "-05:00" and crash.lost_seconds == 2400
    assert crash.deadline is not None and crash.deadline.isoformat()[-6:] == "-05:00"
    assert f.max_seconds == 3600  # the deadline (01:30 EST) before the restart (01:40 EST)
    assert f.day == date(2026, 11, 1)


def test_unlimited_crash_with_a_reboot_is_bounded_by_the_reboot() -> None:
    store, sim = scripted()
    with store:
        sim.boot(at(2026, 6, 1, 9, 0))
        sim.play("krita", at(2026, 6, 1, 9, 30), seconds=1500, crash_after=1234.5,
                 clients_after=[1000])
        sim.boot(at(2026, 6, 1, 10, 0))
        crash, f = one_finding(store, sim, at(2026, 6, 2, 0, 0))
    assert crash.deadline is None and (f.min_seconds, f.max_seconds) == (1000, 1800)


def test_crash_after_an_extension_is_bounded_by_the_new_deadline() -> None:
    store, sim = scripted()
    with store:
        sim.boot(at(2026, 6, 2, 15, 0))
        sim.play("tuxmath", at(2026, 6, 2, 15, 10), extend_after=1700, crash_after=2500)
        sim.boot(at(2026, 6, 2, 18, 0))
        crash, f = one_finding(store, sim, at(2026, 6, 3, 0, 0))
    assert crash.deadline == at(2026, 6, 2, 15, 10) + timedelta(seconds=1800 + 900)
    assert f.max_seconds == 2700 and f.min_seconds >= 1700


def test_crash_the_service_never_came_back_from() -> None:
    store, sim = scripted()
    with store:
        sim.boot(at(2026, 6, 3, 15, 0))
        sim.play("minecraft", at(2026, 6, 3, 15, 10), crash_after=3000)
        before = recover(store, POLICY, now=at(2026, 6, 3, 15, 30))  # deadline not yet past
        crash, f = one_finding(store, sim, at(2026, 6, 4, 0, 0))
    assert before.findings == () and before.runs[0].sessions[-1].status == "running"
    assert crash.restarted_at is None and f.max_seconds == 3600


def test_idle_crash_the_service_never_came_back_from() -> None:
    """Nothing running, then nothing more written: the log cannot tell it from a service
    still running; the run is reported open, with no finding."""
    store, sim = scripted()
    with store:
        sim.boot(at(2026, 6, 3, 8, 0))
        sim.play("tuxmath", at(2026, 6, 3, 8, 10), seconds=600)
        sim.crash(at(2026, 6, 3, 9, 0))
        report = recover(store, POLICY, now=at(2026, 6, 5, 0, 0))
        assert compare(report, sim.crashes, at(2026, 6, 5))["idle, never back"] == 1
    assert report.findings == ()


def test_clean_stop_during_a_session_leaves_it_open() -> None:
    """Upstream's shutdown stops the game and writes service_stopped, never session_ended:
    the play is lost as in a crash, bounded by the stop."""
    store, sim = scripted()
    with store:
        sim.boot(at(2026, 6, 7, 18, 0))
        sim.play("minecraft", at(2026, 6, 7, 18, 10), stop_after=1200, clients_after=[300])
        sim.boot(at(2026, 6, 8, 8, 0))
        crash, f = one_finding(store, sim, at(2026, 6, 9, 0, 0))
        runs = recover(store, POLICY, now=at(2026, 6, 9)).runs
    assert crash.how == "stop" and (f.min_seconds, f.max_seconds) == (300, 1200)
    assert [r.end for r in runs] == ["open", "clean"]


def test_idle_crash_loop_gives_unclean_shutdowns_only() -> None:
    store, sim = scripted()
    with store:
        sim.boot(at(2026, 6, 4, 8, 0))
        for minute in (5, 15, 25):
            sim.crash(at(2026, 6, 4, 8, minute))
            sim.boot(at(2026, 6, 4, 8, minute + 2))
        sim.stop_service(at(2026, 6, 4, 9, 0))
        report = recover(store, POLICY, now=at(2026, 6, 5, 0, 0))
        assert compare(report, sim.crashes, at(2026, 6, 5))["unclean_shutdown"] == 3
    assert {f.kind for f in report.findings} == {"unclean_shutdown"}


def test_credited_day_of_a_day_long_session_across_spring_forward() -> None:
    """An unlimited game left open for a day, over the spring-forward night: the service
    would credit the local date at its end (New York's offset then, EDT)."""
    store, sim = scripted()
    with store:
        sim.boot(at(2026, 3, 7, 23, 0))
        start = at(2026, 3, 7, 23, 30)  # EST
        # Alive 24 h later: 2026-03-09 00:30 EDT (23:30 in the start's EST offset).
        sim.play("krita", start, seconds=90_000, crash_after=86_500, clients_after=[86_400])
        sim.boot(at(2026, 3, 9, 8, 0))
        report = recover(store, POLICY, now=at(2026, 3, 10, 0, 0))
    f = report.findings[0]
    assert f.min_seconds == 86_400
    assert f.day == date(2026, 3, 9), f"credited {f.day}; the service's local date is 03-09"


@contextmanager
def machine_zone(name: str) -> Iterator[None]:
    """This process's local time zone set to `name` (as TZ), restored afterwards."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = name
    time_module.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time_module.tzset()


def repair_day_long_dst_session() -> tuple[CrashRecord, RecoveryFinding, date]:
    """Krita open from 2026-03-07 23:30 EST; its last row 00:30 EST, before spring-forward;
    the service crashed at 2026-03-09 00:20 EDT and came back at 08:00 EDT. Repairing the
    true 85,800 s: (the crash, the finding, the day the repair credited)."""
    store, sim = scripted()
    with store:
        sim.boot(at(2026, 3, 7, 23, 0))
        sim.play("krita", at(2026, 3, 7, 23, 30), seconds=90_000, crash_after=85_800,
                 clients_after=[3600])
        sim.boot(at(2026, 3, 9, 8, 0))
        now = at(2026, 3, 10, 0, 0)
        crash, f = one_finding(store, sim, now)
        result = repair(store, crash.session_id or "", seconds=85_800, policy=POLICY, now=now)
    return crash, f, result.day


def test_repair_day_of_a_day_long_session_across_dst_in_the_service_zone() -> None:
    """On the service's machine (its zone, New York), the service would have credited 03-09:
    00:20 EDT, which is 23:20 EST of 03-08 (the offset of the last row)."""
    with machine_zone("America/New_York"):
        crash, f, day = repair_day_long_dst_session()
    assert f.min_seconds == 3600 and f.day == date(2026, 3, 8)  # 00:30 EST, a row: exact
    assert crash.day == date(2026, 3, 9) and day == date(2026, 3, 9)


def test_repair_day_of_a_day_long_session_across_dst_elsewhere() -> None:
    """The same database read on a machine in UTC. No row between the last sign of life
    (EST) and the restart (EDT) shows when the offset changed, so the repair credits the day
    in the offset of the last row at or before its end (the documented fallback): 23:20 EST
    of 03-08, where the service in New York, at 00:20 EDT, would have written 03-09. On the
    service's own machine (the test above) the zone settles it."""
    with machine_zone("UTC"):
        crash, _f, day = repair_day_long_dst_session()
    assert crash.day == date(2026, 3, 9)
    assert day == date(2026, 3, 8), f"credited {day}"


def test_crash_between_the_deadline_and_the_game_exit() -> None:
    """Expired at the deadline, the game takes 0.3-1.3 s to exit: the service bills that
    too (usage 1 s over the quota at times). A crash 1.2 s after the deadline lost
    (deadline - start) + 1 whole seconds."""
    store, sim = scripted()
    with store:
        sim.boot(at(2026, 6, 5, 15, 0))
        sim.play("minecraft", at(2026, 6, 5, 15, 10), seconds=3601.3, crash_after=3601.2)
        sim.boot(at(2026, 6, 5, 17, 0))
        report = recover(store, POLICY, now=at(2026, 6, 6, 0, 0))
    crash = sim.crashes[0]
    f = report.finding(crash.session_id or "")
    assert f is not None and lost_seconds(crash) == 3601
    # The log proves play only up to the deadline; the service then gives the game
    # GAME_EXIT_GRACE (5 s upstream) to close and bills that too, which no row records.
    assert f.max_seconds == 3600
    assert f.max_seconds < lost_seconds(crash) <= f.max_seconds + GAME_EXIT_GRACE


def test_unlimited_session_never_back_is_said_not_guessed() -> None:
    """An unlimited session, then the service never came back. The database is identical to
    one whose session still runs, and a repair of a running session would count it twice
    when it ends: so no repairable finding, but a note that says what the log cannot tell
    and that nothing bounds it."""
    store, sim = scripted()
    with store:
        sim.boot(at(2026, 6, 6, 9, 0))
        sim.play("gcompris", at(2026, 6, 6, 9, 30), seconds=3000, crash_after=700,
                 clients_after=[600])
        report = recover(store, POLICY, now=at(2026, 6, 9, 0, 0))  # three days later
    session_id = sim.crashes[0].session_id or ""
    assert report.finding(session_id) is None
    (note,) = [n for n in report.notes if session_id[:8] in n]
    assert "no time limit" in note and "stopped without a trace" in note
    (session,) = [s for r in report.runs for s in r.sessions if s.session_id == session_id]
    assert session.status == "running"


# --- the Rust-written fixtures ---------------------------------------------------------------


def expected(name: str) -> dict[str, object]:
    return json.loads((FIXTURES / "scripts" / f"{name}.expected.json").read_text())


@pytest.mark.parametrize("name", ["rust-crash-restarted", "rust-crash-down"])
def test_rust_fixture_crashes(name: str) -> None:
    truth = expected(name)["crashes"]
    assert isinstance(truth, list) and len(truth) == 1
    crash = truth[0]["session"]
    with SqliteStore.open(FIXTURES / f"{name}.db", read_only=True) as store:
        report = recover(store, POLICY, now=datetime(2026, 3, 8, 12, 0, tzinfo=NY))
    (f,) = [f for f in report.findings if f.kind == "interrupted_session"]
    assert f.session_id == crash["session_id"] and f.entry_id == crash["entry_id"]
    assert f.min_seconds is not None and f.max_seconds is not None
    assert f.min_seconds <= crash["unrecorded_secs_to_crash"] <= f.max_seconds
    # The README's "at most": to the next start, capped at the deadline (3600 s in both;
    # expected.json leaves the capped figure null when there is no next start).
    assert f.max_seconds == 3600
    assert f.min_seconds == 3300  # the 300 s warning: deadline - 300 s
    assert f.day == date.fromisoformat(crash["day_it_would_have_been_added_to"])
    assert {x.kind for x in report.findings} <= {"interrupted_session", "cooldown_missing"}


def test_rust_fixture_clean() -> None:
    with SqliteStore.open(FIXTURES / "rust-clean.db", read_only=True) as store:
        report = recover(store, POLICY, now=datetime(2026, 3, 8, 12, 0, tzinfo=NY))
    assert report.findings == ()
    assert all(r.end == "clean" for r in report.runs) and len(report.runs) == 5
