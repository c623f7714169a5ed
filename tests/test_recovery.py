"""`shepherd_store.recovery`: runs, interrupted sessions, findings, notes and the repair.

On the Rust-written fixtures (whose `scripts/*.expected.json` hold the truth a reader of the
database cannot see), on seed- and Rust-layout databases written with the store's API, and
on pathological logs. The incremental update is compared with a fresh scan after random
appends; the repair is raced by threads (processes: test_recovery_cli.py).
"""

from __future__ import annotations

import itertools
import json
import random
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, fixture_path

from shepherd_store import (
    AuditEvent,
    Expired,
    SerializationError,
    ServiceStarted,
    ServiceStopped,
    SessionEnded,
    SessionExtended,
    SessionStarted,
    SqliteStore,
    UserStop,
    WarningIssued,
)
from shepherd_store import store as store_module
from shepherd_store.errors import StoreError
from shepherd_store.policy import Policy, PolicyEntry, load_policy
from shepherd_store.recovery import (
    RecoveryConflict,
    RecoveryReport,
    RecoveryScanner,
    credited_day,
    recover,
    repair,
    repair_cooldown,
    repair_usage_lost,
)
from shepherd_store.recovery import scanner as recovery_module
from shepherd_store.schema import RUST_DDL
from shepherd_store.timefmt import format_timestamp, parse_timestamp

EST = timezone(timedelta(hours=-5))
EDT = timezone(timedelta(hours=-4))
CRASHED = "0f8ce7eb-fd2a-45f7-8af2-1d479169906c"
POLICY = Policy("test", {
    "minecraft": PolicyEntry("minecraft", "Minecraft", 3600, 1800),
    "tuxmath": PolicyEntry("tuxmath", "Tux Math", 2700, None),
    "supertuxkart": PolicyEntry("supertuxkart", "SuperTuxKart", 2700, 900)})
LATER = datetime(2026, 12, 1, 12, 0, tzinfo=EST)  # long after every history here
CLIENT = '{"type":"client_connected","client_id":"c","role":"Shell","uid":1000}'


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (FIXTURES / "scripts" / f"{name}.expected.json").read_text(encoding="utf-8"))
    return data


def copy(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copyfile(fixture_path(name), dest)
    dest.chmod(0o644)
    return dest


def sid(n: int) -> str:
    return str(uuid.UUID(int=n, version=4))


def at(day: int, hour: int, minute: int = 0, second: float = 0, tz: timezone = EST,
       month: int = 6) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=tz) + timedelta(seconds=second)


class Log:
    """Writes a history through the store's API (either layout)."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    def add(self, when: datetime, event: Any) -> int:
        ev = AuditEvent(0, when, event)
        self.store.append_audit(ev)
        return ev.id

    def raw(self, when: str | None, text: str, event_type: str = "x") -> int:
        """A row as another tool might have written it (no validation). The seed layout's
        JSON indexes refuse text that is not JSON: there it becomes a JSON string."""
        if self.store.layout.audit_json == "event_data":
            try:
                json.loads(text)
            except ValueError:
                text = json.dumps(text)
        with self.store.override("write a raw row to") as conn:
            if self.store.layout.audit_json == "event_json":
                cur = conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                                   (when, text))
            else:
                cur = conn.execute("INSERT INTO audit_log (timestamp, event_type, event_data) "
                                   "VALUES (?, ?, ?)", (when, event_type, text))
            return int(cur.lastrowid or 0)

    def session(self, n: int, entry: str, start: datetime, *, minutes: float | None = None,
                quota: float | None = 60, warnings: tuple[int, ...] = (300, 60),
                usage: bool = True, crash: datetime | None = None) -> int:
        """A session that starts at `start` and (with `minutes`) ends, as the service
        writes it: warnings before the deadline, usage, then the end; or that a crash cuts
        short at `crash` (its warnings before then only). Returns its start id."""
        deadline = start + timedelta(minutes=quota) if quota is not None else None
        first = self.add(start, SessionStarted(sid(n), entry, entry.title(), deadline))
        end = start + timedelta(minutes=minutes) if minutes is not None else None
        for t in warnings:
            if deadline is None:
                break
            when = deadline - timedelta(seconds=t, microseconds=-90_000)
            if (end is None or when < end) and (crash is None or when < crash):
                self.add(when, WarningIssued(sid(n), t))
        if end is not None:
            duration = end - start
            if usage:
                self.store.add_usage(entry, end.date(), duration)
            reason = Expired() if deadline is not None and end >= deadline else UserStop()
            self.add(end, SessionEnded(sid(n), entry, reason, duration))
        return first


@pytest.fixture
def seed(tmp_path: Path) -> Iterator[tuple[SqliteStore, Log]]:
    store = SqliteStore.open(tmp_path / "seed.db")
    yield store, Log(store)
    store.close()


def rust_db(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        for ddl in RUST_DDL:
            conn.execute(ddl)
    conn.close()
    return path


@pytest.fixture(params=["seed", "rust"])
def any_layout(request: pytest.FixtureRequest, tmp_path: Path
               ) -> Iterator[tuple[SqliteStore, Log]]:
    path = tmp_path / "db.db"
    if request.param == "rust":
        rust_db(path)
    store = SqliteStore.open(path)
    assert store.layout.value == request.param
    yield store, Log(store)
    store.close()


def kinds(report: RecoveryReport) -> list[str]:
    return [f.kind for f in report.findings]


def statements_of(monkeypatch: pytest.MonkeyPatch, ids: int) -> None:
    """Every read of an id range (or of keyset rows) covers at most `ids` (the store sizes
    each statement, `SqliteStore.read_id_ranges`): many statements per scan."""
    for name in ("SCAN_START", "SCAN_LOWEST", "SCAN_CHUNK", "ROW_START", "ROW_LOWEST",
                 "ROW_CHUNK"):
        monkeypatch.setattr(store_module, name, ids)


# --- the Rust-written fixtures ---------------------------------------------------------------


def test_crash_restarted_has_exactly_one_interrupted_session() -> None:
    truth = expected("rust-crash-restarted")["crashes"][0]["session"]
    with SqliteStore.open(fixture_path("rust-crash-restarted.db"), read_only=True) as store:
        report = recover(store, POLICY, now=LATER)
    assert kinds(report) == ["interrupted_session"]
    f = report.findings[0]
    assert (f.session_id, f.entry_id, f.label) == (CRASHED, "minecraft", "Minecraft")
    assert f.started_at == parse_timestamp(truth["session_started_at"])
    assert format_timestamp(f.started_at).startswith("2026-03-07T15:00:00.137386-05:00")
    # The last sign of life is the 300 s warning at 15:55:00.227 (it proves 15:55:00.137
    # too): 3300 s. The crash at 15:57:00.137 (3420 s lost) is recorded nowhere. The upper
    # bound is the deadline (the restart came later).
    assert (f.min_seconds, f.max_seconds) == (3300, 3600)
    assert f.min_seconds <= truth["unrecorded_secs_to_crash"] <= f.max_seconds
    assert f.max_seconds == truth["unrecorded_secs_upper_bound_capped_by_deadline"]
    assert f.day == date(2026, 3, 7) == date.fromisoformat(truth["day_it_would_have_been_added_to"])
    assert f.evidence == (117, 119, 120)  # start, warning (last sign of life), restart
    assert (f.severity, f.resolved, f.fix, f.recorded_seconds) == ("problem", False, "repair", 0)
    assert report.needs_action and report.notes == ()
    assert report.last_id == 130
    assert [r.end for r in report.runs] == ["clean", "unclean", "clean", "clean", "clean",
                                            "clean", "clean"]
    crashed_run = report.runs[1]
    assert (crashed_run.started_id, crashed_run.ended_id, crashed_run.last_event_id) == (
        110, 120, 119)
    [s] = crashed_run.sessions
    assert (s.status, s.interrupted, s.warnings, s.warning_ids, s.ended_id) == (
        "interrupted", True, (300,), (119,), None)
    assert s.deadline == parse_timestamp(truth["deadline"])
    assert sum(r.session_count for r in report.runs) == 16
    ended = [s for r in report.runs for s in r.sessions if s.status == "ended"]
    assert len(ended) == 15 and all(s.duration is not None for s in ended)


def test_crash_down_is_bounded_by_the_deadline() -> None:
    with SqliteStore.open(fixture_path("rust-crash-down.db"), read_only=True) as store:
        report = recover(store, POLICY, now=LATER)
        assert kinds(report) == ["interrupted_session"]
        f = report.findings[0]
        assert (f.session_id, f.min_seconds, f.max_seconds, f.day) == (
            CRASHED, 3300, 3600, date(2026, 3, 7))
        assert f.evidence == (117, 119) and "has not started again" in f.explanation
        assert report.runs[0].end == "open" and report.runs[0].last_event_id == 119
        # Before its deadline (plus the grace) the same log is a session still running.
        early = recover(store, POLICY, now=at(7, 15, 58, month=3))
        assert early.findings == () and not early.needs_action
        [running] = early.runs[0].sessions
        assert running.status == "running" and running.last_seen_at == parse_timestamp(
            "2026-03-07T15:55:00.227046646-05:00")
        assert any("Minecraft (session 0f8ce7eb, row 117) is running since" in n
                   for n in early.notes)
        assert kinds(recover(store, POLICY, now=at(7, 16, 2, 30, month=3))) == [
            "interrupted_session", "cooldown_missing"]  # (until 16:25 by then)


def test_clean_history_has_no_finding() -> None:
    with SqliteStore.open(fixture_path("rust-clean.db"), read_only=True) as store:
        report = recover(store, POLICY, now=LATER)
    assert report.findings == () and report.notes == () and not report.needs_action
    assert [r.end for r in report.runs] == ["clean"] * 5
    assert sum(r.session_count for r in report.runs) == 14
    assert all(s.status == "ended" for r in report.runs for s in r.sessions)


@pytest.mark.parametrize("name", ["rust-v0.db", "rust-v0-nosession.db"])
def test_format_coverage_fixtures_are_read_sensibly(name: str) -> None:
    with SqliteStore.open(fixture_path(name), read_only=True) as store:
        report = recover(store, now=LATER)
    # Row 21 starts minecraft, row 23 is a clean shutdown: shepherdd's shutdown stops the game
    # without ending the session, so its play was never counted (between the last row before
    # the shutdown, 14:10, and the shutdown, 14:11).
    assert kinds(report) == ["interrupted_session"]
    f = report.findings[0]
    assert (f.session_id, f.min_seconds, f.max_seconds, f.day) == (
        "33333333-3333-4333-8333-333333333333", 600, 660, date(2026, 7, 4))
    # Session 2222 "ends" seven times (one row per end reason): counted once, so usage agrees.
    assert report.notes == ("6 session ends repeat an earlier end of the same session (first: "
                            "id 12, session 22222222-2222-4222-8222-222222222222); only the "
                            "first is counted.",)
    [run] = report.runs
    assert (run.end, run.session_count) == ("clean", 3)
    assert [s.end_reason for s in run.sessions] == ["time limit reached",
                                                    "stopped by the child", None]
    assert run.sessions[0].extended_ids == (8,)
    assert run.sessions[0].deadline == parse_timestamp("2026-01-10T09:45:00-05:00")


# --- repairs ---------------------------------------------------------------------------------


def usage_of(path: Path, entry: str, day: str) -> int | None:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT duration_secs FROM usage WHERE entry_id = ? AND day = ?",
                            (entry, day)).fetchall()
    conn.close()
    return rows[0][0] if rows else None


def test_repair_records_the_play_once(tmp_path: Path) -> None:
    db = copy("rust-crash-restarted.db", tmp_path)
    with SqliteStore.open(db) as store:
        result = repair(store, CRASHED)
        assert (result.entry_id, result.day, result.seconds) == ("minecraft", date(2026, 3, 7),
                                                                 3300)
        assert (result.usage_before, result.usage_after, result.cooldown_until) == (0, 3300, None)
        report = recover(store, POLICY, now=LATER)
        f = report.findings[0]
        assert f.resolved and not report.needs_action and f.fix is None
        assert report.runs[1].sessions[0].resolved
        with pytest.raises(RecoveryConflict) as again:
            repair(store, CRASHED, seconds=3600)
        assert again.value.reason == "resolved"
        [trace] = store.list_overrides()
        assert (trace.change.what, trace.change.entry_id) == ("usage", "minecraft")
        assert json.loads(trace.change.new or "")["session_id"] == CRASHED
    assert usage_of(db, "minecraft", "2026-03-07") == 3300
    with sqlite3.connect(db) as conn:  # the service's log got no row it cannot read
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 130
    conn.close()


def test_repair_bounds_max_and_cooldown(tmp_path: Path) -> None:
    db = copy("rust-crash-restarted.db", tmp_path)
    with SqliteStore.open(db) as store:
        for bad in (3299, 3601, -1):
            with pytest.raises(SerializationError, match="between 3300 and 3600"):
                repair(store, CRASHED, seconds=bad)
        with pytest.raises(SerializationError, match="no policy"):
            repair(store, CRASHED, cooldown=True)
        assert store.list_overrides() == []
        result = repair(store, CRASHED, seconds=3600, cooldown=True, policy=POLICY)
        start = parse_timestamp("2026-03-07T15:00:00.137386-05:00")
        assert result.cooldown_until == start + timedelta(seconds=3600 + 1800)
        assert result.cooldown_previous == "2026-03-06T16:55:11.560722680-05:00"
        assert store.get_cooldown_until("minecraft") == result.cooldown_until
        assert [o.change.what for o in store.list_overrides()] == ["cooldown", "usage"]
    assert usage_of(db, "minecraft", "2026-03-07") == 3600


def test_repair_keeps_a_later_cooldown(tmp_path: Path) -> None:
    db = copy("rust-crash-restarted.db", tmp_path)
    with SqliteStore.open(db) as store:
        later = datetime(2026, 3, 8, 9, 0, tzinfo=EST)
        store.set_cooldown_until("minecraft", later)
        result = repair(store, CRASHED, cooldown=True, policy=POLICY)
        assert result.cooldown_until is None and "already lasts" in (result.cooldown_note or "")
        assert store.get_cooldown_until("minecraft") == later


def test_two_threads_repairing_at_once_count_it_once(tmp_path: Path) -> None:
    db = copy("rust-crash-restarted.db", tmp_path)
    with SqliteStore.open(db, read_only=True) as store:
        report = recover(store, now=LATER)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def fix() -> None:
        with SqliteStore.open(db) as store:
            barrier.wait()
            try:
                repair(store, CRASHED, report=report, seconds=3400)
                outcomes.append("done")
            except RecoveryConflict as exc:
                outcomes.append(exc.reason)

    threads = [threading.Thread(target=fix) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["done", "resolved", "resolved", "resolved"]
    assert usage_of(db, "minecraft", "2026-03-07") == 3400


def test_repair_refuses_when_the_log_changed_since_it_was_read(
        any_layout: tuple[SqliteStore, Log]) -> None:
    store, log = any_layout
    log.add(at(1, 9), ServiceStarted())
    first = log.session(1, "minecraft", at(1, 10), warnings=())  # no end yet
    log.add(at(1, 10, 20), SessionStarted(sid(2), "tuxmath", "Tux", None))  # cuts session 1
    report = recover(store, now=at(1, 12))
    f = report.finding(sid(1))
    assert f is not None and (f.min_seconds, f.max_seconds) == (0, 1200)
    assert report.finding(sid(2)) is None  # unlimited, in the open run: running
    # The service writes the end of session 1 after all (it was running): refuse.
    log.add(at(1, 10, 25), SessionEnded(sid(1), "minecraft", UserStop(), timedelta(minutes=25)))
    with pytest.raises(RecoveryConflict) as exc:
        repair(store, sid(1), report=report)
    assert exc.value.reason == "changed"
    assert store.get_usage("minecraft", date(2026, 6, 1)) == timedelta(0)
    assert store.list_overrides() == [] and first == 2
    # Read again: nothing to repair.
    with pytest.raises(RecoveryConflict) as exc:
        repair(store, sid(1))
    assert exc.value.reason == "not_interrupted"
    with pytest.raises(RecoveryConflict) as exc:
        repair(store, sid(99))
    assert exc.value.reason == "unknown"


def test_seed_layout_repair_is_a_manual_override_event(seed: tuple[SqliteStore, Log]) -> None:
    store, log = seed
    log.add(at(2, 8), ServiceStarted())
    log.session(1, "minecraft", at(2, 9), minutes=30)
    log.session(2, "minecraft", at(2, 10), quota=45, crash=at(2, 10, 42))  # after the 300 s

    log.add(at(2, 12), ServiceStarted())
    log.add(at(2, 13), ServiceStopped())
    report = recover(store, POLICY, now=at(2, 10, 50))
    f = report.finding(sid(2))
    assert f is not None and f.day == date(2026, 6, 2)
    assert (f.min_seconds, f.max_seconds) == (2400, 2700)  # the warning; the deadline
    assert f.evidence == (4, 5, 6)  # start, its warning (the last row), the restart
    assert f.evidence[1:2] == report.runs[1].sessions[1].warning_ids
    # The cooldown the service would have set (start + 2400 s + 30 min) is still ahead.
    cd = report.finding(sid(2), "cooldown_missing")
    assert cd is not None and cd.cooldown_until == at(2, 11, 10)
    result = repair(store, sid(2), seconds=2500, cooldown=True, policy=POLICY, report=report,
                    now=at(2, 10, 50))
    assert result.cooldown_until == at(2, 11, 11, 40)
    events = store.find_audits(limit=3).events
    assert [e.type for e in events] == ["manual_override", "manual_override", "service_stopped"]
    after = recover(store, POLICY, now=at(2, 10, 50))
    assert kinds(after) == ["interrupted_session"] and after.findings[0].resolved
    assert not after.needs_action
    assert store.get_usage("minecraft", date(2026, 6, 2)) == timedelta(seconds=1800 + 2500)


def test_repair_of_lost_usage_and_of_a_missing_cooldown(seed: tuple[SqliteStore, Log]) -> None:
    store, log = seed
    log.add(at(3, 8), ServiceStarted())
    log.session(1, "minecraft", at(3, 9), minutes=20)
    log.session(2, "minecraft", at(3, 10), minutes=15, usage=False)  # the write failed
    log.add(at(3, 11), ServiceStopped())
    report = recover(store, POLICY, now=at(3, 12))
    [lost] = report.findings
    assert (lost.kind, lost.entry_id, lost.day, lost.min_seconds, lost.max_seconds) == (
        "usage_lost", "minecraft", date(2026, 6, 3), 900, 900)
    assert lost.recorded_seconds == 1200 and lost.evidence == (3, 5) and lost.session_id is None
    repair_usage_lost(store, lost)
    with pytest.raises(RecoveryConflict):  # the stored usage is no longer what it saw
        repair_usage_lost(store, lost)
    assert store.get_usage("minecraft", date(2026, 6, 3)) == timedelta(seconds=2100)
    assert recover(store, POLICY, now=at(3, 12)).findings == ()
    # A usage change by hand (the parent forgave 10 min) is not "lost".
    from shepherd_store.overrides import add_usage
    add_usage(store, "minecraft", date(2026, 6, 3), -600, reason="a gift")
    assert recover(store, POLICY, now=at(3, 12)).findings == ()
    # A crash whose cooldown is missing; the session repaired without it.
    log.add(at(3, 13), ServiceStarted())
    log.session(3, "supertuxkart", at(3, 13, 5), quota=45, warnings=())
    log.raw(format_timestamp(at(3, 13, 9)), CLIENT, "client_connected")  # alive then
    log.add(at(3, 13, 15), ServiceStarted())
    report = recover(store, POLICY, now=at(3, 13, 16))
    assert kinds(report) == ["interrupted_session", "cooldown_missing"]
    cd = report.findings[1]
    assert cd.cooldown_until == at(3, 13, 24)  # start + 240 s + 15 min
    repair(store, sid(3), seconds=500, report=report)
    report = recover(store, POLICY, now=at(3, 13, 16))
    cd = report.finding(sid(3), "cooldown_missing")
    assert cd is not None and cd.cooldown_until == at(3, 13, 28, 20)  # from the repair
    result = repair_cooldown(store, cd)
    assert store.get_cooldown_until("supertuxkart") == at(3, 13, 28, 20) == result.cooldown_until
    assert kinds(recover(store, POLICY, now=at(3, 13, 16))) == ["interrupted_session"]
    with pytest.raises(RecoveryConflict):
        repair_cooldown(store, cd)


def test_the_update_sees_a_change_of_stored_usage_alone(any_layout: tuple[SqliteStore, Log]
                                                        ) -> None:
    store, log = any_layout
    log.add(at(13, 8), ServiceStarted())
    log.session(1, "tuxmath", at(13, 9), minutes=20, usage=False)
    scanner = RecoveryScanner(store)
    assert kinds(scanner.scan(now=LATER)) == ["usage_lost"]
    store.add_usage("tuxmath", date(2026, 6, 13), timedelta(minutes=20))  # no row in the log
    assert scanner.update(now=LATER).findings == ()
    with store.override("lower") as conn:  # a tool lowers it behind everyone's back
        conn.execute("UPDATE usage SET duration_secs = 60")
    assert kinds(scanner.update(now=LATER)) == ["usage_lost"]
    assert scanner.update(now=LATER) == recover(store, now=LATER)


def test_this_librarys_own_rows_are_no_sign_of_life(seed: tuple[SqliteStore, Log]) -> None:
    """A cooldown changed by hand while the service was down (a manual_override row in the
    seed layout's log) does not stretch the play of the session the crash interrupted."""
    store, log = seed
    log.add(at(4, 8), ServiceStarted())
    log.session(1, "minecraft", at(4, 9), warnings=(), crash=at(4, 9, 10))
    log.raw(format_timestamp(at(4, 9, 10)), CLIENT, "client_connected")
    from shepherd_store.overrides import set_cooldown
    set_cooldown(store, "minecraft", at(4, 12), expected=None)  # written at the real now
    log.add(at(4, 11), ServiceStarted())
    f = recover(store, now=at(4, 12)).findings[0]
    assert (f.min_seconds, f.max_seconds) == (600, 3600)


# --- rules ----------------------------------------------------------------------------------


def test_unclean_shutdown_without_a_session_is_information(any_layout: tuple[SqliteStore, Log]
                                                           ) -> None:
    store, log = any_layout
    log.add(at(4, 8), ServiceStarted())
    log.session(1, "tuxmath", at(4, 9), minutes=10)
    log.add(at(4, 12), ServiceStarted())
    report = recover(store, now=at(4, 13))
    [f] = report.findings
    assert (f.kind, f.severity, f.session_id, f.entry_id, f.min_seconds, f.max_seconds,
            f.day, f.resolved) == ("unclean_shutdown", "info", None, None, None, None, None,
                                   False)
    assert f.evidence == (1, 3, 4) and not report.needs_action
    assert [r.end for r in report.runs] == ["open", "unclean"]


def test_a_shutdown_during_a_session_loses_its_play(any_layout: tuple[SqliteStore, Log]) -> None:
    store, log = any_layout
    log.add(at(5, 8), ServiceStarted())
    log.session(1, "minecraft", at(5, 9), warnings=(300,))  # warned at 9:55
    log.add(at(5, 9, 57), ServiceStopped())  # shepherdd stops the game, writes no end
    f = recover(store, now=at(5, 20)).findings[0]
    assert (f.kind, f.min_seconds, f.max_seconds) == ("interrupted_session", 3300, 3420)
    assert "shut down" in f.explanation


def test_bounds_of_an_unlimited_session(any_layout: tuple[SqliteStore, Log]) -> None:
    store, log = any_layout
    log.add(at(6, 8), ServiceStarted())
    log.session(1, "krita", at(6, 9), quota=None)
    log.raw(format_timestamp(at(6, 9, 10)), json.dumps(
        {"type": "client_connected", "client_id": "c", "role": "Shell", "uid": 1000},
        separators=(",", ":")), "client_connected")
    three_days = recover(store, now=at(9, 9))
    assert three_days.findings == ()  # the log cannot tell it from one still running
    assert three_days.runs[0].sessions[0].status == "running"
    assert "with no time limit; the service has written nothing since" in three_days.notes[0]
    log.add(at(9, 10), ServiceStarted())  # back: now it is provably interrupted
    f = recover(store, now=at(9, 11)).findings[0]
    assert (f.min_seconds, f.max_seconds) == (600, 3 * 86400 + 3600)


def test_extension_moves_the_upper_bound(any_layout: tuple[SqliteStore, Log]) -> None:
    store, log = any_layout
    log.add(at(7, 8), ServiceStarted())
    log.session(1, "minecraft", at(7, 9), quota=30, warnings=(300,))
    log.add(at(7, 9, 26), SessionExtended(sid(1), timedelta(minutes=15), at(7, 9, 45)))
    log.add(at(7, 11), ServiceStarted())
    f = recover(store, now=at(7, 12)).findings[0]
    # Last row: the extension at 9:26; upper bound: the extended deadline 9:45.
    assert (f.min_seconds, f.max_seconds) == (26 * 60, 45 * 60)
    assert f.evidence == (2, 3, 4, 5)


def test_credited_day_follows_the_offset_the_log_shows(any_layout: tuple[SqliteStore, Log]
                                                       ) -> None:
    """A session over the spring-forward night: the service writes its local date at the
    end, in the offset then (EDT), which its last rows show."""
    store, log = any_layout
    log.add(at(7, 23, tz=EST, month=3), ServiceStarted())
    log.session(1, "krita", at(7, 23, 30, tz=EST, month=3), quota=None)
    log.raw(format_timestamp(at(9, 0, 30, 0.003, tz=EDT, month=3)), json.dumps(
        {"type": "client_connected", "client_id": "c", "role": "Shell", "uid": 1000},
        separators=(",", ":")), "client_connected")
    log.add(at(9, 8, tz=EDT, month=3), ServiceStarted())
    f = recover(store, now=at(10, 0, month=3)).findings[0]
    assert f.min_seconds == 86_400 and f.day == date(2026, 3, 9)
    assert credited_day(f, 0) == date(2026, 3, 7)  # ended at once: the start's own day
    assert credited_day(f, 86_400 - 3600) == date(2026, 3, 8)


def test_credited_day_in_this_machines_zone(any_layout: tuple[SqliteStore, Log],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """No row after the spring-forward change before the end: when the rows agree with this
    machine's zone (New York here), its offset at the end decides (00:20 EDT: 03-09)."""
    store, log = any_layout
    log.add(at(7, 23, tz=EST, month=3), ServiceStarted())
    log.session(1, "krita", at(7, 23, 30, tz=EST, month=3), quota=None)
    log.raw(format_timestamp(at(8, 0, 30, tz=EST, month=3)), CLIENT, "client_connected")
    log.add(at(9, 8, tz=EDT, month=3), ServiceStarted())
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        f = recover(store, now=at(10, 0, month=3)).findings[0]
        assert f.min_seconds == 3600 and f.day == date(2026, 3, 8)
        assert credited_day(f, 85_800) == date(2026, 3, 9)  # 2026-03-09 00:20 EDT
        monkeypatch.setenv("TZ", "Europe/Paris")  # rows from elsewhere: the rows' offsets
        time.tzset()
        assert credited_day(f, 85_800) == date(2026, 3, 8)  # 23:20 in the last row's EST
    finally:
        monkeypatch.undo()
        time.tzset()


def test_the_update_sees_a_later_start_cut_an_open_session(any_layout: tuple[SqliteStore, Log]
                                                           ) -> None:
    store, log = any_layout
    log.add(at(12, 10), ServiceStarted())
    log.session(1, "minecraft", at(12, 10, 1), quota=30, warnings=())
    scanner = RecoveryScanner(store)
    first = scanner.scan(now=at(12, 12))
    assert first.findings[0].evidence == (2,)  # deadline long past: interrupted
    log.add(at(12, 11), SessionStarted(sid(2), "tuxmath", "Tux Math", at(12, 11, 30)))
    assert scanner.update(now=at(12, 12)) == recover(store, now=at(12, 12))
    assert scanner.report is not None
    f = scanner.report.finding(sid(1))
    assert f is not None and f.evidence == (2, 3) and "another session started" in f.explanation


def test_since_limits_the_runs(any_layout: tuple[SqliteStore, Log]) -> None:
    store, log = any_layout
    for day in (1, 2, 3):
        log.add(at(day, 8), ServiceStarted())
        log.session(day, "tuxmath", at(day, 9), quota=45)
    full = recover(store, now=at(4, 0))
    assert len(full.runs) == 3 and len(full.findings) == 3
    since = recover(store, now=at(4, 0), since=at(2, 12))
    assert [r.started_at for r in since.runs] == [at(3, 8), at(2, 8)]
    assert [f.session_id for f in since.findings] == [sid(3), sid(2)]
    assert since.notes == ()  # no "pruned beginning": the start was chosen


# --- pathological logs ------------------------------------------------------------------------


def test_pathological_rows_are_notes_never_exceptions(any_layout: tuple[SqliteStore, Log]
                                                      ) -> None:
    store, log = any_layout
    log.session(1, "minecraft", at(8, 7), minutes=5)  # before any start: pruned beginning
    log.add(at(8, 8), SessionEnded(sid(2), "minecraft", UserStop(), timedelta(minutes=1)))
    log.add(at(8, 8, 1), ServiceStarted())
    log.session(3, "tuxmath", at(8, 9), minutes=10)
    log.session(3, "tuxmath", at(8, 9, 20), minutes=5)  # the same session id again
    log.raw(format_timestamp(at(8, 9, 30)), '{"type":"session_started","session_id":', "x")
    log.raw(format_timestamp(at(8, 9, 31)), '{"type":"volume_changed","level":3}', "x")
    log.raw("yesterday-ish", '{"type":"service_started"}', "service_started")
    log.raw(format_timestamp(at(8, 9, 40)), '[1, 2]', "x")
    log.add(at(8, 6), SessionStarted(sid(4), "minecraft", "Minecraft", at(8, 7)))  # clock back
    log.add(at(8, 6, 1), WarningIssued(sid(5), 60))  # no such session
    log.add(at(8, 10), ServiceStopped())
    log.add(at(8, 10, 1), ServiceStopped())
    log.add(at(8, 10, 2), SessionStarted(sid(6), "krita", "Krita", None))  # while stopped
    report = recover(store, now=at(9, 0))
    notes = "\n".join(report.notes)
    for expected_text in (
            "does not begin with the service starting",
            "The clock went back by more than 2 min once (first: by 3 h 40 min",
            "1 session start reuses a session id already started",
            "1 session end names a session the log never started",
            "2 rows cannot be read and they are ignored",
            "1 row has an event type this library does not know",
            "type volume_changed",
            "1 row has a time that cannot be read",
            "1 service_stopped row ends no run",
            "1 session started while the service was stopped"):
        assert expected_text in notes, (expected_text, notes)
    # Session 4 started with its deadline an hour "before" row 10's time: a problem of the
    # clock, reported as an interrupted session in a clean run, never a crash.
    assert sid(4) in {f.session_id for f in report.findings}


def test_an_end_written_after_a_restart_ends_the_session(any_layout: tuple[SqliteStore, Log]
                                                         ) -> None:
    store, log = any_layout
    log.add(at(11, 8), ServiceStarted())
    log.session(2, "tuxmath", at(11, 8, 10), minutes=5)  # an ordinary end that day first
    log.session(1, "minecraft", at(11, 9), warnings=())
    log.add(at(11, 9, 30), ServiceStarted())
    log.add(at(11, 9, 31), SessionEnded(sid(1), "minecraft", UserStop(),
                                        timedelta(minutes=31)))
    store.add_usage("minecraft", date(2026, 6, 11), timedelta(minutes=31))
    report = recover(store, now=at(11, 12))
    assert kinds(report) == ["unclean_shutdown"]  # (the restart itself)
    assert report.runs[1].sessions[0].status == "ended"
    assert report.notes == ("1 session ended after the service had stopped or restarted "
                            f"(first: id 6, session {sid(1)}).",)


def test_a_session_started_while_another_runs_cuts_it(any_layout: tuple[SqliteStore, Log]) -> None:
    store, log = any_layout
    log.add(at(10, 8), ServiceStarted())
    log.add(at(10, 9), SessionStarted(sid(1), "minecraft", "Minecraft", at(10, 10)))
    log.session(2, "tuxmath", at(10, 9, 20), minutes=10)
    report = recover(store, now=at(10, 9, 31))
    f = report.finding(sid(1))
    assert f is not None and (f.min_seconds, f.max_seconds) == (0, 1200)
    assert "another session started" in f.explanation
    assert any("1 session started while another was still running" in n for n in report.notes)


# --- the scan: incremental, cancel, statements ----------------------------------------------


def random_history(rng: random.Random, log: Log, n: int, t0: datetime) -> Iterator[None]:
    """Append `n` rows of a plausible history with crashes and oddities; yield after each."""
    t = t0
    running: str | None = None
    deadline: datetime | None = None
    started_ids: list[str] = []
    for _ in range(n):
        t += timedelta(seconds=rng.randrange(1, 900))
        roll = rng.random()
        if roll < 0.06:
            log.add(t, ServiceStarted())  # a crash if anything was running
            running = None
        elif roll < 0.10:
            log.add(t, ServiceStopped())
            running = None
        elif running is None and roll < 0.40:
            running = sid(rng.randrange(10**9)) if rng.random() > 0.03 or not started_ids \
                else rng.choice(started_ids)
            started_ids.append(running)
            deadline = t + timedelta(minutes=rng.choice((15, 30, 45))) \
                if rng.random() < 0.85 else None
            log.add(t, SessionStarted(running, rng.choice(("a", "b", "c")), "L", deadline))
        elif running is not None and roll < 0.55:
            log.add(t, WarningIssued(running, rng.choice((300, 60))))
        elif running is not None and roll < 0.58 and deadline is not None:
            deadline += timedelta(minutes=10)
            log.add(t, SessionExtended(running, timedelta(minutes=10), deadline))
        elif running is not None and roll < 0.80:
            secs = rng.randrange(0, 3000)
            log.store.add_usage("a", t.date(), timedelta(seconds=secs - rng.choice((0, 0, 5))))
            log.add(t, SessionEnded(running, "a", UserStop(), timedelta(seconds=secs)))
            running = None
        elif roll < 0.83:
            log.raw(format_timestamp(t), rng.choice(('{"type":"x_new"}', "not json", "{}")))
        elif roll < 0.85:
            t -= timedelta(hours=rng.choice((1, 3)))  # the clock is set back
        elif roll < 0.87:
            log.add(t, SessionEnded(sid(rng.randrange(10**9)), "b", Expired(),
                                    timedelta(seconds=30)))
        else:
            log.raw(format_timestamp(t), json.dumps(
                {"type": "client_connected", "client_id": "c", "role": "Shell", "uid": None},
                separators=(",", ":")), "client_connected")
        yield


@pytest.mark.parametrize("seed_value", range(4))
def test_incremental_update_equals_a_fresh_scan(any_layout: tuple[SqliteStore, Log],
                                                monkeypatch: pytest.MonkeyPatch,
                                                seed_value: int) -> None:
    monkeypatch.setattr(recovery_module, "DETAIL_RUNS", 3)  # runs leave the detail window
    # Every read looks for the runs it will push out of the detail window (whose ordinary
    # sessions it then only counts), however short.
    monkeypatch.setattr(recovery_module, "_DETAIL_GUESS_MIN", 0)
    statements_of(monkeypatch, 7)  # many statements per scan
    store, log = any_layout
    rng = random.Random(seed_value)
    now = at(30, 0)
    scanner = RecoveryScanner(store, POLICY)
    history = random_history(rng, log, 160, at(1, 6))
    done = False
    while not done:
        for _ in range(rng.randrange(1, 25)):
            if next(history, StopIteration) is StopIteration:
                done = True
                break
        if rng.random() < 0.3:  # a repair in between
            seen = scanner.update(now=now)
            open_ = [f for f in seen.findings
                     if f.kind == "interrupted_session" and not f.resolved and f.fix]
            if open_:
                repair(store, open_[0].session_id or "", report=seen, now=now)
        incremental = scanner.update(now=now)
        fresh = recover(store, POLICY, now=now)
        assert incremental == fresh
    with monkeypatch.context() as m:  # every session kept until its run leaves the window
        m.setattr(recovery_module, "_DETAIL_GUESS_MIN", 1 << 62)
        assert recover(store, POLICY, now=now) == fresh
    assert fresh.runs and any(f.kind == "interrupted_session" for f in fresh.findings)
    old = [r for r in fresh.runs if not r.detailed]
    assert old, "the history is long enough to leave runs out of the detail window"
    with_all = RecoveryScanner(store, POLICY)
    monkeypatch.setattr(recovery_module, "DETAIL_RUNS", 10_000)
    everything = with_all.scan(now=now)
    for run in old:
        [same] = [r for r in everything.runs if r.first_id == run.first_id]
        assert scanner.run_sessions(run) == same.sessions


def test_cancel_then_update_continues(any_layout: tuple[SqliteStore, Log],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    statements_of(monkeypatch, 5)
    store, log = any_layout
    for _ in random_history(random.Random(3), log, 80, at(1, 6)):
        pass
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> bool:
        seen.append((done, total))
        return len(seen) < 3

    scanner = RecoveryScanner(store)
    partial = scanner.scan(progress, now=LATER)
    assert not partial.complete and seen[-1][0] == 15 and partial.last_id == 15
    stop = scanner.scan(cancel=lambda: True, now=LATER)
    assert not stop.complete and stop.last_id == 0
    assert scanner.update(now=LATER) == recover(store, now=LATER)


def test_every_read_is_one_short_statement(monkeypatch: pytest.MonkeyPatch) -> None:
    statements_of(monkeypatch, 10)
    with SqliteStore.open(fixture_path("rust-crash-restarted.db"), read_only=True) as store:
        statements: list[tuple[str, tuple[Any, ...]]] = []
        store.statement_observer = lambda sql, params, _s: statements.append((sql, params))
        recover(store, now=LATER)
    scans = [(sql, p) for sql, p in statements if "FROM audit_log WHERE id > ? AND id <= ?" in sql]
    assert len(scans) >= 13
    assert all(p[1] - p[0] <= 10 for _sql, p in scans)
    for sql, _p in statements:  # everything else is a point or LIMITed read, or a small table
        assert "audit_log" not in sql or "id <= ?" in sql or "LIMIT" in sql or \
            "max(id)" in sql or "min(id)" in sql, sql


def _bounded_statements(seen: list[tuple[str, tuple[Any, ...]]], ids: int) -> list[str]:
    """What each statement read, checked to be bounded: `ids` ids of the log (a range, or
    the ranges of one batch), `ids` usage rows, a few rows (LIMIT), or one seek per item of
    a batch. Returns their kinds, in order."""
    kinds_seen = []
    for sql, params in seen:
        if "json_each" in sql:
            batch = json.loads(params[0])
            if "warning_issued" in sql:  # warnings of sessions: [after, up to, session]
                assert sum(hi - lo for lo, hi, _sid in batch) <= ids, (sql, params)
                kinds_seen.append("warning batch")
            else:  # the row before each restart: one seek each
                assert "LIMIT 1" in sql and len(batch) <= recovery_module._ALIVE_BATCH
                kinds_seen.append("alive batch")
        elif "FROM audit_log WHERE id > ? AND id <= ?" in sql:
            assert 0 < params[1] - params[0] <= ids, (sql, params)
            kinds_seen.append("log range" if sql.startswith("SELECT id, timestamp, ")
                              else "other range")
        elif "FROM usage" in sql:
            assert "LIMIT ?" in sql and params[-1] <= ids, (sql, params)
            kinds_seen.append("usage")
        else:
            assert "audit_log" not in sql or "LIMIT" in sql or "max(id)" in sql, sql
            kinds_seen.append("other")
    return kinds_seen


def test_a_scan_is_short_statements_with_the_lock_free_between(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The structure of the scan and of its updates (DESIGN.md, "Short reads"): in the
    service's rollback-journal mode, on a few thousand rows with tiny statements, each
    statement reads a bounded range of ids (or of usage rows), none leaves a read
    transaction open, another connection can take the exclusive lock (as the service's
    commit does) between any two, the ranges of the log follow each other without a gap
    or an overlap, and the answer is the one-statement answer. How long statements take is
    measured by benchmarks/bench_service_latency.py, never asserted here."""
    path = rust_db(tmp_path / "db.db")
    monkeypatch.setattr(recovery_module, "DETAIL_RUNS", 5)  # old runs' warnings: batches
    monkeypatch.setattr(recovery_module, "_ALIVE_BATCH", 4)
    with SqliteStore.open(path) as writer:
        log = Log(writer)
        history = random_history(random.Random(8), log, 3200, at(1, 6))
        for _ in itertools.islice(history, 3000):
            pass
        for i in range(300):  # more usage than a statement reads
            writer.add_usage(f"z{i % 7}", date(2025, 1, 1) + timedelta(days=i),
                             timedelta(minutes=5))
        top = writer.audit_id_range()[1]  # type: ignore[index]
        with SqliteStore.open(path, read_only=True) as store:
            assert store.journal_mode == "delete"
            whole = recover(store, POLICY, now=LATER)  # (the default sizes: one statement)
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("PRAGMA busy_timeout = 0")
            seen: list[tuple[str, tuple[Any, ...]]] = []

            def observe(sql: str, params: tuple[Any, ...], seconds: float) -> None:
                assert seconds >= 0
                conn, _lock = store._reader()
                assert not conn.in_transaction, "a read transaction outlived its statement"
                seen.append((sql, params))
                other.execute("BEGIN EXCLUSIVE")  # "database is locked" if still held
                other.execute("COMMIT")

            store.statement_observer = observe
            ids = 40
            statements_of(monkeypatch, ids)
            monkeypatch.setattr(recovery_module, "_WARN_BATCH_IDS", ids)
            scanner = RecoveryScanner(store, POLICY)
            assert scanner.scan(now=LATER) == whole
            kinds_seen = _bounded_statements(seen, ids)
            ranges = [p[:2] for (sql, p), k in zip(seen, kinds_seen, strict=True)
                      if k == "log range"]
            assert ranges[0][0] == 0 and ranges[-1][1] == top and len(ranges) >= top // ids
            assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
            for kind in ("usage", "alive batch", "warning batch"):
                assert kinds_seen.count(kind) >= 3, (kind, kinds_seen.count(kind))
            # The update reads the rows added since, in as short statements.
            seen.clear()
            for _ in history:
                pass
            updated = scanner.update(now=LATER)
            kinds_seen = _bounded_statements(seen, ids)
            ranges = [p[:2] for (sql, p), k in zip(seen, kinds_seen, strict=True)
                      if k == "log range"]
            assert ranges[0][0] == top and ranges[-1][1] == updated.last_id > top + 4 * ids
            assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
            store.statement_observer = None
            assert updated == recover(store, POLICY, now=LATER)
            other.close()


@pytest.mark.parametrize("encoding", ["UTF-16le", "UTF-16be"])
def test_a_utf16_database_is_read_alike(tmp_path: Path, encoding: str) -> None:
    """The scan's SQL compares stored bytes in a UTF-8 database only: a UTF-16 one (another
    tool may have made it) gives the same report."""
    reports = []
    for name, pragma in (("utf8.db", "UTF-8"), ("utf16.db", encoding)):
        path = tmp_path / name
        with sqlite3.connect(path) as conn:
            conn.execute(f"PRAGMA encoding = '{pragma}'")
            for ddl in RUST_DDL:
                conn.execute(ddl)
        conn.close()
        with SqliteStore.open(path) as store:
            for _ in random_history(random.Random(2), Log(store), 400, at(1, 6)):
                pass
            assert store._read("PRAGMA encoding")[0][0] == pragma
            reports.append(recover(store, POLICY, now=LATER))
    assert reports[0] == reports[1] and reports[0].findings


def test_usage_is_read_in_short_statements_and_exactly(any_layout: tuple[SqliteStore, Log],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The stored usage, as one statement reads it, at every update: values changed, rows
    added and removed, keys that are not text, hold the separators or are not UTF-8."""
    store, _log = any_layout
    statements_of(monkeypatch, 16)
    scanner = RecoveryScanner(store)

    def one_statement() -> dict[str, int]:
        return dict(store._read("SELECT entry_id || char(31) || day, duration_secs FROM usage "
                                "WHERE typeof(duration_secs) = 'integer'"))

    def edit(sql: str, *params: Any) -> None:
        with store.override("edit usage in") as conn:
            conn.execute(sql, params)

    for i in range(100):
        store.add_usage(f"e{i % 3}", date(2026, 1, 1) + timedelta(days=i), timedelta(minutes=1))
    edits: list[tuple[str, tuple[Any, ...]]] = [
        ("UPDATE usage SET duration_secs = duration_secs + 7 WHERE day = '2026-02-01'", ()),
        ("UPDATE usage SET day = '2027-01-01' WHERE day = '2026-02-02'", ()),
        ("DELETE FROM usage WHERE day = '2026-02-03'", ()),
        ("INSERT INTO usage VALUES (?, '2026-05-05', 5)", ("with\x1eseparator",)),
        ("INSERT INTO usage VALUES (?, '2026-05-05', 6)", ("with\x1fother",)),
        ("INSERT INTO usage VALUES (CAST(? AS BLOB), '2026-05-06', 7)", (b"caf\xe9",)),
        ("INSERT INTO usage VALUES (42, '2026-05-07', 8)", ()),
        ("UPDATE usage SET duration_secs = 'x' WHERE day = '2026-01-09'", ()),
        ("UPDATE usage SET duration_secs = 2.5 WHERE day = '2026-01-10'", ()),
        ("DELETE FROM usage WHERE rowid = (SELECT max(rowid) FROM usage)", ()),
        ("INSERT INTO usage (rowid, entry_id, day, duration_secs) "
         "VALUES (-5, 'first', '2026-01-01', 3)", ()),
    ]
    previous = one_statement()
    assert scanner._usage() == (previous, set(previous))
    for sql, params in edits:
        edit(sql, *params)
        now = one_statement()
        usage, changed = scanner._usage()
        assert usage == now, sql
        assert {k for k, _v in now.items() ^ previous.items()} <= changed, sql
        previous = now
    assert scanner._usage() == (previous, set())


def test_a_read_that_failed_half_way_is_read_again(any_layout: tuple[SqliteStore, Log],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A lookup that fails in the middle of a chunk (the lock, say) leaves rows of it read:
    the next update reads the log anew rather than count them twice."""
    store, log = any_layout
    for _ in random_history(random.Random(6), log, 300, at(1, 6)):
        pass
    scanner = RecoveryScanner(store)

    def locked(self: RecoveryScanner, state: Any) -> None:
        raise StoreError("the database is locked")

    with monkeypatch.context() as m:
        m.setattr(RecoveryScanner, "_resolve_alive", locked)
        with pytest.raises(StoreError):
            scanner.scan(now=LATER)
    assert scanner.update(now=LATER) == recover(store, now=LATER)


def test_the_update_reads_only_new_rows(any_layout: tuple[SqliteStore, Log],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    store, log = any_layout
    for _ in random_history(random.Random(5), log, 60, at(1, 6)):
        pass
    scanner = RecoveryScanner(store)
    before = scanner.scan(now=LATER)
    ranges: list[tuple[Any, ...]] = []
    store.statement_observer = lambda sql, params, _s: (
        ranges.append(params) if "FROM audit_log WHERE id > ? AND id <= ?" in sql else None)
    assert scanner.update(now=LATER) == before and ranges == []
    log.add(at(29, 0), ServiceStarted())
    after = scanner.update(now=LATER)
    assert after.last_id == before.last_id + 1
    assert {p[:2] for p in ranges} == {(before.last_id, before.last_id + 1)}


def test_a_log_that_shrank_is_read_again(tmp_path: Path) -> None:
    db = copy("rust-crash-restarted.db", tmp_path)
    with SqliteStore.open(db) as store:
        scanner = RecoveryScanner(store)
        assert scanner.scan(now=LATER).needs_action
        with store.override("truncate") as conn:
            conn.execute("DELETE FROM audit_log WHERE id > 109")
        report = scanner.update(now=LATER)
        assert report.findings == () and report.last_id == 109
        assert report == recover(store, now=LATER)


def test_policy_file_labels(tmp_path: Path) -> None:
    policy = load_policy(FIXTURES / "shepherdd-config.example.toml")
    with SqliteStore.open(fixture_path("rust-crash-restarted.db"), read_only=True) as store:
        f = recover(store, policy, now=LATER).findings[0]
    assert f.label == (policy.label("minecraft") or "Minecraft")


def test_exported_from_the_package_but_imported_on_first_use() -> None:
    import subprocess
    import sys

    code = ("import sys, shepherd_store as s; assert 'shepherd_store.recovery' not in "
            "sys.modules; assert s.RecoveryScanner is __import__('shepherd_store.recovery', "
            "fromlist=['x']).RecoveryScanner; assert 'recover' in s.__all__")
    assert subprocess.run([sys.executable, "-c", code], cwd=FIXTURES.parent.parent,
                          timeout=60).returncode == 0


def test_the_fast_timestamp_parse_agrees_with_parse_timestamp() -> None:
    rng = random.Random(11)
    texts = ["2026-03-07T15:00:00-05:00", "2026-03-07T15:00:00.137386072-05:00",
             "2026-03-07T15:00:00.5+00:00", "2026-03-07T15:00:00.-05:00",
             "2026-02-30T10:00:00-05:00",
             "2026-03-07T24:00:00-05:00", "2026-03-07T15:00:60-05:00", "2026-03-07T15:00:00Z",
             "2026-03-07 15:00:00-05:00", "2026-03-07T15:00:00.1234567890-05:00",
             "2026-03-07T15:00:00-24:00", "2026-03-07T15:00:00+13:59", "٢٠٢٦-03-07T15:00:00-05:00"]
    for _ in range(2000):
        frac = "" if rng.random() < 0.3 else "." + "".join(
            rng.choice("0123456789") for _ in range(rng.randint(1, 9)))
        texts.append(f"{rng.randint(1, 9999):04d}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}"
                     f"T{rng.randint(0, 25):02d}:{rng.randint(0, 61):02d}:{rng.randint(0, 61):02d}"
                     f"{frac}{rng.choice('+-')}{rng.randint(0, 25):02d}:{rng.randint(0, 61):02d}")
    for text in texts:
        try:
            expected_value: datetime | None = parse_timestamp(text)
        except ValueError:
            expected_value = None
        got = recovery_module._parse_ts(text)
        assert got == expected_value and (got is None or got.utcoffset() ==
                                          expected_value.utcoffset()), text  # type: ignore[union-attr]
