"""The service simulator: determinism, history invariants, DST, Rust layout, crashes, CLI."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shepherd_store import (
    AuditEvent,
    ClientConnected,
    Expired,
    LaunchDenied,
    LaunchFailed,
    Layout,
    PolicyLoaded,
    ReadOnlyError,
    ServiceStarted,
    ServiceStopped,
    SessionEnded,
    SessionExtended,
    SessionStarted,
    SqliteStore,
    StateSnapshot,
    UnknownEvent,
    WarningIssued,
    encode_event,
)
from shepherd_store.simulate import (
    DEFAULT_ENTRIES,
    SimEntry,
    Simulator,
    create_rust_database,
)
from shepherd_store.simulate_crash import CrashingSimulator, CrashRecord
from shepherd_store.timefmt import whole_seconds

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"  # written by the real Rust store
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ENTRIES = {e.id: e for e in DEFAULT_ENTRIES}


def all_events(store: SqliteStore) -> list[AuditEvent]:
    """Every audit event, oldest first."""
    return store.get_recent_audits(1_000_000)[::-1]


def dump(store: SqliteStore) -> tuple[list[tuple[int, str, str]], object, object, object]:
    """Everything the simulator wrote, as comparable text."""
    rows = [(e.id, e.timestamp.isoformat(), encode_event(e.event)) for e in all_events(store)]
    return (rows, store.usage_between(), store.all_cooldowns(), store.load_snapshot_text())


def check_history(events: list[AuditEvent], store: SqliteStore, tz: ZoneInfo,
                  crashed: frozenset[str] = frozenset()) -> dict[str, int]:
    """Assert the invariants of a simulated history; return counts of what it holds."""
    counts: dict[str, int] = defaultdict(int)
    started: dict[str, AuditEvent] = {}
    ended: dict[str, list[AuditEvent]] = defaultdict(list)
    warnings: dict[str, list[AuditEvent]] = defaultdict(list)
    extensions: dict[str, AuditEvent] = {}
    usage: dict[tuple[str, date], int] = defaultdict(int)
    last_end: dict[str, datetime] = {}
    previous = None
    for ev in events:
        assert not isinstance(ev.event, UnknownEvent), ev
        counts[ev.type] += 1
        if previous is not None:
            assert ev.timestamp >= previous, "timestamps go backwards"
        previous = ev.timestamp
        assert ev.timestamp.utcoffset() == ev.timestamp.astimezone(tz).utcoffset()
        e = ev.event
        if isinstance(e, SessionStarted):
            assert e.session_id not in started
            started[e.session_id] = ev
            entry = ENTRIES[e.entry_id]
            assert e.label == entry.label
            unlimited = not entry.max_run_seconds and not entry.daily_quota_seconds
            assert (e.deadline is None) == unlimited
            if e.deadline is not None and entry.max_run_seconds:
                assert e.deadline - ev.timestamp <= timedelta(seconds=entry.max_run_seconds)
        elif isinstance(e, WarningIssued):
            warnings[e.session_id].append(ev)
        elif isinstance(e, SessionExtended):
            assert e.extended_by == timedelta(minutes=15)
            extensions[e.session_id] = ev
        elif isinstance(e, SessionEnded):
            ended[e.session_id].append(ev)
            start = started[e.session_id]
            assert isinstance(start.event, SessionStarted)
            assert e.entry_id == start.event.entry_id
            local_start, local_end = start.timestamp.astimezone(tz), ev.timestamp.astimezone(tz)
            assert local_start.date() == local_end.date(), "a session crossed midnight"
            if isinstance(e.reason, LaunchFailed):
                assert e.duration == timedelta(0)
            else:
                assert abs(e.duration - (ev.timestamp - start.timestamp)) < timedelta(seconds=1)
                last_end[e.entry_id] = ev.timestamp
                counts["reason:" + e.reason.TYPE] += 1
            if isinstance(e.reason, Expired):
                assert start.event.deadline is not None
                deadline = start.event.deadline
                if e.session_id in extensions:
                    ext = extensions[e.session_id].event
                    assert isinstance(ext, SessionExtended)
                    deadline = ext.new_deadline
                assert timedelta(0) <= ev.timestamp - deadline < timedelta(seconds=1)
            if not isinstance(e.reason, LaunchFailed):  # a failed launch bills nothing
                usage[(e.entry_id, local_start.date())] += whole_seconds(e.duration)
        elif isinstance(e, LaunchDenied):
            assert e.reasons
            for reason in e.reasons:
                m = re.fullmatch(r"QuotaExhausted \{ used: (\d+)s, quota: (\d+)s \}", reason)
                if m:
                    assert int(m[1]) >= int(m[2]) > 0
                    continue
                m = re.fullmatch(r"CooldownActive \{ available_at: (\S+) \}", reason)
                assert m, reason
                assert datetime.fromisoformat(m[1]) > ev.timestamp
        elif isinstance(e, PolicyLoaded):
            assert e.entry_count == len(DEFAULT_ENTRIES)
        elif isinstance(e, ClientConnected):
            assert (e.role, e.uid) in (("Shell", 1000), ("Admin", None))
    for sid, start in started.items():
        assert len(ended[sid]) == (0 if sid in crashed else 1), sid
        assert isinstance(start.event, SessionStarted)
        announced = start.event.deadline
        thresholds = [w.event.threshold_seconds for w in warnings[sid]
                      if isinstance(w.event, WarningIssued)]
        assert thresholds == sorted(thresholds, reverse=True)
        for w in warnings[sid]:
            assert isinstance(w.event, WarningIssued) and announced is not None
            lead = announced - w.timestamp
            assert timedelta(seconds=w.event.threshold_seconds - 1) < lead
            assert lead <= timedelta(seconds=w.event.threshold_seconds)
    stored = {(u.entry_id, u.day): u.seconds for u in store.usage_between()}
    assert stored == dict(usage)
    cooldowns = {c.entry_id: c.until for c in store.all_cooldowns()}
    for entry_id, end in last_end.items():
        cooldown = ENTRIES[entry_id].cooldown_seconds
        if cooldown:
            assert cooldowns[entry_id] == end + timedelta(seconds=cooldown)
        else:
            assert entry_id not in cooldowns
    counts["sessions"] = len(started)
    return counts


# --- entries and determinism ---------------------------------------------------------------


def test_default_entries_look_like_the_config() -> None:
    ids = [e.id for e in DEFAULT_ENTRIES]
    assert 5 <= len(ids) <= 8 and len(set(ids)) == len(ids)
    assert {"tuxmath", "minecraft", "gcompris", "krita"} <= set(ids)
    assert ENTRIES["tuxmath"].label == "Tux Math"
    unlimited = [e for e in DEFAULT_ENTRIES if not e.daily_quota_seconds]
    assert 1 <= len(unlimited) <= 2


def test_same_seed_same_history_other_seed_other_history() -> None:
    end = datetime(2026, 5, 20, 18, 30, tzinfo=BERLIN)
    dumps = []
    for seed in (7, 7, 8):
        with SqliteStore.in_memory() as store:
            Simulator(store, seed=seed, tz=BERLIN).write_history(20, end=end)
            dumps.append(dump(store))
    assert dumps[0] == dumps[1]
    assert dumps[0][0] != dumps[2][0]
    assert all(datetime.fromisoformat(r[1]) <= end for r in dumps[0][0])


# --- history -------------------------------------------------------------------------------


def test_history_invariants() -> None:
    end = datetime(2026, 6, 30, 23, 59, 59, tzinfo=BERLIN)
    with SqliteStore.in_memory() as store:
        sim = Simulator(store, seed=1, tz=BERLIN)
        written = sim.write_history(60, end=end)
        events = all_events(store)
        assert written == len(events)
        counts = check_history(events, store, BERLIN)
        assert counts["service_started"] == counts["service_stopped"] == 60
        assert isinstance(events[0].event, ServiceStarted)
        assert isinstance(events[-1].event, ServiceStopped)
        assert events[-1].timestamp <= end
        assert events[0].timestamp.date() == date(2026, 5, 2)
        assert 60 <= counts["sessions"] <= 60 * 6
        for kind in ("launch_denied", "warning_issued", "session_extended", "reason:expired",
                     "reason:user_stop", "reason:process_exited"):
            assert counts[kind] > 0, kind
        snapshot = store.load_snapshot()
        assert snapshot is not None and snapshot.active_session is None
        assert not sim.service_running


def test_history_on_end_day_leaves_the_service_running() -> None:
    end = datetime(2026, 6, 6, 16, 0, tzinfo=BERLIN)  # a Saturday afternoon
    with SqliteStore.in_memory() as store:
        sim = Simulator(store, seed=5, tz=BERLIN)
        sim.write_history(3, end=end)
        events = all_events(store)
        check_history(events, store, BERLIN)
        assert all(e.timestamp <= end for e in events)
        assert sim.service_running
        assert sum(isinstance(e.event, ServiceStopped) for e in events) == 2


def test_snapshots_follow_the_session() -> None:
    """A snapshot with the running session (and its warnings) while it runs, None after."""
    with SqliteStore.in_memory() as store:
        sim = Simulator(store, seed=2, tz=BERLIN,
                        wall_clock=lambda: datetime(2026, 4, 14, 16, 0, tzinfo=BERLIN))
        sid = sim.start_session("minecraft")
        assert sid is not None and sim.active_session_id == sid
        active = store.load_snapshot()
        assert active is not None and active.active_session is not None
        assert active.active_session.session_id == sid
        assert active.active_session.warnings_issued == ()
        assert not any(isinstance(e.event, SessionEnded) for e in all_events(store))
        assert "Minecraft" in sim.finish_session()
        final = store.load_snapshot()
        assert final is not None and final.active_session is None
        ends = [e.event for e in all_events(store) if isinstance(e.event, SessionEnded)]
        assert [e.session_id for e in ends] == [sid]

    saved: list[StateSnapshot] = []
    with SqliteStore.in_memory() as store:
        original = store.save_snapshot

        def spy(snapshot: StateSnapshot) -> None:
            saved.append(snapshot)
            original(snapshot)

        store.save_snapshot = spy  # type: ignore[method-assign]
        Simulator(store, seed=6, tz=BERLIN).write_history(
            20, end=datetime(2026, 4, 30, 23, 59, tzinfo=BERLIN))
        events = all_events(store)
    issued: dict[str, list[tuple[int, ...]]] = defaultdict(list)
    for snap in saved:
        if snap.active_session is not None:
            issued[snap.active_session.session_id].append(snap.active_session.warnings_issued)
    warned: dict[str, tuple[int, ...]] = defaultdict(tuple)
    for ev in events:
        if isinstance(ev.event, WarningIssued):
            warned[ev.event.session_id] += (ev.event.threshold_seconds,)
    limited = [e.event for e in events
               if isinstance(e.event, SessionStarted) and e.event.deadline is not None]
    assert limited and set(issued) == {e.session_id for e in limited}
    assert any(len(w) == 2 for w in warned.values())
    for sid, history in issued.items():
        assert history[0] == () and history[-1] == warned[sid]
    ended = sum(isinstance(e.event, SessionEnded) for e in events)
    assert sum(s.active_session is None for s in saved) == ended


# --- time zones ------------------------------------------------------------------------------


@pytest.mark.parametrize(("end", "offsets"), [
    (datetime(2026, 3, 10, 22, 0, tzinfo=NEW_YORK), {"-05:00", "-04:00"}),
    (datetime(2026, 11, 3, 22, 0, tzinfo=NEW_YORK), {"-04:00", "-05:00"}),
])
def test_dst_days_have_the_right_offsets(end: datetime, offsets: set[str]) -> None:
    with SqliteStore.in_memory() as store:
        Simulator(store, seed=4, tz=NEW_YORK).write_history(6, end=end)
        events = all_events(store)
        check_history(events, store, NEW_YORK)
        seen = {e.timestamp.isoformat()[-6:] for e in events}
        assert seen == offsets
        for ev in events:  # the offset stored with each instant is New York's at that instant
            assert ev.timestamp.utcoffset() == ev.timestamp.astimezone(NEW_YORK).utcoffset()
            deadline = getattr(ev.event, "deadline", None)
            if deadline is not None:
                assert deadline.utcoffset() == deadline.astimezone(NEW_YORK).utcoffset()


# --- Rust layout -----------------------------------------------------------------------------


def master(path: Path) -> list[tuple[str, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
    finally:
        conn.close()


def test_rust_database_layout_and_history(tmp_path: Path) -> None:
    path = tmp_path / "rust.db"
    create_rust_database(path)
    fixture = FIXTURES / "rust-v0.db"
    assert master(path) == master(fixture)
    with pytest.raises(FileExistsError):
        create_rust_database(path)
    with SqliteStore.open(path) as store:
        assert store.layout is Layout.RUST
        assert store.journal_mode == "delete"
        Simulator(store, seed=3, tz=BERLIN).write_history(
            8, end=datetime(2026, 2, 1, 23, 59, tzinfo=BERLIN))
        check_history(all_events(store), store, BERLIN)
    with SqliteStore.open(path, read_only=True) as store:
        assert store.layout is Layout.RUST and store.journal_mode == "delete"
        assert store.get_recent_audits(5)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (0,)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == {"audit_log", "sqlite_sequence", "usage", "cooldowns", "snapshot"}
    finally:
        conn.close()


def test_rust_database_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "rust-wal.db"
    create_rust_database(path, journal_mode="wal")
    with SqliteStore.open(path) as store:
        assert store.layout is Layout.RUST and store.journal_mode == "wal"
    with pytest.raises(ValueError):
        create_rust_database(tmp_path / "x.db", journal_mode="memory")


# --- crashes and live mode -----------------------------------------------------------------


def test_crash_mid_session_then_restart() -> None:
    end = datetime(2026, 9, 12, 14, 0, tzinfo=BERLIN)
    with SqliteStore.in_memory() as store:
        sim = Simulator(store, seed=9, tz=BERLIN, wall_clock=lambda: end)
        sim.write_history(4, end=end)
        sid = sim.crash_mid_session()
        snapshot = store.load_snapshot()
        assert snapshot is not None and snapshot.active_session is not None
        assert snapshot.active_session.session_id == sid
        events = all_events(store)
        assert isinstance(events[-1].event, SessionStarted)
        assert events[-1].event.session_id == sid
        check_history(events, store, BERLIN, crashed=frozenset({sid}))
        assert not sim.service_running
        sim.restart_service()
        tail = all_events(store)[len(events):]
        assert isinstance(tail[0].event, ServiceStarted)
        assert isinstance(tail[1].event, PolicyLoaded)
        assert tail[0].timestamp > events[-1].timestamp
        after = store.load_snapshot()
        assert after is not None and after.active_session is not None  # the stale snapshot
        sim.step()
        check_history(all_events(store), store, BERLIN, crashed=frozenset({sid}))


def test_live_mode_stays_near_the_wall_clock_and_rolls_days() -> None:
    now = [datetime(2026, 12, 18, 20, 0, tzinfo=BERLIN)]
    with SqliteStore.in_memory() as store:
        sim = Simulator(store, seed=11, tz=BERLIN, wall_clock=lambda: now[0])
        sim.write_history(3, end=now[0])
        history = len(all_events(store))
        for _ in range(150):
            description = sim.step()
            assert isinstance(description, str) and description
            clock = sim.clock
            assert clock is not None
            assert clock <= now[0] + sim.max_ahead + timedelta(minutes=45)
            now[0] += timedelta(minutes=5)  # real time passes between steps
        events = all_events(store)
        check_history(events, store, BERLIN)
        live_days = {e.timestamp.date() for e in events[history:]}
        assert len(live_days) >= 2, "live mode should roll over to the next day"
        assert sim.run_live(interval=0, max_sessions=4) == 4


def test_write_errors_are_reported_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    SqliteStore.open(path).close()
    with SqliteStore.open(path, read_only=True) as store:
        sim = Simulator(store, seed=0, tz=BERLIN)
        with pytest.raises(ReadOnlyError):
            sim.write_history(1, end=datetime(2026, 1, 5, 23, 0, tzinfo=BERLIN))
        reported: list[Exception] = []
        sim = Simulator(store, seed=0, tz=BERLIN)
        sim.on_error = reported.append
        sim.write_history(1, end=datetime(2026, 1, 5, 23, 0, tzinfo=BERLIN))
        assert sim.errors == len(reported) > 0 and sim.events_written == 0


def test_custom_entries() -> None:
    entries = [SimEntry("a", "Alpha", 600, 60, 300), SimEntry("b", "Beta")]
    with SqliteStore.in_memory() as store:
        Simulator(store, seed=3, tz=BERLIN, entries=entries).write_history(
            5, end=datetime(2026, 3, 1, 23, 59, tzinfo=BERLIN))
        ids = {getattr(e.event, "entry_id", None) for e in all_events(store)} - {None}
        assert ids <= {"a", "b"} and ids


# --- command line ----------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.Popen[str]:
    """The simulator's command line in a child process, stdout and stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "shepherd_store.simulate", *args], cwd=REPO, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def audit_ids(path: Path) -> set[int]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM audit_log")}
    finally:
        conn.close()


@pytest.mark.parametrize("rust", [False, True])
def test_cli_acked_events_survive_sigkill(tmp_path: Path, rust: bool) -> None:
    path = tmp_path / "kill.db"
    extra = ["--rust"] if rust else []
    acked: list[int] = []
    with run_cli(str(path), "--days", "2", "--live", "--interval", "0", "--ack", *extra) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            acked.append(int(line.split()[1]))
            if len(acked) >= 150:
                break
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=10)
        acked += [int(line.split()[1]) for line in rest.splitlines() if line.startswith("ack ")]
    assert proc.returncode == -signal.SIGKILL
    assert acked == sorted(acked) and len(acked) >= 150
    with SqliteStore.open(path) as store:  # recovers the journal / WAL
        assert store.layout is (Layout.RUST if rust else Layout.SEED)
    assert set(acked) <= audit_ids(path)


def test_cli_live_max_sessions_exits_zero(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    with run_cli(str(path), "--days", "3", "--live", "--max-sessions", "3",
                 "--interval", "0", "--seed", "5") as proc:
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert err.strip().splitlines()[-1] == "errors 0"
    with SqliteStore.open(path) as store:
        assert store.layout is Layout.SEED and store.journal_mode == "wal"
        events = all_events(store)
        assert isinstance(events[-1].event, ServiceStopped)
        assert sum(isinstance(e.event, SessionStarted) for e in events) >= 1
        assert max(e.timestamp for e in events) <= datetime.now(UTC) + timedelta(hours=3)


def test_cli_exits_zero_on_sigterm(tmp_path: Path) -> None:
    path = tmp_path / "term.db"
    with run_cli(str(path), "--days", "1", "--live", "--interval", "0.05", "--ack",
                 "--rust", "--journal", "wal") as proc:
        assert proc.stdout is not None
        for n, _ in enumerate(proc.stdout):
            if n >= 20:
                break
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert err.strip().splitlines()[-1] == "errors 0"
    with SqliteStore.open(path) as store:
        assert store.journal_mode == "wal"
        assert isinstance(all_events(store)[-1].event, ServiceStopped)


def test_cli_resumes_an_existing_database(tmp_path: Path) -> None:
    path = tmp_path / "again.db"
    for _ in range(2):
        with run_cli(str(path), "--days", "2", "--live", "--max-sessions", "2",
                     "--interval", "0") as proc:
            _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    with SqliteStore.open(path) as store:
        events = all_events(store)
        stamps = [e.timestamp for e in events]
        assert stamps == sorted(stamps)
        sids = [e.event.session_id for e in events if isinstance(e.event, SessionStarted)]
        assert len(sids) == len(set(sids)), "a resumed run reused session ids"
        assert sum(isinstance(e.event, ServiceStopped) for e in events) >= 2
    started = time.monotonic()
    with run_cli(str(tmp_path / "missing" / "x.db")) as proc:
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "error " in err and time.monotonic() - started < 30


# --- crashes as the shipped service has them (simulate_crash) -----------------------------


def check_crash_history(events: list[AuditEvent], store: SqliteStore,
                        crashes: list[CrashRecord], tz: ZoneInfo) -> dict[str, int]:
    """Assert that the database holds what the shipped service leaves, crashes included.

    Every session ends once or is a crashed one (and then has no row after the crash); each
    run ends in service_stopped, in a crash (its last row is the crash's `last_row_at`, the
    next run starts at `restarted_at`) or is the last run; usage is the ended sessions' by the
    day they ended; the cooldowns those of the last ended sessions; never a snapshot.
    """
    assert store.load_snapshot() is None, "the shipped service never saves a snapshot"
    runs: list[list[AuditEvent]] = []
    for ev in events:
        assert ev.timestamp.utcoffset() == ev.timestamp.astimezone(tz).utcoffset()
        if isinstance(ev.event, ServiceStarted):
            runs.append([])
        assert runs, "a row before the first service_started"
        runs[-1].append(ev)
    by_last_row = {c.last_row_at: c for c in crashes if c.how == "crash"}
    by_stop = {c.crashed_at: c for c in crashes if c.how == "stop"}
    assert len(by_last_row) + len(by_stop) == len(crashes), "two crashes in one run"
    crashed_runs = 0
    for k, run in enumerate(runs):
        assert isinstance(run[1].event, PolicyLoaded)
        last = run[-1]
        stopped = [ev for ev in run if isinstance(ev.event, ServiceStopped)]
        crash = by_last_row.get(last.timestamp)
        stop = by_stop.get(last.timestamp) if stopped else None
        if stop is not None:  # a clean stop while a game ran: the session left open
            crashed_runs += 1
            assert stopped == [last] and stop.last_row_at == run[-2].timestamp
            assert stop.session_id is not None
            assert stop.restarted_at == (runs[k + 1][0].timestamp if k + 1 < len(runs)
                                         else None)
        elif crash is not None:
            crashed_runs += 1
            assert not stopped, "a crashed run has no service_stopped"
            assert last.timestamp < crash.crashed_at
            if k + 1 < len(runs):
                assert crash.restarted_at == runs[k + 1][0].timestamp
                assert crash.crashed_at < crash.restarted_at
            else:
                assert crash.restarted_at is None
        elif k + 1 < len(runs):
            assert [isinstance(ev.event, ServiceStopped) for ev in run][-1:] == [True]
    assert crashed_runs == len(crashes), "a crash whose run is not in the database"
    crashed = {c.session_id: c for c in crashes if c.session_id is not None}
    started: dict[str, AuditEvent] = {}
    ended: dict[str, AuditEvent] = {}
    deadlines: dict[str, datetime | None] = {}
    usage: dict[tuple[str, date], int] = defaultdict(int)
    last_end: dict[str, datetime] = {}
    for ev in events:
        e = ev.event
        if isinstance(e, SessionStarted):
            started[e.session_id] = ev
            deadlines[e.session_id] = e.deadline
        elif isinstance(e, SessionExtended):
            deadlines[e.session_id] = e.new_deadline
        elif isinstance(e, WarningIssued):
            start = started[e.session_id].event
            assert isinstance(start, SessionStarted) and start.deadline is not None
            lead = start.deadline - ev.timestamp  # the original schedule, 100 ms ticks
            assert timedelta(seconds=e.threshold_seconds - 0.1) <= lead
            assert lead < timedelta(seconds=e.threshold_seconds)
        elif isinstance(e, SessionEnded):
            assert e.session_id not in ended and e.session_id not in crashed
            ended[e.session_id] = ev
            assert e.reason.TYPE != "service_shutdown", "the service stops with no game running"
            if not isinstance(e.reason, LaunchFailed):
                usage[(e.entry_id, ev.timestamp.astimezone(tz).date())] += whole_seconds(
                    e.duration)
                last_end[e.entry_id] = ev.timestamp
        sid = getattr(e, "session_id", None)
        if sid in crashed and not isinstance(e, SessionStarted):
            assert ev.timestamp < crashed[sid].crashed_at, "a row of the session after its crash"
    assert set(started) == set(ended) | set(crashed)
    for sid, crash in crashed.items():
        start = started[sid]
        assert isinstance(start.event, SessionStarted)
        assert crash.started_at == start.timestamp and crash.entry_id == start.event.entry_id
        assert crash.deadline == deadlines[sid]
        assert crash.lost > timedelta(0)
        if crash.deadline is not None:  # the game exits at most 1.3 s after its deadline
            assert crash.crashed_at <= crash.deadline + timedelta(seconds=1.3)
        assert crash.day == crash.crashed_at.astimezone(tz).date()
    assert {(u.entry_id, u.day): u.seconds for u in store.usage_between()} == dict(usage)
    cooldowns = {c.entry_id: c.until for c in store.all_cooldowns()}
    for entry_id, end in last_end.items():
        if ENTRIES[entry_id].cooldown_seconds:
            assert cooldowns[entry_id] == end + timedelta(
                seconds=ENTRIES[entry_id].cooldown_seconds)
    return {"runs": len(runs), "crashes": len(crashes), "mid_session": len(crashed),
            "sessions": len(started)}


@pytest.mark.parametrize("seed", range(4))
def test_crashing_history_leaves_what_the_shipped_service_leaves(seed: int) -> None:
    end = datetime(2026, 3, 20, 22, 0, tzinfo=NEW_YORK)
    with SqliteStore.in_memory() as store:
        sim = CrashingSimulator(store, seed=seed, tz=NEW_YORK, crash_rate=0.08,
                                late_night_rate=0.25)
        written = sim.write_history(40, end=end, crashes=6, down_at_end=True)
        events = all_events(store)
        assert written == len(events) and all(e.timestamp <= end for e in events)
        counts = check_crash_history(events, store, sim.crashes, NEW_YORK)
    assert counts["crashes"] >= 6 and 0 < counts["mid_session"] < counts["crashes"]
    assert sim.crashes[-1].restarted_at is None  # down at the end
    assert not sim.service_running


def test_crashing_history_is_deterministic_and_crosses_midnight_and_dst() -> None:
    end = datetime(2026, 11, 6, 23, 0, tzinfo=NEW_YORK)
    dumps, records = [], []
    for _ in range(2):
        with SqliteStore.in_memory() as store:
            sim = CrashingSimulator(store, seed=3, tz=NEW_YORK, crash_rate=0.2,
                                    late_night_rate=1.0)
            sim.write_history(10, end=end, crashes=4)
            check_crash_history(all_events(store), store, sim.crashes, NEW_YORK)
            dumps.append(dump(store))
            records.append(sim.crashes)
    assert dumps[0] == dumps[1] and records[0] == records[1]
    ended_after_midnight = [
        r for r in dumps[0][0] if '"session_ended"' in r[2] and r[1][11:13] in ("00", "01")]
    assert ended_after_midnight, "late nights should end sessions after midnight"
    offsets = {r[1][-6:] for r in dumps[0][0] if r[1].startswith("2026-11-01")}
    assert offsets == {"-04:00", "-05:00"}, "the night of the DST change"


def test_scripted_crashes_record_the_truth() -> None:
    with SqliteStore.in_memory() as store:
        sim = CrashingSimulator(store, seed=1, tz=NEW_YORK)
        at = datetime(2026, 3, 7, 23, 0, tzinfo=NEW_YORK)
        sim.boot(at)
        # Across midnight and the spring-forward change: 01:50 EST + 60 min = 03:50 EDT.
        sid = sim.play("minecraft", datetime(2026, 3, 8, 1, 50, tzinfo=NEW_YORK),
                       crash_after=3590)
        sim.boot(datetime(2026, 3, 8, 9, 0, tzinfo=NEW_YORK))
        unlimited = sim.play("krita", datetime(2026, 3, 8, 9, 30, tzinfo=NEW_YORK),
                             crash_after=1234.5)
        sim.boot(datetime(2026, 3, 8, 10, 0, tzinfo=NEW_YORK))
        sim.crash(datetime(2026, 3, 8, 10, 5, tzinfo=NEW_YORK))  # crash loop, no session
        sim.boot(datetime(2026, 3, 8, 10, 6, tzinfo=NEW_YORK))
        done = sim.play("tuxmath", datetime(2026, 3, 8, 10, 30, tzinfo=NEW_YORK), seconds=600)
        sim.stop_service(datetime(2026, 3, 8, 12, 0, tzinfo=NEW_YORK))
        sim.boot(datetime(2026, 3, 8, 15, 0, tzinfo=NEW_YORK))
        last = sim.play("minecraft", datetime(2026, 3, 8, 15, 10, tzinfo=NEW_YORK),
                        crash_after=3000)
        events = all_events(store)
        check_crash_history(events, store, sim.crashes, NEW_YORK)
        assert store.get_usage("tuxmath", date(2026, 3, 8)) == timedelta(seconds=600)
        assert store.get_usage("minecraft", date(2026, 3, 8)) == timedelta(0)
    first, second, idle, final = sim.crashes
    assert first.session_id == sid and first.lost_seconds == 3590
    assert first.started_at is not None and first.started_at.isoformat()[-6:] == "-05:00"
    assert first.deadline == datetime(2026, 3, 8, 3, 50, tzinfo=NEW_YORK)
    assert first.deadline is not None and first.deadline.isoformat()[-6:] == "-04:00"
    assert first.day == date(2026, 3, 8) and first.crashed_at.hour == 3
    assert second.session_id == unlimited and second.deadline is None
    assert second.lost_seconds == 1234.5
    assert idle.session_id is None and idle.lost == timedelta(0) and idle.day is None
    assert idle.restarted_at == datetime(2026, 3, 8, 10, 6, tzinfo=NEW_YORK)
    assert final.session_id == last and final.restarted_at is None
    # Both warnings of the first session came before its crash; the others never got there.
    warned = [e.event.session_id for e in events if isinstance(e.event, WarningIssued)]
    assert warned == [sid, sid] and done not in warned
    with pytest.raises(RuntimeError):
        sim.crash(datetime(2026, 3, 9, tzinfo=NEW_YORK))  # already down
    with pytest.raises(ValueError):
        sim.boot(datetime(2026, 3, 1, tzinfo=NEW_YORK))  # before the clock


def test_sessions_end_in_the_shipped_order() -> None:
    """add_usage (the day it ended), set_cooldown_until, then session_ended; no snapshot."""
    calls: list[str] = []
    with SqliteStore.in_memory() as store:
        for name in ("append_audit", "add_usage", "set_cooldown_until", "save_snapshot"):
            original = getattr(store, name)

            def spy(*args: object, _name: str = name, _original: object = original) -> None:
                first = args[0]
                calls.append(first.type if isinstance(first, AuditEvent) else _name)
                _original(*args)  # type: ignore[operator]

            setattr(store, name, spy)
        sim = CrashingSimulator(store, seed=2, tz=NEW_YORK)
        sim.boot(datetime(2026, 4, 1, 23, 30, tzinfo=NEW_YORK))
        sim.play("minecraft", datetime(2026, 4, 1, 23, 40, tzinfo=NEW_YORK), seconds=1800)
        assert store.get_usage("minecraft", date(2026, 4, 2)) == timedelta(seconds=1800)
        assert store.get_usage("minecraft", date(2026, 4, 1)) == timedelta(0)
    assert "save_snapshot" not in calls
    end = calls.index("session_ended")
    assert calls[end - 2:end] == ["add_usage", "set_cooldown_until"]


def test_live_mode_crashes_and_reboots() -> None:
    now = [datetime(2026, 12, 18, 15, 0, tzinfo=BERLIN)]
    with SqliteStore.in_memory() as store:
        sim = CrashingSimulator(store, seed=4, tz=BERLIN, crash_rate=0.3,
                                wall_clock=lambda: now[0])
        for _ in range(40):
            sim.step()
            now[0] += timedelta(minutes=20)
        sim.shutdown()
        events = all_events(store)
        assert len(sim.crashes) >= 5
        assert all(c.restarted_at is not None for c in sim.crashes)
        stamps = [e.timestamp for e in events]
        assert stamps == sorted(stamps)
        assert store.load_snapshot() is None


def test_cli_crashes_write_the_ground_truth(tmp_path: Path) -> None:
    path, truth = tmp_path / "crash.db", tmp_path / "truth.json"
    with run_cli(str(path), "--days", "20", "--crashes", "5", "--down-at-end", "--rust",
                 "--tz", "America/New_York", "--seed", "2", "--truth", str(truth)) as proc:
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert err.strip().splitlines()[-1] == "errors 0"
    records = json.loads(truth.read_text())
    assert len(records) >= 5 and records[-1]["restarted_at"] is None
    with SqliteStore.open(path, read_only=True) as store:
        assert store.layout is Layout.RUST and store.load_snapshot() is None
        events = all_events(store)
    started = {e.event.session_id: e.timestamp for e in events
               if isinstance(e.event, SessionStarted)}
    ended = {e.event.session_id for e in events if isinstance(e.event, SessionEnded)}
    for r in records:
        assert datetime.fromisoformat(r["crashed_at"]) > datetime.fromisoformat(r["last_row_at"])
        if r["session_id"] is not None:
            assert r["session_id"] not in ended
            assert started[r["session_id"]] == datetime.fromisoformat(r["started_at"])
    assert {r["session_id"] for r in records} - {None} == set(started) - ended
    with run_cli(str(tmp_path / "bad.db"), "--crash-rate", "1.5") as proc:
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "probability" in err


def test_crash_points_cut_a_session_at_that_instant() -> None:
    points = [datetime(2026, 3, 8, 3, 20, tzinfo=NEW_YORK),  # the spring-forward night
              datetime(2026, 3, 10, 16, 45, tzinfo=NEW_YORK),
              datetime(2026, 3, 1, 12, 0, tzinfo=NEW_YORK)]  # before the history: skipped
    with SqliteStore.in_memory() as store:
        sim = CrashingSimulator(store, seed=8, tz=NEW_YORK, late_night_rate=0.0)
        sim.write_history(6, end=datetime(2026, 3, 11, 22, 0, tzinfo=NEW_YORK),
                          crash_points=points)
        check_crash_history(all_events(store), store, sim.crashes, NEW_YORK)
    assert [c.crashed_at for c in sim.crashes] == points[:2]
    assert sim.skipped_points == [points[2]]
    for crash in sim.crashes:
        if crash.started_at is not None:
            assert timedelta(minutes=2) <= crash.lost <= timedelta(minutes=45)
    with SqliteStore.in_memory() as store:
        sim = CrashingSimulator(store, seed=8, tz=NEW_YORK)
        sim.boot(datetime(2026, 3, 8, 9, 0, tzinfo=NEW_YORK))
        with pytest.raises(ValueError, match="before crash_after"):
            sim.play("krita", datetime(2026, 3, 8, 10, 0, tzinfo=NEW_YORK), crash_after=3600)
        assert sim.crashes == [] and sim.active_session_id is None
