"""Event and snapshot JSON: the exact serde text forms, refusals, and malformed input."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from shepherd_store import (
    AdminStop,
    AuditEvent,
    ClientConnected,
    ClientDisconnected,
    ConfigReloaded,
    Expired,
    LaunchDenied,
    LaunchFailed,
    ManualOverride,
    PolicyLoaded,
    PolicyStop,
    ProcessExited,
    SerializationError,
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

U = "11111111-1111-4111-8111-111111111111"
EST = timezone(timedelta(hours=-5))
T0 = datetime(2026, 1, 10, 9, 30, tzinfo=EST)

EXACT: list[tuple[Any, str]] = [
    (ServiceStarted(), '{"type":"service_started"}'),
    (ServiceStopped(), '{"type":"service_stopped"}'),
    (PolicyLoaded(3), '{"type":"policy_loaded","entry_count":3}'),
    (SessionStarted(U, "tuxmath", "Tux Math", T0),
     '{"type":"session_started","session_id":"' + U + '","entry_id":"tuxmath",'
     '"label":"Tux Math","deadline":"2026-01-10T09:30:00-05:00"}'),
    (SessionStarted(U, "tuxmath", "Tux Math", None),
     '{"type":"session_started","session_id":"' + U + '","entry_id":"tuxmath",'
     '"label":"Tux Math","deadline":null}'),
    (SessionStarted(U, "e", "l", datetime(2026, 1, 10, 14, 30, 0, 5, tzinfo=UTC)),
     '{"type":"session_started","session_id":"' + U + '","entry_id":"e","label":"l",'
     '"deadline":"2026-01-10T14:30:00.000005Z"}'),
    (WarningIssued(U, 300),
     '{"type":"warning_issued","session_id":"' + U + '","threshold_seconds":300}'),
    (SessionEnded(U, "tuxmath", Expired(), timedelta(seconds=2700)),
     '{"type":"session_ended","session_id":"' + U + '","entry_id":"tuxmath",'
     '"reason":{"type":"expired"},"duration":{"secs":2700,"nanos":0}}'),
    (SessionEnded(U, "t", ProcessExited(0), timedelta(seconds=90, microseconds=700000)),
     '{"type":"session_ended","session_id":"' + U + '","entry_id":"t",'
     '"reason":{"type":"process_exited","exit_code":0},"duration":{"secs":90,"nanos":700000000}}'),
    (SessionEnded(U, "t", ProcessExited(None), timedelta(0)),
     '{"type":"session_ended","session_id":"' + U + '","entry_id":"t",'
     '"reason":{"type":"process_exited","exit_code":null},"duration":{"secs":0,"nanos":0}}'),
    (SessionEnded(U, "t", ProcessExited(-9), timedelta(days=2, microseconds=1)),
     '{"type":"session_ended","session_id":"' + U + '","entry_id":"t",'
     '"reason":{"type":"process_exited","exit_code":-9},"duration":{"secs":172800,"nanos":1000}}'),
    (SessionEnded(U, "t", LaunchFailed("spawn failed: \"x\""), timedelta(0)),
     '{"type":"session_ended","session_id":"' + U + '","entry_id":"t",'
     '"reason":{"type":"launch_failed","error":"spawn failed: \\"x\\""},'
     '"duration":{"secs":0,"nanos":0}}'),
    (LaunchDenied("tuxmath", ("QuotaExhausted { used: 3600s, quota: 3600s }", "b")),
     '{"type":"launch_denied","entry_id":"tuxmath",'
     '"reasons":["QuotaExhausted { used: 3600s, quota: 3600s }","b"]}'),
    (LaunchDenied("tuxmath", ()), '{"type":"launch_denied","entry_id":"tuxmath","reasons":[]}'),
    (SessionExtended(U, timedelta(seconds=900), datetime(2026, 1, 10, 9, 45, tzinfo=EST)),
     '{"type":"session_extended","session_id":"' + U + '","extended_by":{"secs":900,"nanos":0},'
     '"new_deadline":"2026-01-10T09:45:00-05:00"}'),
    (ConfigReloaded(True), '{"type":"config_reloaded","success":true}'),
    (ConfigReloaded(False), '{"type":"config_reloaded","success":false}'),
    (ClientConnected(U, "Shell", 1000),
     '{"type":"client_connected","client_id":"' + U + '","role":"Shell","uid":1000}'),
    (ClientConnected(U, "Admin", None),
     '{"type":"client_connected","client_id":"' + U + '","role":"Admin","uid":null}'),
    (ClientDisconnected(U), '{"type":"client_disconnected","client_id":"' + U + '"}'),
    (LaunchDenied("é ü 日本", ("ok",)),
     '{"type":"launch_denied","entry_id":"é ü 日本","reasons":["ok"]}'),
]


@pytest.mark.parametrize(("event", "text"), EXACT, ids=lambda v: getattr(v, "TYPE", None))
def test_exact_text(event: Any, text: str) -> None:
    assert encode_event(event) == text
    assert encode_event(event, rust=True) == text
    assert decode_event(text) == event


@pytest.mark.parametrize(("event", "text"), EXACT, ids=lambda v: getattr(v, "TYPE", None))
def test_type_is_the_first_key_and_text_is_compact(event: Any, text: str) -> None:
    got = encode_event(event)
    obj = json.loads(got)
    assert next(iter(obj)) == "type" and obj["type"] == event.TYPE
    assert got == json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def test_other_reasons_exact() -> None:
    for reason, tag in ((UserStop(), "user_stop"), (AdminStop(), "admin_stop"),
                        (PolicyStop(), "policy_stop"), (ServiceShutdown(), "service_shutdown")):
        text = encode_event(SessionEnded(U, "t", reason, timedelta(seconds=1)))
        assert '"reason":{"type":"' + tag + '"},' in text
        ev = decode_event(text)
        assert isinstance(ev, SessionEnded) and ev.reason == reason


def test_utc_is_z_inside_json_and_offsets_keep_colon() -> None:
    plus = timezone(timedelta(hours=5, minutes=45))
    text = encode_event(SessionExtended(U, timedelta(0), datetime(2026, 1, 1, tzinfo=plus)))
    assert text.endswith('"new_deadline":"2026-01-01T00:00:00+05:45"}')
    text = encode_event(SessionExtended(U, timedelta(0), datetime(2026, 1, 1, tzinfo=UTC)))
    assert text.endswith('"new_deadline":"2026-01-01T00:00:00Z"}')
    zero = timezone(timedelta(0), "UTC+0 named")
    text = encode_event(SessionExtended(U, timedelta(0), datetime(2026, 1, 1, tzinfo=zero)))
    assert text.endswith('"new_deadline":"2026-01-01T00:00:00Z"}')


def test_fraction_digits_are_0_or_6() -> None:
    for micro, frac in ((0, ""), (1, ".000001"), (500000, ".500000"), (999999, ".999999")):
        dt = datetime(2026, 1, 1, 12, 0, 0, micro, tzinfo=EST)
        text = encode_event(SessionExtended(U, timedelta(0), dt))
        assert f'"new_deadline":"2026-01-01T12:00:00{frac}-05:00"' in text


def test_duration_nanos_are_multiples_of_1000() -> None:
    for td in (timedelta(microseconds=1), timedelta(seconds=59, microseconds=999999),
               timedelta(days=400, seconds=3)):
        obj = json.loads(encode_event(SessionExtended(U, td, T0)))["extended_by"]
        assert list(obj) == ["secs", "nanos"]
        assert obj["nanos"] % 1000 == 0 and 0 <= obj["nanos"] < 10**9
        assert timedelta(seconds=obj["secs"], microseconds=obj["nanos"] // 1000) == td


def test_fixture_rows_reencode(rust_v0: Path) -> None:
    conn = sqlite3.connect(f"file:{rust_v0}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT id, event_json FROM audit_log ORDER BY id").fetchall()
    finally:
        conn.close()
    assert len(rows) == 23
    for row_id, text in rows:
        event = decode_event(text)
        assert not isinstance(event, UnknownEvent), row_id
        again = encode_event(event, rust=True)
        assert decode_event(again) == event, row_id
        if row_id == 11:  # 376543211 ns is kept to the microsecond
            assert again == text.replace("376543211", "376543000")
        else:
            assert again == text, row_id


def test_snapshot_exact_text() -> None:
    snap = StateSnapshot(
        datetime(2026, 7, 4, 14, 10, 30, 250000, tzinfo=timezone(timedelta(hours=-4))),
        SessionSnapshot("33333333-3333-4333-8333-333333333333", "minecraft",
                        datetime(2026, 7, 4, 18, 0, tzinfo=UTC),
                        datetime(2026, 7, 4, 15, 0, tzinfo=timezone(timedelta(hours=-4))),
                        (300, 60)))
    assert encode_snapshot(snap) == (
        '{"timestamp":"2026-07-04T14:10:30.250000-04:00","active_session":{'
        '"session_id":"33333333-3333-4333-8333-333333333333","entry_id":"minecraft",'
        '"started_at":"2026-07-04T18:00:00Z","deadline":"2026-07-04T15:00:00-04:00",'
        '"warnings_issued":[300,60]}}')
    assert decode_snapshot(encode_snapshot(snap)) == snap
    none = StateSnapshot(datetime(2026, 1, 1, tzinfo=UTC))
    assert encode_snapshot(none) == '{"timestamp":"2026-01-01T00:00:00Z","active_session":null}'
    assert decode_snapshot(encode_snapshot(none)) == none


# --- refusals ----------------------------------------------------------------------------

NAIVE = datetime(2026, 1, 10, 9, 30)
REFUSED: list[Any] = [
    SessionStarted(U, "e", "l", NAIVE),
    SessionExtended(U, timedelta(0), NAIVE),
    SessionExtended(U, timedelta(seconds=-1), T0),
    SessionEnded(U, "e", Expired(), timedelta(microseconds=-1)),
    SessionStarted("not-a-uuid", "e", "l", None),
    SessionStarted("", "e", "l", None),
    WarningIssued("11111111-1111-4111-8111-11111111111", 1),  # one digit short
    WarningIssued(U, True),
    PolicyLoaded(True),
    PolicyLoaded(-1),
    PolicyLoaded(2**64),
    PolicyLoaded(1.0),  # type: ignore[arg-type]
    PolicyLoaded("3"),  # type: ignore[arg-type]
    ClientConnected(U, "Shell", True),
    ClientConnected(U, "Shell", -1),
    ClientConnected(U, "Shell", 2**32),
    SessionEnded(U, "e", ProcessExited(True), timedelta(0)),
    SessionEnded(U, "e", ProcessExited(2**31), timedelta(0)),
    SessionEnded(U, "e", ProcessExited(-(2**31) - 1), timedelta(0)),
    SessionEnded(U, "e", "expired", timedelta(0)),  # type: ignore[arg-type]
    SessionEnded(U, "e", Expired(), 5),  # type: ignore[arg-type]
    ConfigReloaded(1),  # type: ignore[arg-type]
    LaunchDenied("e", ("ok", 3)),  # type: ignore[arg-type]
    LaunchDenied("e", "abc"),  # type: ignore[arg-type]
    LaunchDenied(None, ()),  # type: ignore[arg-type]
    SessionExtended(U, timedelta(0),
                    datetime(2026, 1, 1, tzinfo=timezone(timedelta(seconds=30)))),
    UnknownEvent("", "{", malformed=True, error="bad"),
    "service_started",
]


@pytest.mark.parametrize("event", REFUSED, ids=repr)
def test_refused_with_serialization_error(event: Any) -> None:
    with pytest.raises(SerializationError):
        encode_event(event)
    with pytest.raises(SerializationError):
        encode_event(event, rust=True)


def test_boundary_ints_accepted() -> None:
    assert '"entry_count":18446744073709551615' in encode_event(PolicyLoaded(2**64 - 1))
    assert '"uid":4294967295' in encode_event(ClientConnected(U, "r", 2**32 - 1))
    text = encode_event(SessionEnded(U, "e", ProcessExited(-(2**31)), timedelta(0)))
    assert '"exit_code":-2147483648' in text


def test_unknown_and_manual_override_refused_for_rust_only() -> None:
    unknown = UnknownEvent("admin_mode_entered", '{"type":"admin_mode_entered","x":1}')
    assert encode_event(unknown) == unknown.raw
    with pytest.raises(SerializationError, match="Rust daemon"):
        encode_event(unknown, rust=True)
    mo = ManualOverride("cooldown", "tuxmath", None, "2026-01-01T00:00:00+00:00", "alice")
    text = encode_event(mo)
    assert text == ('{"type":"manual_override","what":"cooldown","entry_id":"tuxmath",'
                    '"previous":null,"new":"2026-01-01T00:00:00+00:00","user":"alice"}')
    assert decode_event(text) == mo
    with pytest.raises(SerializationError, match="Rust daemon"):
        encode_event(mo, rust=True)


def test_rust_store_refuses_unknown_and_override(rust_copy: Path) -> None:
    before = rust_copy.read_bytes()
    with SqliteStore.open(rust_copy) as store:
        for ev in (UnknownEvent("tokens_adjusted", '{"type":"tokens_adjusted"}'),
                   ManualOverride("usage", "tuxmath", "1", "2", "bob")):
            item = AuditEvent.new(ev)
            with pytest.raises(SerializationError):
                store.append_audit(item)
            assert item.id == 0
        with pytest.raises(SerializationError):
            store.append_audit(AuditEvent(0, NAIVE, ServiceStarted()))
        assert len(store.get_recent_audits(100)) == 23
    assert rust_copy.read_bytes() == before


def test_seed_store_accepts_unknown_and_override() -> None:
    with SqliteStore.in_memory() as store:
        unknown = AuditEvent.new(UnknownEvent("tokens_adjusted", '{"type":"tokens_adjusted"}'))
        store.append_audit(unknown)
        mo = AuditEvent.new(ManualOverride("usage", None, None, None, "bob"))
        store.append_audit(mo)
        got = store.get_recent_audits(10)
        assert [e.id for e in got] == [mo.id, unknown.id]
        assert got[0].event == mo.event
        assert got[1].event == UnknownEvent("tokens_adjusted", '{"type":"tokens_adjusted"}')
        assert got[1].type == "tokens_adjusted"


SNAP_TS = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("session", [
    SessionSnapshot(U, "e", SNAP_TS, None, ()),  # type: ignore[arg-type]
    SessionSnapshot("nope", "e", SNAP_TS, SNAP_TS, ()),
    SessionSnapshot(U, "e", NAIVE, SNAP_TS, ()),
    SessionSnapshot(U, "e", SNAP_TS, NAIVE, ()),
    SessionSnapshot(U, 7, SNAP_TS, SNAP_TS, ()),  # type: ignore[arg-type]
    SessionSnapshot(U, "e", SNAP_TS, SNAP_TS, (True,)),
    SessionSnapshot(U, "e", SNAP_TS, SNAP_TS, (-1,)),
])
def test_snapshot_refusals(session: SessionSnapshot) -> None:
    with pytest.raises(SerializationError):
        encode_snapshot(StateSnapshot(SNAP_TS, session))


def test_snapshot_naive_timestamp_refused() -> None:
    with pytest.raises(SerializationError):
        encode_snapshot(StateSnapshot(NAIVE))


@pytest.mark.parametrize("text", [
    "", "{", "null", "[]", "42", '"x"',
    '{"timestamp":"2026-01-01 00:00:00","active_session":null}',
    '{"timestamp":"2026-01-01T00:00:00Z","active_session":{"session_id":"' + U + '",'
    '"entry_id":"e","started_at":"2026-01-01T00:00:00Z","deadline":null,"warnings_issued":[]}}',
    '{"timestamp":"2026-01-01T00:00:00Z","active_session":{"session_id":"x",'
    '"entry_id":"e","started_at":"2026-01-01T00:00:00Z","deadline":"2026-01-01T00:00:00Z",'
    '"warnings_issued":[]}}',
    '{"timestamp":"2026-01-01T00:00:00Z","active_session":5}',
    "[" * 100_000 + "]" * 100_000,
])
def test_decode_snapshot_bad_input_raises_serialization_error(text: str) -> None:
    with pytest.raises(SerializationError):
        decode_snapshot(text)


# --- malformed input ----------------------------------------------------------------------

START = ('{"type":"session_started","session_id":"' + U + '","entry_id":"e","label":"l",'
         '"deadline":%s}')
MALFORMED = [
    "", "{", "not json", '{"type":"service_started"', "\x00",
    "null", "[]", "[1,2]", "42", '"service_started"', "true",
    "{}", '{"type":5}', '{"type":null}', '{"type":["x"]}',
    '{"type":"policy_loaded"}',
    '{"type":"policy_loaded","entry_count":null}',
    '{"type":"policy_loaded","entry_count":"3"}',
    '{"type":"policy_loaded","entry_count":true}',
    '{"type":"policy_loaded","entry_count":3.0}',
    '{"type":"policy_loaded","entry_count":-1}',
    '{"type":"policy_loaded","entry_count":18446744073709551616}',
    '{"type":"policy_loaded","entry_count":1e400}',
    '{"type":"policy_loaded","entry_count":NaN}',
    '{"type":"config_reloaded","success":1}',
    '{"type":"session_ended","session_id":"' + U + '","entry_id":"e","reason":{"type":"expired"},'
    '"duration":90.5}',
    '{"type":"session_ended","session_id":"' + U + '","entry_id":"e","reason":{"type":"expired"},'
    '"duration":{"secs":1.5,"nanos":0}}',
    '{"type":"session_ended","session_id":"' + U + '","entry_id":"e","reason":{"type":"expired"},'
    '"duration":{"secs":1,"nanos":1000000000}}',
    '{"type":"session_ended","session_id":"' + U + '","entry_id":"e","reason":{"type":"expired"},'
    '"duration":{"secs":-1,"nanos":0}}',
    '{"type":"session_ended","session_id":"' + U + '","entry_id":"e","reason":{"type":"expired"},'
    '"duration":{"secs":99999999999999999999,"nanos":0}}',
    '{"type":"session_ended","session_id":"' + U + '","entry_id":"e","reason":{"type":"expired"}}',
    '{"type":"session_ended","session_id":"' + U + '","entry_id":"e","reason":"expired",'
    '"duration":{"secs":1,"nanos":0}}',
    '{"type":"session_ended","session_id":"' + U + '","entry_id":"e","reason":{"type":"boom"},'
    '"duration":{"secs":1,"nanos":0}}',
    '{"type":"session_ended","session_id":"' + U + '","entry_id":"e",'
    '"reason":{"type":"process_exited","exit_code":2147483648},"duration":{"secs":1,"nanos":0}}',
    '{"type":"session_ended","session_id":"' + U + '","entry_id":"e",'
    '"reason":{"type":"launch_failed"},"duration":{"secs":1,"nanos":0}}',
    START % '"2026-01-10 09:30:00"',
    START % '"2026-01-10T09:30:00"',
    START % '"2026-01-10T09:30:00+00"',
    START % '"2026-13-10T09:30:00Z"',
    START % '"0000-01-01T00:00:00Z"',
    START % '"2026-01-10T09:30:00+24:00"',
    START % "1736519400",
    START.replace(U, "not-a-uuid") % "null",
    '{"type":"launch_denied","entry_id":"e","reasons":"x"}',
    '{"type":"launch_denied","entry_id":"e","reasons":[1]}',
    '{"type":"client_connected","client_id":"c","role":"r","uid":4294967296}',
    '{"type":"warning_issued","session_id":"' + U + '","threshold_seconds":{"secs":1}}',
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 100_000 + "1" + "}" * 100_000,
    '{"type":"launch_denied","entry_id":"e","reasons":' + "[" * 100_000 + "]" * 100_000 + "}",
]


@pytest.mark.parametrize("text", MALFORMED, ids=lambda t: t[:60])
def test_malformed_never_raises(text: str) -> None:
    event = decode_event(text)
    assert isinstance(event, UnknownEvent)
    assert event.malformed
    assert event.error
    assert event.raw == text


@pytest.mark.parametrize("value", [None, 42, 3.5, ["x"], {"type": "service_started"}])
def test_decode_non_text(value: object) -> None:
    event = decode_event(value)
    assert isinstance(event, UnknownEvent) and event.malformed


def test_decode_bytes() -> None:
    assert decode_event(b'{"type":"service_started"}') == ServiceStarted()
    bad = decode_event(b'{"type":"x\xff"}')
    assert isinstance(bad, UnknownEvent)


def test_unknown_type_is_kept_not_malformed() -> None:
    raw = '{"type":"admin_mode_entered","by":"parent","until":"2026-01-01T00:00:00Z"}'
    event = decode_event(raw)
    assert event == UnknownEvent("admin_mode_entered", raw, malformed=False, error=None)


def test_extra_fields_are_ignored_like_serde() -> None:
    text = '{"type":"policy_loaded","entry_count":3,"new_field":[1,2,3]}'
    assert decode_event(text) == PolicyLoaded(3)


def test_optional_fields_may_be_missing() -> None:
    assert decode_event('{"type":"client_connected","client_id":"c","role":"r"}') == \
        ClientConnected("c", "r", None)
    assert decode_event(START.replace(',"deadline":%s', "")) == SessionStarted(U, "e", "l", None)


@pytest.mark.parametrize(("stamp", "expected"), [
    ("2026-01-10T10:00:00.123456789-05:00", datetime(2026, 1, 10, 10, 0, 0, 123456, tzinfo=EST)),
    ("2026-01-10T10:00:00.5-05:00", datetime(2026, 1, 10, 10, 0, 0, 500000, tzinfo=EST)),
    ("2026-01-10T10:00:00.123-05:00", datetime(2026, 1, 10, 10, 0, 0, 123000, tzinfo=EST)),
    ("2026-01-10T15:00:00Z", datetime(2026, 1, 10, 15, tzinfo=UTC)),
    ("2026-01-10T15:00:00+00:00", datetime(2026, 1, 10, 15, tzinfo=UTC)),
])
def test_timestamp_forms_accepted_on_read(stamp: str, expected: datetime) -> None:
    event = decode_event(START % json.dumps(stamp))
    assert isinstance(event, SessionStarted)
    assert event.deadline == expected
    assert event.deadline is not None
    assert event.deadline.utcoffset() == expected.utcoffset()


# Regression: Python's uuid.UUID accepts forms the daemon's `uuid` crate rejects (hyphens
# anywhere, "urn:" or "uuid:" prefixes, nested braces); writing one would make the daemon
# fail to read the whole log.
@pytest.mark.parametrize("bad", [
    "11111111-1111-4111-8111-1111-11111111",
    "1111111111114111-8111-111111111111-",
    "urn:" + U,
    "uuid:" + U,
    "{{" + U + "}}",
    "{11111111111141118111111111111111}",
    " " + U,
    U + "\n",
])
def test_uuid_forms_the_daemon_rejects(bad: str) -> None:
    with pytest.raises(SerializationError):
        encode_event(WarningIssued(bad, 1))
    text = json.dumps({"type": "warning_issued", "session_id": bad, "threshold_seconds": 1})
    event = decode_event(text)
    assert isinstance(event, UnknownEvent) and event.malformed
    with pytest.raises(SerializationError):
        encode_snapshot(StateSnapshot(SNAP_TS, SessionSnapshot(bad, "e", SNAP_TS, SNAP_TS)))


@pytest.mark.parametrize("good", [
    U, U.upper(), U.replace("-", ""), "{" + U + "}", "urn:uuid:" + U,
])
def test_uuid_forms_the_daemon_accepts(good: str) -> None:
    text = encode_event(WarningIssued(good, 1))
    assert decode_event(text) == WarningIssued(good, 1)


# Regression: a lone surrogate cannot be stored as UTF-8 (nor does serde_json accept one);
# it used to escape as a raw UnicodeEncodeError from sqlite3.
@pytest.mark.parametrize("event", [
    LaunchDenied("tux\ud800", ()),
    LaunchDenied("tux", ("\udfff",)),
    SessionEnded(U, "e", LaunchFailed("\ud83d"), timedelta(0)),
])
def test_lone_surrogates_refused(event: Any) -> None:
    with pytest.raises(SerializationError):
        encode_event(event)
    with SqliteStore.in_memory() as store, pytest.raises(SerializationError):
        store.append_audit(AuditEvent.new(event))


def test_lone_surrogate_escape_decodes_as_malformed() -> None:
    event = decode_event('{"type":"launch_denied","entry_id":"a\\ud800","reasons":[]}')
    assert isinstance(event, UnknownEvent) and event.malformed
    ok = decode_event('{"type":"launch_denied","entry_id":"\\ud83d\\ude00","reasons":[]}')
    assert ok == LaunchDenied("\U0001f600", ())


def test_lone_surrogate_entry_id_in_store_writes() -> None:
    with SqliteStore.in_memory() as store:
        with pytest.raises(SerializationError):
            store.add_usage("tux\ud800", date(2026, 1, 1), timedelta(seconds=5))
        with pytest.raises(SerializationError):
            store.set_cooldown_until("tux\ud800", T0)
        with pytest.raises(SerializationError):
            store.save_snapshot(StateSnapshot(T0, SessionSnapshot(U, "\ud800", T0, T0)))
        assert store.usage_between() == [] and store.all_cooldowns() == []
        assert store.load_snapshot() is None
        store.add_usage("tux", date(2026, 1, 1), timedelta(seconds=5))  # still usable
        assert store.get_usage("tux", date(2026, 1, 1)) == timedelta(seconds=5)
