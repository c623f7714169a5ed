"""Property tests: every event variant, end reason and snapshot survives encode → store → load
in both layouts, with offsets, microseconds and field order intact."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shepherd_store import (
    AdminStop,
    AuditEvent,
    ClientConnected,
    ClientDisconnected,
    ConfigReloaded,
    Expired,
    LaunchDenied,
    LaunchFailed,
    Layout,
    ManualOverride,
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
    StateSnapshot,
    UnknownEvent,
    UserStop,
    WarningIssued,
    decode_event,
    decode_snapshot,
    encode_event,
    encode_snapshot,
)
from shepherd_store.events import EVENT_TYPES
from shepherd_store.timefmt import (
    format_duration,
    format_timestamp,
    parse_duration,
    parse_timestamp,
)

FAST = settings(max_examples=100, deadline=None)
# The store fixtures are shared by all examples of a test: each example reads back its own row.
IN_MEMORY = settings(max_examples=100, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
ON_DISK = settings(max_examples=50, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])

offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
aware = st.builds(lambda dt, tz: dt.replace(tzinfo=tz), st.datetimes(), offsets)
durations = st.timedeltas(min_value=timedelta(0))
uuids = st.uuids().map(str)
u64 = st.integers(0, 2**64 - 1)

reasons = st.one_of(
    st.just(Expired()), st.just(UserStop()), st.just(AdminStop()), st.just(PolicyStop()),
    st.just(ServiceShutdown()),
    st.builds(ProcessExited, st.none() | st.integers(-(2**31), 2**31 - 1)),
    st.builds(LaunchFailed, st.text()),
)
rust_events = st.one_of(
    st.just(ServiceStarted()), st.just(ServiceStopped()),
    st.builds(PolicyLoaded, u64),
    st.builds(SessionStarted, uuids, st.text(), st.text(), st.none() | aware),
    st.builds(WarningIssued, uuids, u64),
    st.builds(SessionEnded, uuids, st.text(), reasons, durations),
    st.builds(LaunchDenied, st.text(), st.lists(st.text(), max_size=5).map(tuple)),
    st.builds(SessionExtended, uuids, durations, aware),
    st.builds(ConfigReloaded, st.booleans()),
    st.builds(ClientConnected, st.text(), st.text(), st.none() | st.integers(0, 2**32 - 1)),
    st.builds(ClientDisconnected, st.text()),
)
opt_text = st.none() | st.text()
overrides = st.builds(ManualOverride, st.text(), opt_text, opt_text, opt_text, st.text())
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
unknown_tags = st.text(min_size=1).filter(lambda t: t not in EVENT_TYPES)


@st.composite
def unknown_events(draw: st.DrawFn) -> UnknownEvent:
    tag = draw(unknown_tags)
    body = draw(st.dictionaries(st.text().filter(lambda k: k != "type"), json_values,
                                max_size=4))
    raw = json.dumps({"type": tag, **body}, separators=(",", ":"), ensure_ascii=False)
    return UnknownEvent(tag, raw)


snapshots = st.builds(
    StateSnapshot,
    aware,
    st.none() | st.builds(SessionSnapshot, uuids, st.text(), aware, aware,
                          st.lists(u64, max_size=6).map(tuple)),
)


RFC3339_OUT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?(Z|[+-]\d\d:\d\d)")


def same_instant_and_offset(a: datetime, b: datetime) -> bool:
    return a == b and a.utcoffset() == b.utcoffset()


# --- pure encode/decode ------------------------------------------------------------------


@FAST
@given(rust_events)
def test_rust_events_roundtrip_text(event: Any) -> None:
    text = encode_event(event, rust=True)
    assert text == encode_event(event)
    back = decode_event(text)
    assert back == event
    assert encode_event(back, rust=True) == text  # offsets and microseconds kept exactly
    obj = json.loads(text)
    assert next(iter(obj)) == "type"


@FAST
@given(reasons, durations)
def test_every_end_reason_roundtrips(reason: Any, duration: timedelta) -> None:
    event = SessionEnded("11111111-1111-4111-8111-111111111111", "e", reason, duration)
    back = decode_event(encode_event(event, rust=True))
    assert isinstance(back, SessionEnded)
    assert back.reason == reason and type(back.reason) is type(reason)
    assert back.duration == duration


@FAST
@given(overrides)
def test_manual_override_roundtrips(event: ManualOverride) -> None:
    assert decode_event(encode_event(event)) == event


@FAST
@given(unknown_events())
def test_unknown_events_are_kept_verbatim(event: UnknownEvent) -> None:
    assert decode_event(event.raw) == event
    assert encode_event(event) == event.raw


@FAST
@given(snapshots)
def test_snapshot_roundtrips_text(snap: StateSnapshot) -> None:
    text = encode_snapshot(snap)
    back = decode_snapshot(text)
    assert back == snap
    assert encode_snapshot(back) == text


@FAST
@given(aware, st.booleans())
def test_timestamp_text_roundtrip(value: datetime, zulu: bool) -> None:
    text = format_timestamp(value, zulu=zulu)
    back = parse_timestamp(text)
    assert same_instant_and_offset(back, value)
    assert RFC3339_OUT.fullmatch(text), text
    assert ("." in text) == bool(value.microsecond)
    assert text.endswith("Z") == (zulu and not value.utcoffset())


@FAST
@given(durations)
def test_duration_roundtrip(value: timedelta) -> None:
    obj = format_duration(value)
    assert obj["nanos"] % 1000 == 0
    assert parse_duration(obj) == value


@FAST
@given(st.text())
def test_decode_never_raises_on_text(text: str) -> None:
    assert decode_event(text) is not None


@FAST
@given(json_values, st.sampled_from(sorted(EVENT_TYPES)))
def test_decode_never_raises_on_json_with_known_tag(body: Any, tag: str) -> None:
    obj = body if isinstance(body, dict) else {"payload": body}
    event = decode_event(json.dumps({**obj, "type": tag}))
    if isinstance(event, UnknownEvent):
        assert event.malformed and event.type == tag


# --- through a store, both layouts ---------------------------------------------------------


@pytest.fixture
def seed() -> Iterator[SqliteStore]:
    with SqliteStore.in_memory() as store:
        yield store


@pytest.fixture
def rust(rust_copy: Path) -> Iterator[SqliteStore]:
    with SqliteStore.open(rust_copy) as store:
        assert store.layout is Layout.RUST
        yield store


def _store_and_load(store: SqliteStore, event: Any, stamp: datetime) -> AuditEvent:
    item = AuditEvent(0, stamp, event)
    store.append_audit(item)
    assert item.id > 0
    got = store.get_recent_audits(1)[0]
    assert got.id == item.id
    return got


@IN_MEMORY
@given(st.one_of(rust_events, overrides, unknown_events()), aware)
def test_events_survive_the_seed_store(seed: SqliteStore, event: Any, stamp: datetime) -> None:
    got = _store_and_load(seed, event, stamp)
    assert got.event == event
    assert encode_event(got.event) == encode_event(event)
    assert same_instant_and_offset(got.timestamp, stamp)
    assert got.type == (event.type if isinstance(event, UnknownEvent) else event.TYPE)


@ON_DISK
@given(rust_events, aware)
def test_events_survive_the_rust_store(rust: SqliteStore, event: Any, stamp: datetime) -> None:
    got = _store_and_load(rust, event, stamp)
    assert got.event == event
    assert encode_event(got.event, rust=True) == encode_event(event, rust=True)
    assert same_instant_and_offset(got.timestamp, stamp)


@IN_MEMORY
@given(reasons, durations, aware)
def test_end_reasons_survive_the_seed_store(seed: SqliteStore, reason: Any,
                                            duration: timedelta, stamp: datetime) -> None:
    event = SessionEnded("22222222-2222-4222-8222-222222222222", "e", reason, duration)
    assert _store_and_load(seed, event, stamp).event == event


@ON_DISK
@given(reasons, durations, aware)
def test_end_reasons_survive_the_rust_store(rust: SqliteStore, reason: Any,
                                            duration: timedelta, stamp: datetime) -> None:
    event = SessionEnded("22222222-2222-4222-8222-222222222222", "e", reason, duration)
    assert _store_and_load(rust, event, stamp).event == event


@IN_MEMORY
@given(snapshots)
def test_snapshots_survive_the_seed_store(seed: SqliteStore, snap: StateSnapshot) -> None:
    seed.save_snapshot(snap)
    back = seed.load_snapshot()
    assert back == snap
    assert back is not None and encode_snapshot(back) == encode_snapshot(snap)
    assert same_instant_and_offset(back.timestamp, snap.timestamp)


@ON_DISK
@given(snapshots)
def test_snapshots_survive_the_rust_store(rust: SqliteStore, snap: StateSnapshot) -> None:
    rust.save_snapshot(snap)
    back = rust.load_snapshot()
    assert back == snap
    assert back is not None and encode_snapshot(back) == encode_snapshot(snap)


@IN_MEMORY
@given(aware)
def test_cooldowns_survive_the_seed_store(seed: SqliteStore, until: datetime) -> None:
    seed.set_cooldown_until("tuxmath", until)
    got = seed.get_cooldown_until("tuxmath")
    assert got is not None and same_instant_and_offset(got, until)


@ON_DISK
@given(aware)
def test_cooldowns_survive_the_rust_store(rust: SqliteStore, until: datetime) -> None:
    rust.set_cooldown_until("minecraft", until)
    got = rust.get_cooldown_until("minecraft")
    assert got is not None and same_instant_and_offset(got, until)


@IN_MEMORY
@given(st.lists(durations.filter(lambda d: d < timedelta(days=10_000)), max_size=5),
       st.dates(min_value=date(1000, 1, 1)))
def test_usage_adds_whole_seconds(seed: SqliteStore, adds: list[timedelta], day: date) -> None:
    before = seed.get_usage("e", day)
    for d in adds:
        seed.add_usage("e", day, d)
    expected = before + timedelta(seconds=sum(d.days * 86400 + d.seconds for d in adds))
    assert seed.get_usage("e", day) == expected


def test_utc_stamp_column_uses_plus_zero_and_json_uses_z(rust: SqliteStore) -> None:


    stamp = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    rust.append_audit(AuditEvent(0, stamp, SessionExtended(
        "11111111-1111-4111-8111-111111111111", timedelta(seconds=1), stamp)))
    conn = sqlite3.connect(rust.path)
    try:
        ts, js = conn.execute(
            "SELECT timestamp, event_json FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    assert ts == "2026-03-01T12:00:00+00:00"
    assert js.endswith('"new_deadline":"2026-03-01T12:00:00Z"}')


# Regression: durations within the last day of timedelta's range encoded but then decoded as
# malformed ("too long to represent").
@pytest.mark.parametrize("value", [timedelta.max, timedelta(days=999_999_999, seconds=1)])
def test_longest_durations_roundtrip(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value
    with pytest.raises(ValueError):
        parse_duration({"secs": format_duration(value)["secs"] + 86400, "nanos": 0})
