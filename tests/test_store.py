"""The Store protocol and the inspector's reads, on both layouts."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import fixture_path
from hypothesis import given, settings
from hypothesis import strategies as st

import shepherd_store.store as store_module
from shepherd_store import (
    AuditEvent,
    AuditFilter,
    ClientConnected,
    ConfigReloaded,
    Expired,
    IncompatibleSchemaError,
    LaunchDenied,
    Layout,
    ManualOverride,
    PolicyLoaded,
    SerializationError,
    ServiceStarted,
    SessionEnded,
    SessionSnapshot,
    SessionStarted,
    SqliteStore,
    StateSnapshot,
    Store,
    UnknownEvent,
    WarningIssued,
)

EST = timezone(timedelta(hours=-5))
JST = timezone(timedelta(hours=9))
NPT = timezone(timedelta(hours=5, minutes=45))
S = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(1, 6)]
ENTRIES = ["tuxmath", "minecraft", "a%b", "a_b", "a\\b", "axb", "Gimp"]


def raw_conn(path: str | Path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), isolation_level=None)


def schema_rows(path: str | Path) -> list[tuple[Any, ...]]:
    conn = raw_conn(path)
    try:
        return sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
    finally:
        conn.close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(params=["seed", "rust"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqliteStore]:
    """A writable store on a file in each layout (the Rust one a copy of rust-v0.db)."""
    seed = request.param == "seed"
    path = tmp_path / "seed.db" if seed else request.getfixturevalue("rust_copy")
    with SqliteStore.open(path) as s:
        assert s.layout is (Layout.SEED if seed else Layout.RUST)
        yield s


def test_protocol_methods_exist() -> None:
    names = [n for n in vars(Store) if not n.startswith("_")]
    assert len(names) == 10
    for name in names:
        assert callable(getattr(SqliteStore, name)), name


def test_new_database_is_wal_full_with_busy_timeout(seed_path: Path) -> None:
    with SqliteStore.open(seed_path) as s:
        assert s.layout is Layout.SEED
        assert s.journal_mode == "wal"
        assert s._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        # The store waits 5 s for a lock, as the Rust store does, by polling every 0.5 ms
        # rather than through SQLite's handler (which backs off to 100 ms between tries).
        assert s.busy_timeout == 5.0
    holder = sqlite3.connect(seed_path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    timer.start()
    started = time.monotonic()
    with SqliteStore.open(seed_path) as s:
        s.add_usage("tuxmath", date(2026, 1, 1), timedelta(seconds=1))
    assert time.monotonic() - started >= 0.25  # it waited for the lock instead of failing
    timer.join()
    holder.close()
    names = {r[1] for r in schema_rows(seed_path)}
    assert {"audit_log", "usage", "cooldowns", "snapshot", "idx_audit_type",
            "idx_audit_entry", "idx_audit_session", "idx_audit_timestamp"} <= names


# --- audit log -----------------------------------------------------------------------------


def test_append_sets_ids_and_recent_is_newest_first(store: SqliteStore) -> None:
    start = store.change_token().last_audit_id
    items = [AuditEvent.new(PolicyLoaded(i)) for i in range(5)]
    for item in items:
        assert item.id == 0
        store.append_audit(item)
    ids = [i.id for i in items]
    assert ids == list(range(start + 1, start + 6))
    recent = store.get_recent_audits(3)
    assert [e.id for e in recent] == ids[::-1][:3]
    assert [e.event for e in recent] == [PolicyLoaded(4), PolicyLoaded(3), PolicyLoaded(2)]
    assert store.get_recent_audits(0) == []
    everything = store.get_recent_audits(10_000)
    assert [e.id for e in everything] == sorted((e.id for e in everything), reverse=True)
    assert store.change_token().last_audit_id == ids[-1]


def test_append_keeps_timestamp_offset(store: SqliteStore) -> None:
    stamp = datetime(2026, 2, 3, 4, 5, 6, 789, tzinfo=NPT)
    store.append_audit(AuditEvent(0, stamp, ServiceStarted()))
    got = store.get_recent_audits(1)[0]
    assert got.timestamp == stamp and got.timestamp.utcoffset() == stamp.utcoffset()


# --- usage -----------------------------------------------------------------------------------


def test_add_usage_accumulates_and_truncates(store: SqliteStore) -> None:
    day = date(2026, 2, 1)
    assert store.get_usage("tuxmath", day) == timedelta(0)
    store.add_usage("tuxmath", day, timedelta(seconds=1, microseconds=999_999))
    assert store.get_usage("tuxmath", day) == timedelta(seconds=1)
    store.add_usage("tuxmath", day, timedelta(seconds=0.9))
    store.add_usage("tuxmath", day, timedelta(minutes=2))
    assert store.get_usage("tuxmath", day) == timedelta(seconds=121)
    store.add_usage("tuxmath", day, timedelta(0))
    assert store.get_usage("tuxmath", day) == timedelta(seconds=121)
    assert store.get_usage("tuxmath", date(2026, 2, 2)) == timedelta(0)
    assert store.get_usage("minecraft", day) == timedelta(0)
    with pytest.raises(SerializationError):
        store.add_usage("tuxmath", day, timedelta(seconds=-1))
    assert store.get_usage("tuxmath", day) == timedelta(seconds=121)
    conn = raw_conn(store.path)
    try:
        row = conn.execute("SELECT day, duration_secs, typeof(duration_secs) FROM usage "
                           "WHERE entry_id = 'tuxmath' AND day = '2026-02-01'").fetchone()
    finally:
        conn.close()
    assert row == ("2026-02-01", 121, "integer")


def test_usage_between_filters(store: SqliteStore) -> None:
    for entry, day, secs in [("e1", date(2025, 12, 31), 10), ("e1", date(2026, 2, 1), 20),
                             ("e2", date(2026, 2, 1), 30), ("e2", date(2026, 2, 3), 40),
                             ("e1", date(2026, 3, 1), 50)]:
        store.add_usage(entry, day, timedelta(seconds=secs))
    rows = [r for r in store.usage_between(date(2026, 2, 1), date(2026, 2, 28))
            if r.entry_id.startswith("e")]
    assert [(r.entry_id, r.day, r.seconds) for r in rows] == [
        ("e1", date(2026, 2, 1), 20), ("e2", date(2026, 2, 1), 30), ("e2", date(2026, 2, 3), 40)]
    e1 = store.usage_between(entry_id="e1")
    assert [r.seconds for r in e1] == [10, 20, 50]
    assert [r.seconds for r in store.usage_between(start=date(2026, 2, 2), entry_id="e2")] == [40]
    assert [r.seconds for r in store.usage_between(end=date(2025, 12, 31), entry_id="e1")] == [10]
    assert store.usage_between(date(2027, 1, 1), date(2027, 12, 31)) == []


def test_usage_between_skips_bad_rows(rust_copy: Path) -> None:
    conn = raw_conn(rust_copy)
    conn.executemany("INSERT INTO usage (entry_id, day, duration_secs) VALUES (?, ?, ?)", [
        ("tuxmath", "yesterday", 5), ("tuxmath", "2026-01-20", -5),
        ("tuxmath", "2026-01-21", "abc"), ("tuxmath", "2026-01-22", 1.5),
        ("tuxmath", "2026-1-23", 7), ("tuxmath", "2026-01-24", 8),
    ])
    conn.close()
    with SqliteStore.open(rust_copy) as s:
        rows = s.usage_between(entry_id="tuxmath")
        assert [(r.day.isoformat(), r.seconds) for r in rows] == [
            ("2026-01-01", 90), ("2026-01-02", 1800), ("2026-01-03", 59), ("2026-01-04", 3600),
            ("2026-01-10", 2700), ("2026-01-24", 8)]
        assert len(s.usage_between()) == 14
        assert s.get_usage("tuxmath", date(2026, 1, 20)) == timedelta(0)
        assert s.get_usage("tuxmath", date(2026, 1, 21)) == timedelta(0)


# --- cooldowns -------------------------------------------------------------------------------


def test_cooldowns_set_get_clear(store: SqliteStore) -> None:
    until = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=EST)
    store.set_cooldown_until("gimp", until)
    got = store.get_cooldown_until("gimp")
    assert got == until and got is not None and got.utcoffset() == timedelta(hours=-5)
    later = datetime(2032, 1, 1, tzinfo=UTC)
    store.set_cooldown_until("gimp", later)
    assert store.get_cooldown_until("gimp") == later
    assert [c.entry_id for c in store.all_cooldowns()].count("gimp") == 1
    store.clear_cooldown("gimp")
    assert store.get_cooldown_until("gimp") is None
    store.clear_cooldown("gimp")  # no error when absent
    with pytest.raises(SerializationError):
        store.set_cooldown_until("gimp", datetime(2031, 1, 1))
    assert store.get_cooldown_until("gimp") is None


@pytest.mark.parametrize("text", ["2026-11-26 12:00:00", "2026-11-26T12:00:00",
                                  "2026-11-26T12:00:00+0000", "soon", ""])
def test_unparseable_cooldown_reads_as_none(rust_copy: Path, text: str) -> None:
    conn = raw_conn(rust_copy)
    conn.execute("UPDATE cooldowns SET until = ? WHERE entry_id = 'tuxmath'", (text,))
    conn.close()
    with SqliteStore.open(rust_copy, read_only=True) as s:
        assert s.get_cooldown_until("tuxmath") is None
        assert s.get_cooldown_until("minecraft") is not None
        rec = {c.entry_id: c for c in s.all_cooldowns()}["tuxmath"]
        assert rec.until is None and rec.raw == text


# --- snapshot --------------------------------------------------------------------------------


def test_snapshot_save_load_delete(store: SqliteStore) -> None:
    snap = StateSnapshot(
        datetime(2026, 5, 1, 10, 0, 0, 250000, tzinfo=JST),
        SessionSnapshot(S[0], "tuxmath", datetime(2026, 5, 1, 9, 0, tzinfo=JST),
                        datetime(2026, 5, 1, 11, 0, tzinfo=UTC), (300,)))
    store.save_snapshot(snap)
    assert store.load_snapshot() == snap
    empty = StateSnapshot(datetime(2026, 5, 1, tzinfo=UTC))
    store.save_snapshot(empty)
    assert store.load_snapshot() == empty
    store.delete_snapshot()
    assert store.load_snapshot() is None
    assert store.load_snapshot_text() is None
    with pytest.raises(SerializationError):
        store.save_snapshot(StateSnapshot(
            empty.timestamp, SessionSnapshot(S[0], "e", empty.timestamp, None)))  # type: ignore[arg-type]
    assert store.load_snapshot() is None


def test_unreadable_snapshot_raises_serialization_error(rust_copy: Path) -> None:
    conn = raw_conn(rust_copy)
    conn.execute("UPDATE snapshot SET snapshot_json = '{\"timestamp\":\"x\"}'")
    conn.close()
    with SqliteStore.open(rust_copy) as s, pytest.raises(SerializationError, match="rust-copy"):
        s.load_snapshot()


# --- health and change token -----------------------------------------------------------------


def test_is_healthy(tmp_path: Path) -> None:
    s = SqliteStore.open(tmp_path / "h.db")
    assert s.is_healthy()
    s.close()
    assert not s.is_healthy()


def test_change_token_changes_after_commit_by_another_connection(store: SqliteStore) -> None:
    first = store.change_token()
    assert store.change_token() == first
    other = raw_conn(store.path)
    try:
        other.execute("INSERT INTO usage (entry_id, day, duration_secs) "
                      "VALUES ('x', '2026-01-01', 1)")
        second = store.change_token()
        assert second != first
        assert second.data_version != first.data_version
        assert second.last_audit_id == first.last_audit_id
        assert store.change_token() == second
        other.execute("INSERT INTO cooldowns (entry_id, until) "
                      "VALUES ('x', '2030-01-01T00:00:00+00:00')")
        assert store.change_token() != second
    finally:
        other.close()
    third = store.change_token()
    store.append_audit(AuditEvent.new(ServiceStarted()))
    assert store.change_token().last_audit_id == third.last_audit_id + 1


# --- find_audits ------------------------------------------------------------------------------


def _populate(store: SqliteStore) -> list[AuditEvent]:
    """~300 mixed events over many offsets; returns them as appended."""
    out = []
    base = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    zones = [UTC, EST, JST, NPT, timezone(timedelta(hours=-11)), timezone(timedelta(hours=14))]
    for i in range(300):
        tz = zones[i % len(zones)]
        stamp = (base + timedelta(minutes=37 * i)).astimezone(tz)
        entry = ENTRIES[i % len(ENTRIES)]
        session = S[i % len(S)]
        kind = i % 6
        event: Any
        if kind == 0:
            event = SessionStarted(session, entry, f"Label {entry} 100%",
                                   stamp + timedelta(hours=1))
        elif kind == 1:
            event = WarningIssued(session, 60 * (i % 5))
        elif kind == 2:
            event = SessionEnded(session, entry, Expired(), timedelta(seconds=i))
        elif kind == 3:
            event = LaunchDenied(entry, (f"QuotaExhausted {{ used: {i}s }}", "under_score"))
        elif kind == 4:
            event = ConfigReloaded(i % 4 == 0)
        else:
            event = ClientConnected(session, "Shell", i)
        item = AuditEvent(0, stamp, event)
        store.append_audit(item)
        out.append(item)
    return out


Populated = tuple[SqliteStore, list[AuditEvent]]


@pytest.fixture(scope="module", params=["seed", "rust"])
def populated(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Populated]:
    """A store per layout holding `_populate`'s events, shared by the read-only tests."""
    path = tmp_path_factory.mktemp("populated") / f"{request.param}.db"
    if request.param == "rust":
        shutil.copyfile(fixture_path("rust-v0.db"), path)
        path.chmod(0o644)
    with SqliteStore.open(path) as s:
        items = _populate(s)
        yield s, items


def _ascii_lower(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


def _expected(store: SqliteStore, flt: AuditFilter) -> list[int]:
    """Brute force over raw rows: what `flt` must return, newest first."""
    col = store.layout.audit_json
    conn = raw_conn(store.path)
    try:
        rows = conn.execute(f"SELECT id, timestamp, {col} FROM audit_log ORDER BY id DESC")
        rows = rows.fetchall()
    finally:
        conn.close()
    out = []
    for row_id, stamp, text in rows:
        obj = json.loads(text)
        ts = datetime.fromisoformat(stamp)
        if flt.event_types and obj.get("type") not in flt.event_types:
            continue
        if flt.entry_id is not None and obj.get("entry_id") != flt.entry_id:
            continue
        if flt.session_id is not None and obj.get("session_id") != flt.session_id:
            continue
        if flt.since is not None and ts < flt.since:
            continue
        if flt.until is not None and ts >= flt.until:
            continue
        if flt.text and _ascii_lower(flt.text) not in _ascii_lower(text):
            continue
        out.append(row_id)
    return out


def _all_pages(store: SqliteStore, flt: AuditFilter, limit: int, **kw: Any) -> list[int]:
    seen: list[int] = []
    before: int | None = None
    for _ in range(10_000):
        page = store.find_audits(flt, before_id=before, limit=limit, **kw)
        assert len(page.events) <= limit
        seen.extend(e.id for e in page.events)
        if page.next_before_id is None:
            break
        assert page.next_before_id <= min((e.id for e in page.events), default=before or 10**9)
        before = page.next_before_id
    return seen


T = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
FILTERS = {
    "none": AuditFilter(),
    "one type": AuditFilter(event_types=frozenset({"session_ended"})),
    "two types": AuditFilter(event_types=frozenset({"session_started", "launch_denied"})),
    "unknown type": AuditFilter(event_types=frozenset({"no_such_type"})),
    "entry": AuditFilter(entry_id="minecraft"),
    "entry with %": AuditFilter(entry_id="a%b"),
    "session": AuditFilter(session_id=S[2]),
    "since": AuditFilter(since=T),
    "since +09:00": AuditFilter(since=T.astimezone(JST)),
    "until -11:00": AuditFilter(until=T.astimezone(timezone(timedelta(hours=-11)))),
    "range": AuditFilter(since=T.astimezone(NPT), until=T + timedelta(hours=30)),
    "text": AuditFilter(text="QUOTAEXHAUSTED"),
    "text %": AuditFilter(text="a%b"),
    "text _": AuditFilter(text="a_b"),
    "text 100%": AuditFilter(text="100%"),
    "text backslash": AuditFilter(text="\\"),
    "text backslash-b": AuditFilter(text="a\\\\b"),
    "type+entry+range": AuditFilter(event_types=frozenset({"session_ended", "session_started"}),
                                    entry_id="axb", since=T - timedelta(days=1),
                                    until=T + timedelta(days=2)),
    "session+text": AuditFilter(session_id=S[1], text="label a"),
}


@pytest.mark.parametrize("name", list(FILTERS))
def test_find_audits_filters(populated: Populated, name: str) -> None:
    store = populated[0]
    flt = FILTERS[name]
    expected = _expected(store, flt)
    if name != "unknown type":
        assert expected, "the data set must exercise the filter"
    page = store.find_audits(flt, limit=10_000)
    assert [e.id for e in page.events] == expected
    assert page.next_before_id is None and not page.cancelled
    assert _all_pages(store, flt, limit=7) == expected


def test_text_search_metacharacters_are_literal(populated: Populated) -> None:
    store = populated[0]
    pct = {e.id for e in store.find_audits(AuditFilter(text="a%b"), limit=10_000).events}
    under = {e.id for e in store.find_audits(AuditFilter(text="a_b"), limit=10_000).events}
    axb = {e.id for e in store.find_audits(AuditFilter(text="axb"), limit=10_000).events}
    assert pct and under and axb
    assert not pct & axb and not under & axb and not pct & under
    backslash = store.find_audits(AuditFilter(text="\\"), limit=10_000).events
    assert backslash and all("\\" in (getattr(e.event, "entry_id", "") or "") for e in backslash)


def test_time_filter_is_exact_across_offsets(store: SqliteStore) -> None:
    # Text order and time order disagree: 23:30-05:00 is later than 01:00+09:00 next day.
    late = AuditEvent(0, datetime(2026, 3, 1, 23, 30, tzinfo=EST), PolicyLoaded(1))
    early = AuditEvent(0, datetime(2026, 3, 2, 1, 0, tzinfo=JST), PolicyLoaded(2))
    store.append_audit(late)
    store.append_audit(early)
    cut = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    since = store.find_audits(AuditFilter(since=cut), limit=100).events
    assert late.id in [e.id for e in since] and early.id not in [e.id for e in since]
    until = store.find_audits(AuditFilter(until=cut), after_id=late.id - 1, limit=100).events
    assert [e.id for e in until] == [early.id]
    exact = store.find_audits(AuditFilter(since=late.timestamp, until=late.timestamp
                                          + timedelta(microseconds=1)), limit=100).events
    assert [e.id for e in exact] == [late.id]


def test_keyset_paging_visits_every_row_once(populated: Populated) -> None:
    store = populated[0]
    total = _expected(store, AuditFilter())
    for limit in (1, 13, 200):
        seen = _all_pages(store, AuditFilter(), limit)
        assert seen == total and len(set(seen)) == len(seen)


def test_after_id(populated: Populated) -> None:
    store, items = populated
    mark = items[250].id
    newer = store.find_audits(after_id=mark, limit=1000).events
    assert [e.id for e in newer] == [i.id for i in items[251:]][::-1]
    typed = store.find_audits(AuditFilter(event_types=frozenset({"session_started"})),
                              after_id=mark, limit=1000).events
    assert [e.id for e in typed] == [i.id for i in items[251:] if i.type == "session_started"][::-1]
    assert store.find_audits(after_id=items[-1].id).events == []


def test_progress_cancel(populated: Populated, monkeypatch: pytest.MonkeyPatch) -> None:
    store = populated[0]
    monkeypatch.setattr(store_module, "SCAN_CHUNK", 10)
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> bool:
        calls.append((done, total))
        return len(calls) < 3

    flt = AuditFilter(text="no such text anywhere")
    page = store.find_audits(flt, limit=50, progress=progress)
    assert page.cancelled
    assert page.events == []
    assert len(calls) == 3
    assert calls[0][0] < calls[1][0] < calls[2][0] <= calls[2][1]
    assert page.next_before_id is not None
    full = store.find_audits(flt, limit=50, progress=lambda d, t: True)
    assert not full.cancelled and full.events == [] and full.next_before_id is None


def test_progress_cancel_keeps_partial_results(populated: Populated,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    store = populated[0]
    monkeypatch.setattr(store_module, "SCAN_CHUNK", 20)
    flt = AuditFilter(text="quotaexhausted")
    page = store.find_audits(flt, limit=1000, progress=lambda d, t: False)
    assert page.cancelled and page.next_before_id is not None
    expected = _expected(store, flt)
    got = [e.id for e in page.events]
    assert got == expected[:len(got)]
    cont = store.find_audits(flt, before_id=page.next_before_id, limit=1000)
    assert got + [e.id for e in cont.events] == expected


# --- bad rows -----------------------------------------------------------------------------


def test_invalid_json_row_in_seed_layout(seed_path: Path) -> None:
    with SqliteStore.open(seed_path) as s:
        _populate(s)
    conn = raw_conn(seed_path)
    # Expression indexes refuse invalid JSON; a database written without them can hold it.
    conn.execute("DROP INDEX idx_audit_entry")
    conn.execute("DROP INDEX idx_audit_session")
    conn.execute("INSERT INTO audit_log (timestamp, event_type, event_data) VALUES "
                 "('2026-03-05T00:00:00+00:00', 'session_ended', '{\"type\":\"session_ended\",')")
    bad_id = conn.execute("SELECT max(id) FROM audit_log").fetchone()[0]
    conn.close()
    with SqliteStore.open(seed_path) as s:
        recent = s.get_recent_audits(5)
        assert recent[0].id == bad_id
        assert isinstance(recent[0].event, UnknownEvent) and recent[0].event.malformed
        assert all(not isinstance(e.event, UnknownEvent) for e in recent[1:])
        by_entry = s.find_audits(AuditFilter(entry_id="minecraft"), limit=1000).events
        assert by_entry and all(getattr(e.event, "entry_id", None) == "minecraft"
                                for e in by_entry)
        assert len(by_entry) == len([i for i in range(300) if ENTRIES[i % 7] == "minecraft"
                                     and i % 6 in (0, 2, 3)])
        by_session = s.find_audits(AuditFilter(session_id=S[0]), limit=1000).events
        assert by_session and bad_id not in [e.id for e in by_session]
        typed = s.find_audits(AuditFilter(event_types=frozenset({"session_ended"})), limit=5)
        assert typed.events[0].id == bad_id


def test_bad_timestamp_row(rust_copy: Path) -> None:
    conn = raw_conn(rust_copy)
    conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES "
                 "('2026-11-26 12:00:00', '{\"type\":\"service_started\"}')")
    conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES "
                 "('2026-11-26T12:01:00-05:00', '{\"type\":\"service_stopped\"}')")
    conn.close()
    with SqliteStore.open(rust_copy) as s:
        recent = s.get_recent_audits(100)
        assert len(recent) == 25
        assert recent[0].type == "service_stopped" and recent[0].id == 25
        bad = recent[1]
        assert bad.id == 24
        assert isinstance(bad.event, UnknownEvent) and bad.event.malformed
        assert bad.event.error is not None and "timestamp" in bad.event.error
        assert bad.timestamp.utcoffset() is not None
        assert all(not isinstance(e.event, UnknownEvent) for e in recent[2:])
        since = s.find_audits(AuditFilter(since=datetime(2026, 11, 1, tzinfo=UTC))).events
        assert [e.id for e in since] == [25]


def test_unknown_event_type_in_rust_db(rust_copy: Path) -> None:
    conn = raw_conn(rust_copy)
    conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES "
                 "('2026-11-26T12:00:00-05:00', "
                 "'{\"type\":\"tokens_adjusted\",\"entry_id\":\"tuxmath\"}')")
    conn.close()
    with SqliteStore.open(rust_copy) as s:
        got = s.get_recent_audits(1)[0]
        assert got.event == UnknownEvent(
            "tokens_adjusted", '{"type":"tokens_adjusted","entry_id":"tuxmath"}')
        tux = s.find_audits(AuditFilter(entry_id="tuxmath")).events
        assert [e.id for e in tux] == [24, 18, 9, 5]


# --- Rust formats on write ------------------------------------------------------------------

RUST_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?[+-]\d\d:\d\d")


def test_writes_into_rust_copy_keep_rust_formats(rust_copy: Path) -> None:
    with SqliteStore.open(rust_copy) as s:
        s.append_audit(AuditEvent(0, datetime(2026, 8, 1, 9, 0, tzinfo=EST), ServiceStarted()))
        s.append_audit(AuditEvent(0, datetime(2026, 8, 1, 14, 0, 0, 5, tzinfo=UTC),
                                  SessionStarted(S[0], "tuxmath", "Tux", datetime(
                                      2026, 8, 1, 15, 0, tzinfo=UTC))))
        s.append_audit(AuditEvent.new(ServiceStarted()))
        s.set_cooldown_until("tuxmath", datetime(2030, 1, 1, 0, 0, tzinfo=EST))
        s.set_cooldown_until("gimp", datetime(2030, 1, 1, 0, 0, 0, 250000, tzinfo=UTC))
        s.save_snapshot(StateSnapshot(
            datetime(2026, 8, 1, 14, 5, tzinfo=UTC),
            SessionSnapshot(S[0], "tuxmath", datetime(2026, 8, 1, 14, 0, tzinfo=UTC),
                            datetime(2026, 8, 1, 15, 0, tzinfo=EST), (300,))))
        s.add_usage("tuxmath", date(2026, 8, 1), timedelta(seconds=12.7))
    conn = raw_conn(rust_copy)
    try:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(audit_log)")]
        assert cols == ["id", "timestamp", "event_json"]
        rows = conn.execute("SELECT id, timestamp, event_json FROM audit_log WHERE id > 23 "
                            "ORDER BY id").fetchall()
        assert [r[0] for r in rows] == [24, 25, 26]
        assert rows[0][1] == "2026-08-01T09:00:00-05:00"
        assert rows[1][1] == "2026-08-01T14:00:00.000005+00:00"
        assert all(RUST_TS.fullmatch(r[1]) for r in rows)
        assert rows[1][2] == ('{"type":"session_started","session_id":"' + S[0] + '",'
                              '"entry_id":"tuxmath","label":"Tux",'
                              '"deadline":"2026-08-01T15:00:00Z"}')
        assert conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'"
                            ).fetchone()[0] == 26
        cooldowns = dict(conn.execute("SELECT entry_id, until FROM cooldowns"))
        assert cooldowns["tuxmath"] == "2030-01-01T00:00:00-05:00"
        assert cooldowns["gimp"] == "2030-01-01T00:00:00.250000+00:00"
        assert cooldowns["minecraft"] == "2030-07-04T15:45:30.250-04:00"  # untouched
        snap = conn.execute("SELECT snapshot_json FROM snapshot WHERE id = 1").fetchone()[0]
        obj = json.loads(snap)
        assert list(obj) == ["timestamp", "active_session"]
        assert list(obj["active_session"]) == ["session_id", "entry_id", "started_at",
                                               "deadline", "warnings_issued"]
        assert obj["active_session"]["deadline"] == "2026-08-01T15:00:00-05:00"
        assert obj["timestamp"] == "2026-08-01T14:05:00Z"
        usage = conn.execute("SELECT duration_secs, typeof(duration_secs) FROM usage "
                             "WHERE entry_id = 'tuxmath' AND day = '2026-08-01'").fetchone()
        assert usage == (12, "integer")
    finally:
        conn.close()


def test_opening_rust_db_never_changes_schema_or_journal_mode(rust_copy: Path) -> None:
    before = schema_rows(rust_copy)
    with SqliteStore.open(rust_copy) as s:
        assert s.journal_mode == "delete"
        s.append_audit(AuditEvent.new(ServiceStarted()))
        s.add_usage("tuxmath", date(2026, 1, 1), timedelta(seconds=1))
        s.set_cooldown_until("x", datetime(2030, 1, 1, tzinfo=UTC))
        s.save_snapshot(StateSnapshot(datetime(2030, 1, 1, tzinfo=UTC)))
        s.find_audits(AuditFilter(entry_id="tuxmath"))
    assert schema_rows(rust_copy) == before
    conn = raw_conn(rust_copy)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    finally:
        conn.close()
    assert not Path(str(rust_copy) + "-wal").exists()


def test_missing_rust_tables_are_created_in_rust_layout(rust_copy: Path) -> None:
    conn = raw_conn(rust_copy)
    conn.execute("DROP TABLE snapshot")
    conn.execute("DROP TABLE cooldowns")
    conn.close()
    before = schema_rows(rust_copy)
    with SqliteStore.open(rust_copy) as s:
        assert s.layout is Layout.RUST
        assert s.load_snapshot() is None
        s.save_snapshot(StateSnapshot(datetime(2030, 1, 1, tzinfo=UTC)))
        s.set_cooldown_until("x", datetime(2030, 1, 1, tzinfo=UTC))
    after = schema_rows(rust_copy)
    added = sorted(r[1] for r in after if r not in before)
    assert added == ["cooldowns", "snapshot", "sqlite_autoindex_cooldowns_1"]
    assert all(r in after for r in before)
    conn = raw_conn(rust_copy)
    try:
        assert [r[1] for r in conn.execute("PRAGMA table_info(snapshot)")] == [
            "id", "snapshot_json"]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        conn.close()


def test_missing_tables_not_created_read_only(rust_copy: Path) -> None:
    conn = raw_conn(rust_copy)
    conn.execute("DROP TABLE snapshot")
    conn.close()
    digest = sha256(rust_copy)
    with SqliteStore.open(rust_copy, read_only=True) as s:
        assert s.load_snapshot() is None
        assert len(s.get_recent_audits(100)) == 23
    assert sha256(rust_copy) == digest


def test_unrelated_tables_only(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = raw_conn(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('hello')")
    conn.close()
    digest = sha256(path)
    for read_only in (False, True):
        with pytest.raises(IncompatibleSchemaError, match=r"other\.db"):
            SqliteStore.open(path, read_only=read_only)
    assert sha256(path) == digest
    assert schema_rows(path) == [("table", "notes", "notes",
                                  "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")]


def test_unknown_extra_tables_are_left_alone(rust_copy: Path) -> None:
    conn = raw_conn(rust_copy)
    conn.execute("CREATE TABLE daily_overrides (entry_id TEXT, day TEXT, extra INTEGER)")
    conn.execute("INSERT INTO daily_overrides VALUES ('tuxmath', '2026-01-10', 600)")
    conn.close()
    before = schema_rows(rust_copy)
    with SqliteStore.open(rust_copy) as s:
        assert s.layout is Layout.RUST
        s.append_audit(AuditEvent.new(ServiceStarted()))
    assert schema_rows(rust_copy) == before
    conn = raw_conn(rust_copy)
    try:
        assert conn.execute("SELECT * FROM daily_overrides").fetchall() == [
            ("tuxmath", "2026-01-10", 600)]
    finally:
        conn.close()


# --- overrides ----------------------------------------------------------------------------


def test_overrides_in_seed_layout_are_audit_events(seed_store: SqliteStore) -> None:
    assert seed_store.list_overrides() == []
    with seed_store.override("set a cooldown in") as conn:
        conn.execute("INSERT INTO cooldowns (entry_id, until) VALUES ('tuxmath', ?)",
                     ("2030-01-01T00:00:00+00:00",))
        seed_store.record_override(conn, "cooldown", "tuxmath", None,
                                   "2030-01-01T00:00:00+00:00")
    with seed_store.override("clear a cooldown in") as conn:
        conn.execute("DELETE FROM cooldowns WHERE entry_id = 'tuxmath'")
        seed_store.record_override(conn, "cooldown", "tuxmath", "2030-01-01T00:00:00+00:00",
                                   None)
    records = seed_store.list_overrides()
    assert [(r.change.what, r.change.previous, r.change.new) for r in records] == [
        ("cooldown", "2030-01-01T00:00:00+00:00", None),
        ("cooldown", None, "2030-01-01T00:00:00+00:00"),
    ]
    assert records[0].id > records[1].id
    assert records[0].timestamp.utcoffset() is not None
    assert records[0].change.user
    log = seed_store.find_audits(AuditFilter(event_types=frozenset({"manual_override"}))).events
    assert [e.id for e in log] == [r.id for r in records]
    assert isinstance(log[0].event, ManualOverride)
    assert seed_store.get_cooldown_until("tuxmath") is None


def test_overrides_in_rust_layout_go_to_side_table(rust_copy: Path) -> None:
    before = schema_rows(rust_copy)
    with SqliteStore.open(rust_copy) as s:
        assert s.list_overrides() == []
        assert schema_rows(rust_copy) == before  # listing creates nothing
        with s.override("set usage in") as conn:
            conn.execute("UPDATE usage SET duration_secs = 0 WHERE entry_id = 'tuxmath' "
                         "AND day = '2026-01-10'")
            s.record_override(conn, "usage", "tuxmath", "2700", "0")
        records = s.list_overrides()
        assert [(r.change.what, r.change.entry_id, r.change.previous, r.change.new)
                for r in records] == [("usage", "tuxmath", "2700", "0")]
        assert len(s.get_recent_audits(100)) == 23  # the audit log is untouched
        assert s.get_usage("tuxmath", date(2026, 1, 10)) == timedelta(0)
    with SqliteStore.open(rust_copy, read_only=True) as s:
        assert len(s.list_overrides()) == 1
    conn = raw_conn(rust_copy)
    try:
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 23
        ts, text = conn.execute("SELECT timestamp, event_json FROM inspector_overrides"
                                ).fetchone()
        assert RUST_TS.fullmatch(ts)
        assert json.loads(text)["type"] == "manual_override"
    finally:
        conn.close()


def test_override_rolled_back_on_error(seed_store: SqliteStore) -> None:
    with pytest.raises(RuntimeError), seed_store.override("set a cooldown in") as conn:
        conn.execute("INSERT INTO cooldowns (entry_id, until) VALUES ('x', "
                     "'2030-01-01T00:00:00+00:00')")
        seed_store.record_override(conn, "cooldown", "x", None, "2030-01-01T00:00:00+00:00")
        raise RuntimeError("boom")
    assert seed_store.list_overrides() == []
    assert seed_store.get_cooldown_until("x") is None


def test_audit_log_has_no_update_or_delete_api() -> None:
    names = [n for n in dir(SqliteStore) if not n.startswith("_")]
    assert not [n for n in names if re.search(r"(delete|update|remove|clear)_?audit", n)]


# Regression: the `until` prefilter compared text with a bare date that could sort *before*
# same-day timestamps with large positive offsets, dropping matching events.
OFFSET_MINUTES = st.sampled_from([-(24 * 60 - 1), -720, -300, 0, 345, 540, 840, 24 * 60 - 1]) \
    | st.integers(-(24 * 60 - 1), 24 * 60 - 1)
MINUTES = st.integers(0, 72 * 60)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(MINUTES, OFFSET_MINUTES), min_size=1, max_size=20),
       st.none() | MINUTES, st.none() | MINUTES, OFFSET_MINUTES)
def test_time_range_matches_brute_force(rows: list[tuple[int, int]], since_min: int | None,
                                        until_min: int | None, query_offset: int) -> None:
    base = datetime(2026, 3, 1, tzinfo=UTC)
    qtz = timezone(timedelta(minutes=query_offset))

    def at(minutes: int) -> datetime:
        return (base + timedelta(minutes=minutes)).astimezone(qtz)

    flt = AuditFilter(since=None if since_min is None else at(since_min),
                      until=None if until_min is None else at(until_min))
    with SqliteStore.in_memory() as s:
        stamps = {}
        for minutes, offset in rows:
            stamp = (base + timedelta(minutes=minutes)).astimezone(
                timezone(timedelta(minutes=offset)))
            item = AuditEvent(0, stamp, ServiceStarted())
            s.append_audit(item)
            stamps[item.id] = minutes
        expected = sorted((i for i, m in stamps.items()
                           if (since_min is None or m >= since_min)
                           and (until_min is None or m < until_min)), reverse=True)
        assert [e.id for e in s.find_audits(flt, limit=100).events] == expected


def _vm_steps(store: SqliteStore, fn: Any) -> int:
    """SQLite virtual-machine steps (in hundreds) that `fn` costs on `store`'s connection."""
    steps = [0]

    def tick() -> int:
        steps[0] += 1
        return 0

    store._conn.set_progress_handler(tick, 100)
    try:
        fn()
    finally:
        store._conn.set_progress_handler(None, 0)
    return steps[0]


# Regression: `SELECT min(id), max(id)` defeats SQLite's min/max shortcut and scanned the whole
# audit log on every page read (60 ms on 1,000,000 rows).
@pytest.mark.parametrize("layout", ["seed", "rust"])
def test_newest_page_does_not_scan_the_log(tmp_path: Path, layout: str,
                                           request: pytest.FixtureRequest) -> None:
    path = tmp_path / "big.db" if layout == "seed" else request.getfixturevalue("rust_copy")
    SqliteStore.open(path).close()
    text = '{"type":"policy_loaded","entry_count":3}'
    conn = raw_conn(path)
    conn.execute("BEGIN")
    if layout == "seed":
        conn.executemany("INSERT INTO audit_log (timestamp, event_type, event_data) "
                         "VALUES (?, 'policy_loaded', ?)",
                         [("2026-01-01T00:00:00+00:00", text)] * 30_000)
    else:
        conn.executemany("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                         [("2026-01-01T00:00:00+00:00", text)] * 30_000)
    conn.execute("COMMIT")
    conn.close()
    with SqliteStore.open(path, read_only=True) as s:
        full_scan = _vm_steps(s, lambda: s._read("SELECT count(timestamp) FROM audit_log"))
        assert full_scan > 300
        assert _vm_steps(s, s.audit_id_range) < 5
        assert _vm_steps(s, lambda: s.get_recent_audits(200)) < full_scan / 10
        assert _vm_steps(s, s.change_token) < 5
        assert len(s.get_recent_audits(200)) == 200


def test_invalid_json_row_in_rust_layout(rust_copy: Path) -> None:
    conn = raw_conn(rust_copy)
    conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES "
                 "('2026-07-05T10:00:00-04:00', '{\"type\":\"session_started\",\"entry_id\":')")
    conn.close()
    with SqliteStore.open(rust_copy, read_only=True) as s:
        recent = s.get_recent_audits(3)
        assert recent[0].id == 24
        assert isinstance(recent[0].event, UnknownEvent) and recent[0].event.malformed
        assert recent[0].type == ""
        assert [e.id for e in s.find_audits(AuditFilter(entry_id="minecraft")).events] == [21]
        started = s.find_audits(AuditFilter(event_types=frozenset({"session_started"}))).events
        assert [e.id for e in started] == [21, 10, 5]
        assert [e.id for e in s.find_audits(AuditFilter(session_id=S[0])).events] == []
        assert s.entry_labels()["minecraft"] == "Minecraft"


@pytest.mark.parametrize("fixture", ["seed", "rust"])
def test_entry_labels_read_only_what_the_log_added(fixture: str, tmp_path: Path,
                                                   rust_copy: Path) -> None:
    # The window asks for every label after each commit; rescanning a log of 100,000 events
    # each time kept a worker busy and the GUI thread waiting for the GIL.
    path = tmp_path / "seed.db" if fixture == "seed" else rust_copy
    if fixture == "seed":
        with SqliteStore.open(path) as store:
            store.append_audit(AuditEvent.new(SessionStarted(
                "99999999-9999-4999-8999-999999999990", "tuxmath", "Tux Math", None)))
    with SqliteStore.open(path, read_only=True) as reader:
        first = reader.entry_labels()
        assert first
        scanned: list[str] = []
        reader._conn.set_trace_callback(scanned.append)
        assert reader.entry_labels() == first
        with SqliteStore.open(path) as writer:
            writer.append_audit(AuditEvent.new(SessionStarted(
                "99999999-9999-4999-8999-999999999999", "newgame", "New Game", None)))
            writer.append_audit(AuditEvent.new(SessionStarted(
                "99999999-9999-4999-8999-999999999998", next(iter(first)), "Renamed", None)))
        labels = reader.entry_labels()
        assert labels == first | {"newgame": "New Game", next(iter(first)): "Renamed"}
        scans = [sql for sql in scanned if "json_extract" in sql]
        assert scans and all("id >" in sql for sql in scans), scans  # never the whole log
        conn = raw_conn(path)
        conn.execute("DELETE FROM audit_log")  # emptied in place: nothing stale is kept
        conn.close()
        assert reader.entry_labels() == {}
