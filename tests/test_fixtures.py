"""The fixtures written by the real Rust store are read exactly, fact by fact."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from shepherd_store import (
    AdminStop,
    AuditEvent,
    AuditFilter,
    ClientConnected,
    ClientDisconnected,
    ConfigReloaded,
    Expired,
    LaunchDenied,
    LaunchFailed,
    Layout,
    PolicyLoaded,
    PolicyStop,
    ProcessExited,
    ServiceShutdown,
    ServiceStarted,
    ServiceStopped,
    SessionEnded,
    SessionExtended,
    SessionSnapshot,
    SessionStarted,
    SqliteStore,
    UnknownEvent,
    UserStop,
    WarningIssued,
)

EST = timezone(timedelta(hours=-5))
EDT = timezone(timedelta(hours=-4))
S1 = "11111111-1111-4111-8111-111111111111"
S2 = "22222222-2222-4222-8222-222222222222"
S3 = "33333333-3333-4333-8333-333333333333"
CA = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
CB = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def store(rust_v0: Path) -> Iterator[SqliteStore]:
    with SqliteStore.open(rust_v0, read_only=True) as s:
        yield s


@pytest.fixture
def events(store: SqliteStore) -> dict[int, AuditEvent]:
    return {e.id: e for e in store.get_recent_audits(1000)}


def test_layout_and_journal_mode(store: SqliteStore) -> None:
    assert store.layout is Layout.RUST
    assert store.journal_mode == "delete"


def test_all_23_events_newest_first(store: SqliteStore) -> None:
    got = store.get_recent_audits(1000)
    assert [e.id for e in got] == list(range(23, 0, -1))
    assert not any(isinstance(e.event, UnknownEvent) for e in got)
    for e in got:
        assert e.timestamp.utcoffset() is not None


def test_every_event_decoded_exactly(events: dict[int, AuditEvent]) -> None:
    d = datetime
    expected = {
        1: (d(2026, 1, 10, 8, 0, 0, tzinfo=EST), ServiceStarted()),
        2: (d(2026, 1, 10, 8, 0, 1, tzinfo=EST), PolicyLoaded(entry_count=3)),
        3: (d(2026, 1, 10, 8, 0, 2, tzinfo=EST), ClientConnected(CA, "Shell", 1000)),
        4: (d(2026, 1, 10, 8, 0, 3, tzinfo=EST), ClientConnected(CB, "Admin", None)),
        5: (d(2026, 1, 10, 9, 0, tzinfo=EST),
            SessionStarted(S1, "tuxmath", "Tux Math", d(2026, 1, 10, 9, 30, tzinfo=EST))),
        6: (d(2026, 1, 10, 9, 25, tzinfo=EST), WarningIssued(S1, 300)),
        7: (d(2026, 1, 10, 9, 29, tzinfo=EST), WarningIssued(S1, 60)),
        8: (d(2026, 1, 10, 9, 29, 30, tzinfo=EST),
            SessionExtended(S1, timedelta(seconds=900), d(2026, 1, 10, 9, 45, tzinfo=EST))),
        9: (d(2026, 1, 10, 9, 45, tzinfo=EST),
            SessionEnded(S1, "tuxmath", Expired(), timedelta(seconds=2700))),
        10: (d(2026, 1, 10, 10, 0, 0, 123456, tzinfo=EST),
             SessionStarted(S2, "scummvm-puttputt", "Putt-Putt", None)),
        11: (d(2026, 1, 10, 10, 20, 34, 500000, tzinfo=EST),
             SessionEnded(S2, "scummvm-puttputt", UserStop(),
                          timedelta(seconds=1234, microseconds=376543))),
        12: (d(2026, 1, 10, 10, 21, tzinfo=EST),
             SessionEnded(S2, "scummvm-puttputt", AdminStop(), timedelta(seconds=60))),
        13: (d(2026, 1, 10, 10, 22, tzinfo=EST),
             SessionEnded(S2, "scummvm-puttputt", ProcessExited(0),
                          timedelta(seconds=90, microseconds=700000))),
        14: (d(2026, 1, 10, 10, 23, tzinfo=EST),
             SessionEnded(S2, "scummvm-puttputt", ProcessExited(None), timedelta(0))),
        15: (d(2026, 1, 10, 10, 24, tzinfo=EST),
             SessionEnded(S2, "scummvm-puttputt", PolicyStop(), timedelta(seconds=5))),
        16: (d(2026, 1, 10, 10, 25, tzinfo=EST),
             SessionEnded(S2, "scummvm-puttputt", ServiceShutdown(), timedelta(seconds=6))),
        17: (d(2026, 1, 10, 10, 26, tzinfo=EST),
             SessionEnded(S2, "scummvm-puttputt",
                          LaunchFailed("spawn failed: No such file or directory (os error 2)"),
                          timedelta(0))),
        18: (d(2026, 1, 10, 11, 0, tzinfo=EST),
             LaunchDenied("tuxmath", (
                 "QuotaExhausted { used: 3600s, quota: 3600s }",
                 "CooldownActive { available_at: 2026-01-10T12:00:00-05:00 }",
             ))),
        19: (d(2026, 1, 10, 11, 5, tzinfo=EST), ConfigReloaded(True)),
        20: (d(2026, 1, 10, 11, 6, tzinfo=EST), ConfigReloaded(False)),
        21: (d(2026, 7, 4, 14, 0, tzinfo=EDT),
             SessionStarted(S3, "minecraft", "Minecraft", d(2026, 7, 4, 15, 0, tzinfo=EDT))),
        22: (d(2026, 7, 4, 14, 10, tzinfo=EDT), ClientDisconnected(CA)),
        23: (d(2026, 7, 4, 14, 11, tzinfo=EDT), ServiceStopped()),
    }
    assert set(events) == set(expected)
    for eid, (stamp, event) in expected.items():
        assert events[eid].event == event, eid
        assert events[eid].timestamp == stamp, eid
        assert events[eid].timestamp.utcoffset() == stamp.utcoffset(), eid


def test_id10_nanoseconds_truncated_to_microseconds(events: dict[int, AuditEvent]) -> None:
    ts = events[10].timestamp
    assert ts.isoformat() == "2026-01-10T10:00:00.123456-05:00"
    ev = events[10].event
    assert isinstance(ev, SessionStarted) and ev.deadline is None


def test_id11_duration_truncated(events: dict[int, AuditEvent]) -> None:
    ev = events[11].event
    assert isinstance(ev, SessionEnded)
    assert ev.duration == timedelta(seconds=1234, microseconds=376543)
    assert events[11].timestamp.microsecond == 500000


def test_id13_and_id14_process_exited(events: dict[int, AuditEvent]) -> None:
    e13, e14 = events[13].event, events[14].event
    assert isinstance(e13, SessionEnded) and isinstance(e14, SessionEnded)
    assert e13.reason == ProcessExited(exit_code=0)
    assert e13.duration.total_seconds() == pytest.approx(90.7)
    assert e14.reason == ProcessExited(exit_code=None)
    assert e14.reason != ProcessExited(exit_code=0)


def test_id17_launch_failed_error_text(events: dict[int, AuditEvent]) -> None:
    ev = events[17].event
    assert isinstance(ev, SessionEnded) and isinstance(ev.reason, LaunchFailed)
    assert ev.reason.error == "spawn failed: No such file or directory (os error 2)"


def test_id18_launch_denied_reasons_tuple(events: dict[int, AuditEvent]) -> None:
    ev = events[18].event
    assert isinstance(ev, LaunchDenied)
    assert isinstance(ev.reasons, tuple) and len(ev.reasons) == 2
    assert ev.reasons[0] == "QuotaExhausted { used: 3600s, quota: 3600s }"


def test_id4_uid_none_and_id3_uid(events: dict[int, AuditEvent]) -> None:
    e3, e4 = events[3].event, events[4].event
    assert isinstance(e3, ClientConnected) and e3.uid == 1000
    assert isinstance(e4, ClientConnected) and e4.uid is None and e4.role == "Admin"


def test_id21_july_offset(events: dict[int, AuditEvent]) -> None:
    assert events[21].timestamp.utcoffset() == timedelta(hours=-4)
    assert events[20].timestamp.utcoffset() == timedelta(hours=-5)
    ev = events[21].event
    assert isinstance(ev, SessionStarted)
    assert ev.deadline is not None and ev.deadline.utcoffset() == timedelta(hours=-4)


def test_event_types(events: dict[int, AuditEvent]) -> None:
    assert events[1].type == "service_started"
    assert events[9].type == "session_ended"
    assert events[22].type == "client_disconnected"


def test_usage_single_day(store: SqliteStore) -> None:
    assert store.get_usage("minecraft", date(2026, 1, 5)) == timedelta(seconds=210)
    assert store.get_usage("tuxmath", date(2026, 1, 10)) == timedelta(seconds=2700)
    assert store.get_usage("minecraft", date(2026, 1, 4)) == timedelta(0)
    assert store.get_usage("nonexistent", date(2026, 1, 5)) == timedelta(0)


def test_usage_between_all_rows(store: SqliteStore) -> None:
    rows = store.usage_between()
    assert len(rows) == 13
    got = {(r.entry_id, r.day.isoformat()): r.seconds for r in rows}
    assert got == {
        ("tuxmath", "2026-01-01"): 90, ("tuxmath", "2026-01-02"): 1800,
        ("tuxmath", "2026-01-03"): 59, ("tuxmath", "2026-01-04"): 3600,
        ("tuxmath", "2026-01-10"): 2700, ("minecraft", "2026-01-03"): 600,
        ("minecraft", "2026-01-05"): 210, ("minecraft", "2026-01-06"): 45,
        ("minecraft", "2026-01-07"): 7200, ("scummvm-puttputt", "2026-01-07"): 300,
        ("scummvm-puttputt", "2026-01-08"): 1, ("scummvm-puttputt", "2026-01-09"): 999,
        ("scummvm-puttputt", "2026-01-10"): 1234,
    }
    assert [r.day for r in rows] == sorted(r.day for r in rows)


def test_usage_between_range_and_entry(store: SqliteStore) -> None:
    rows = store.usage_between(date(2026, 1, 3), date(2026, 1, 7), entry_id="minecraft")
    assert [(r.day.day, r.seconds) for r in rows] == [(3, 600), (5, 210), (6, 45), (7, 7200)]
    assert store.usage_between(date(2026, 1, 8), date(2026, 1, 8)) == [
        r for r in store.usage_between() if r.day == date(2026, 1, 8)]


def test_cooldowns(store: SqliteStore) -> None:
    assert store.get_cooldown_until("tuxmath") == datetime(2026, 1, 9, 17, 30, tzinfo=EST)
    mc = store.get_cooldown_until("minecraft")
    assert mc == datetime(2030, 7, 4, 15, 45, 30, 250000, tzinfo=EDT)
    assert mc is not None and mc.utcoffset() == timedelta(hours=-4)
    assert store.get_cooldown_until("scummvm-puttputt") is None
    records = store.all_cooldowns()
    assert [(c.entry_id, c.raw) for c in records] == [
        ("minecraft", "2030-07-04T15:45:30.250-04:00"),
        ("tuxmath", "2026-01-09T17:30:00-05:00"),
    ]
    assert records[0].until == mc


def test_snapshot_active_session(store: SqliteStore) -> None:
    snap = store.load_snapshot()
    assert snap is not None
    assert snap.timestamp == datetime(2026, 7, 4, 14, 10, 30, 250000, tzinfo=EDT)
    assert snap.active_session == SessionSnapshot(
        session_id=S3,
        entry_id="minecraft",
        started_at=datetime(2026, 7, 4, 14, 0, tzinfo=EDT),
        deadline=datetime(2026, 7, 4, 15, 0, tzinfo=EDT),
        warnings_issued=(300, 60),
    )
    assert snap.active_session.warnings_issued == (300, 60)


def test_snapshot_without_session(rust_v0_nosession: Path) -> None:
    with SqliteStore.open(rust_v0_nosession, read_only=True) as s:
        assert s.layout is Layout.RUST
        snap = s.load_snapshot()
        assert snap is not None
        assert snap.active_session is None
        assert snap.timestamp == datetime(2026, 7, 4, 14, 10, 30, 250000, tzinfo=EDT)
        assert len(s.get_recent_audits(100)) == 23


def test_filters_on_fixture(store: SqliteStore) -> None:
    ended = store.find_audits(AuditFilter(event_types=frozenset({"session_ended"}))).events
    assert [e.id for e in ended] == [17, 16, 15, 14, 13, 12, 11, 9]
    s2 = store.find_audits(AuditFilter(session_id=S2)).events
    assert [e.id for e in s2] == list(range(17, 9, -1))
    mc = store.find_audits(AuditFilter(entry_id="minecraft")).events
    assert [e.id for e in mc] == [21]
    july = store.find_audits(AuditFilter(since=datetime(2026, 7, 1, tzinfo=UTC))).events
    assert [e.id for e in july] == [23, 22, 21]


def test_change_token_reads_newest_id(store: SqliteStore) -> None:
    assert store.change_token().last_audit_id == 23


@pytest.mark.parametrize("fixture", ["rust_v0", "rust_v0_nosession"])
def test_read_only_open_leaves_file_byte_identical(
    tmp_path: Path, fixture: str, request: pytest.FixtureRequest
) -> None:
    src: Path = request.getfixturevalue(fixture)
    name = src.name
    before_src = sha256(src)
    copy = tmp_path / name
    shutil.copyfile(src, copy)
    before = sha256(copy)
    with SqliteStore.open(copy, read_only=True) as s:
        s.get_recent_audits(1000)
        s.find_audits(AuditFilter(text="tux"))
        s.usage_between()
        s.all_cooldowns()
        s.load_snapshot()
        s.change_token()
        s.known_entries()
        s.list_overrides()
        assert s.journal_mode == "delete"
    assert sha256(copy) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no -journal, -wal, -shm
    assert sha256(src) == before_src


def test_fixture_schema_is_the_rust_ddl(rust_v0: Path) -> None:
    conn = sqlite3.connect(f"file:{rust_v0}?mode=ro", uri=True)
    try:
        names = sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master"))
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    finally:
        conn.close()
    assert "idx_audit_timestamp" in names and "idx_usage_day" in names
    assert "event_json" in (rust_v0.with_suffix(".sql")).read_text()
