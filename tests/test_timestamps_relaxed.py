"""Timestamps are read as the service (chrono 0.4.42) reads them, on each of its two paths.

Times inside event and snapshot JSON go through serde, i.e. chrono's relaxed `FromStr`
(`parse_json_timestamp`); the `cooldowns.until` and `audit_log.timestamp` columns go through
`DateTime::parse_from_rfc3339` (`parse_timestamp`). Every verdict in `TABLE` is what chrono
0.4.42 itself answered for that text on each path (checked against a build of it); a value
chrono accepts is expected as (year, month, day, hour, minute, second, microsecond, offset in
minutes). What is written stays canonical whatever was read.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shepherd_store import (
    SessionStarted,
    SqliteStore,
    UnknownEvent,
    decode_event,
    decode_snapshot,
    encode_event,
    encode_snapshot,
)
from shepherd_store.check import cooldown_problem
from shepherd_store.timefmt import format_timestamp, parse_json_timestamp, parse_timestamp

FAST = settings(max_examples=200, deadline=None)

Fields = tuple[int, int, int, int, int, int, int, int]
T = (2026, 1, 10, 9, 30, 0, 0, 0)  # 2026-01-10 09:30:00 UTC


def at(**kw: int) -> Fields:
    """`T` with some fields replaced (`off` is the offset in minutes)."""
    names = ("year", "month", "day", "hour", "minute", "second", "micro", "off")
    return tuple(kw.get(n, v) for n, v in zip(names, T, strict=True))  # type: ignore[return-value]


#: text, what the JSON (serde, relaxed) path reads, what a column (RFC 3339) reads.
TABLE: list[tuple[str, Fields | None, Fields | None]] = [
    # the canonical forms this library writes: both paths
    ("2026-01-10T09:30:00Z", T, T),
    ("2026-01-10T09:30:00+00:00", T, T),
    ("2026-01-10T09:30:00.250000-05:00", at(micro=250000, off=-300), at(micro=250000, off=-300)),
    # accepted by both: lowercase t/z, one space for the T, any number of fraction digits
    # (nanoseconds kept by chrono, truncated to microseconds here), U+2212 MINUS SIGN, -00:00
    ("2026-01-10t09:30:00z", T, T),
    ("2026-01-10 09:30:00Z", T, T),
    ("2026-01-10T09:30:00.5Z", at(micro=500000), at(micro=500000)),
    ("2026-01-10T09:30:00.123456789Z", at(micro=123456), at(micro=123456)),
    ("2026-01-10T09:30:00.1234567891234Z", at(micro=123456), at(micro=123456)),
    ("2026-01-10T09:30:00.9999999999+01:00", at(micro=999999, off=60), at(micro=999999, off=60)),
    ("2026-01-10T09:30:00\u221205:30", at(off=-330), at(off=-330)),
    ("2026-01-10T09:30:00-00:00", T, T),
    ("2026-01-10T09:30:00+23:59", at(off=1439), at(off=1439)),
    ("2026-01-10T09:30:00-23:59", at(off=-1439), at(off=-1439)),
    ("2026-01-10T09:30:60Z", at(second=59, micro=999999), at(second=59, micro=999999)),
    ("2026-01-10T09:30:60.5Z", at(second=59, micro=999999), at(second=59, micro=999999)),
    # JSON only: no colon in the offset, UTC, spaces, short fields, signed years
    ("2026-01-10T09:30:00+0000", T, None),
    ("2026-01-10T09:30:00-0530", at(off=-330), None),
    ("2026-01-10T09:30:00.123456789123+0100", at(micro=123456, off=60), None),
    ("2026-01-10T09:30:00 UTC", T, None),
    ("2026-01-10T09:30:00UTC", T, None),
    ("2026-01-10T09:30:00 utc", T, None),
    ("2026-01-10T09:30:00 Utc ", T, None),
    ("2026-01-10T09:30:00 Z", T, None),
    ("2026-01-10T09:30:00 +01:00", at(off=60), None),
    ("2026-01-10T09:30:00+01 00", at(off=60), None),
    ("2026-01-10T09:30:00+01: 00", at(off=60), None),
    ("2026-01-10T09:30:00+01::00", at(off=60), None),
    ("2026-01-10T09:30:00Z ", T, None),
    ("2026-01-10T09:30:00Z\n", T, None),
    (" 2026-01-10T09:30:00Z", T, None),
    ("2026-01-10T09:30:00\u3000Z", T, None),  # Unicode whitespace, as Rust's trim_start
    ("2026-1-2T3:4:5Z", at(day=2, month=1, hour=3, minute=4, second=5), None),
    ("2026 - 01 - 10T 09 : 30 : 00 Z", T, None),
    ("2026-01-10  09:30:00Z", T, None),
    ("2026-01-10 \t09:30:00Z", T, None),
    ("+2026-01-10T09:30:00Z", T, None),
    ("+002026-01-10T09:30:00Z", T, None),
    ("26-01-10T09:30:00Z", at(year=26), None),
    # refused by both
    ("2026-01-10T09:30:00", None, None),  # no offset
    ("2026-01-10 09:30:00", None, None),
    ("2026-01-10T09:30:00 GMT", None, None),
    ("2026-01-10T09:30:00+01", None, None),  # no minutes
    ("2026-01-10T09:30:00+1:00", None, None),
    ("2026-01-10T09:30:00+01:0", None, None),
    ("2026-01-10T09:30:00+01:000", None, None),
    ("2026-01-10T09:30:00+01:00:00", None, None),
    ("2026-01-10T09:30:00+24:00", None, None),
    ("2026-01-10T09:30:00+2400", None, None),
    ("2026-01-10T09:30:00+00:60", None, None),
    ("2026-01-10T09:30:00 UTC+01:00", None, None),
    ("2026-01-10T09:30:00ZZ", None, None),
    ("2026-01-10T09:30:00.Z", None, None),
    ("2026-01-10T09:30:00Z.5", None, None),
    ("2026-01-10\t09:30:00Z", None, None),  # the date and time part only at T, t or a space
    ("2026-01-10_09:30:00Z", None, None),
    ("2026-01-10T09:30Z", None, None),  # seconds are required
    ("2026-01-10T09:30:00\x1cZ", None, None),  # Python's whitespace, not Rust's
    ("2026-01-10T09:30:00\u200bZ", None, None),  # zero width space is not whitespace
    ("\uff12\uff10\uff12\uff16-01-10T09:30:00Z", None, None),  # ASCII digits only
    ("2026-01-10T09:30:0\u0663Z", None, None),
    ("20260-01-10T09:30:00Z", None, None),
    ("2026-013-10T09:30:00Z", None, None),
    ("2026-13-10T09:30:00Z", None, None),
    ("2026-00-10T09:30:00Z", None, None),
    ("2026-02-29T09:30:00Z", None, None),
    ("2026-01-10T24:00:00Z", None, None),
    ("2026-01-10T09:60:00Z", None, None),
    ("2026-01-10T09:30:61Z", None, None),
    ("+ 2026-01-10T09:30:00Z", None, None),
    ("\u22122026-01-10T09:30:00Z", None, None),
    ("2026-01-10T09:30:00 U T C", None, None),
    ("1736519400", None, None),
    ("yesterday", None, None),
    ("", None, None),
    (" ", None, None),
]

#: Values chrono accepts (on the paths given) that a Python datetime cannot hold: refused
#: here, with a message that says why.
UNREPRESENTABLE: list[tuple[str, bool]] = [  # text, the column path accepts it too
    ("0000-01-01T00:00:00Z", True),
    ("0000-12-31T23:59:59+00:00", True),
    ("+10000-01-01T00:00:00Z", False),
    ("-0001-01-01T00:00:00Z", False),
    ("-0-01-01T00:00:00Z", False),
    ("0-01-01T00:00:00Z", False),
    ("+262142-12-31T23:59:59Z", False),
]


def fields(value: datetime) -> Fields:
    offset = value.utcoffset()
    assert offset is not None
    return (value.year, value.month, value.day, value.hour, value.minute, value.second,
            value.microsecond, int(offset.total_seconds()) // 60)


def read(parse: object, text: str) -> Fields | None:
    assert callable(parse)
    try:
        return fields(parse(text))
    except ValueError:
        return None


@pytest.mark.parametrize(("text", "json_reads", "column_reads"), TABLE, ids=repr)
def test_each_path_reads_what_chrono_reads(text: str, json_reads: Fields | None,
                                           column_reads: Fields | None) -> None:
    assert read(parse_json_timestamp, text) == json_reads
    assert read(parse_timestamp, text) == column_reads


def test_the_table_covers_both_directions() -> None:
    assert len({t for t, _j, _c in TABLE}) == len(TABLE)
    assert any(j is not None and c is None for _t, j, c in TABLE)
    assert all(j is not None for _t, j, c in TABLE if c is not None)  # columns ⊂ JSON


@pytest.mark.parametrize(("text", "column_too"), UNREPRESENTABLE, ids=repr)
def test_years_python_cannot_hold_are_refused_saying_so(text: str, column_too: bool) -> None:
    with pytest.raises(ValueError, match="1-9999"):
        parse_json_timestamp(text)
    if column_too:
        with pytest.raises(ValueError, match="1-9999"):
            parse_timestamp(text)
    else:
        with pytest.raises(ValueError, match="not an RFC 3339"):
            parse_timestamp(text)


def test_a_huge_signed_year_is_refused_quickly() -> None:
    with pytest.raises(ValueError, match="1-9999"):
        parse_json_timestamp("+" + "9" * 100_000 + "-01-01T00:00:00Z")
    assert fields(parse_json_timestamp("+" + "0" * 10_000 + "2026-01-10T09:30:00Z")) == T


@pytest.mark.parametrize("value", [None, 1736519400, 3.5, ["2026-01-10T09:30:00Z"], b"x"])
def test_only_strings(value: object) -> None:
    for parse in (parse_json_timestamp, parse_timestamp):
        with pytest.raises(ValueError, match="string"):
            parse(value)


def test_utc_reads_as_utc() -> None:
    for text in ("2026-01-10T09:30:00Z", "2026-01-10T09:30:00 UTC", "2026-01-10T09:30:00+0000"):
        assert parse_json_timestamp(text).utcoffset() == timedelta(0)


# --- properties ------------------------------------------------------------------------------

aware = st.builds(
    lambda naive, minutes: naive.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
)


@FAST
@given(aware, st.booleans())
def test_canonical_text_reads_the_same_on_both_paths(value: datetime, zulu: bool) -> None:
    text = format_timestamp(value, zulu=zulu)
    assert fields(parse_timestamp(text)) == fields(parse_json_timestamp(text)) == fields(value)


def relaxed_variants(value: datetime, extra: str, style: int) -> tuple[str, bool]:
    """A spelling of `value` chrono's relaxed parser reads; and whether RFC 3339 does too."""
    offset = value.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds()) // 60
    date_part = f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    time_part = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    frac = f".{value.microsecond:06d}{extra}"
    hh, mm = divmod(abs(minutes), 60)
    sign = "-" if minutes < 0 else "+"
    if style == 0:  # no colon
        return f"{date_part}T{time_part}{frac}{sign}{hh:02d}{mm:02d}", False
    if style == 1:  # spaces around and inside
        return f" {date_part} {time_part}{frac} {sign}{hh:02d} {mm:02d} ", False
    if style == 2:  # U+2212 and lowercase separators: RFC 3339 reads them too
        sign = "\u2212" if minutes < 0 else "+"
        return f"{date_part}t{time_part}{frac}{sign}{hh:02d}:{mm:02d}", True
    if style == 3 and minutes == 0:
        return f"{date_part}T{time_part}{frac} UTC", False
    return f"{date_part}T{time_part}{frac}{sign}{hh:02d}:{mm:02d}", True


@FAST
@given(aware, st.text("0123456789", max_size=12), st.integers(min_value=0, max_value=4))
def test_relaxed_spellings_read_as_the_same_time(value: datetime, extra: str,
                                                 style: int) -> None:
    text, rfc3339 = relaxed_variants(value, extra, style)
    assert fields(parse_json_timestamp(text)) == fields(value), text
    if rfc3339:
        assert fields(parse_timestamp(text)) == fields(value), text
    else:
        with pytest.raises(ValueError):
            parse_timestamp(text)


@FAST
@given(st.text(max_size=40))
def test_any_text_is_read_or_refused_with_a_value_error(text: str) -> None:
    for parse in (parse_json_timestamp, parse_timestamp):
        try:
            value = parse(text)
        except ValueError:
            continue
        assert value.utcoffset() is not None


# --- the decoders use the right path -----------------------------------------------------------

SID = "0b5f2c1e-4a0d-4c3b-9a59-3b7e4f1d2c6a"


def started(deadline: str) -> str:
    return json.dumps({"type": "session_started", "session_id": SID, "entry_id": "tuxmath",
                       "label": "TuxMath", "deadline": deadline})


@pytest.mark.parametrize("deadline", ["2026-01-10T09:30:00+0000", "2026-01-10T09:30:00 UTC",
                                      "2026-01-10 09:30:00 +00:00",
                                      "2026-01-10T09:30:00.000000000000Z"])
def test_events_read_json_times_like_serde_and_write_them_canonical(deadline: str) -> None:
    event = decode_event(started(deadline))
    assert isinstance(event, SessionStarted), event
    assert event.deadline is not None and fields(event.deadline) == T
    assert json.loads(encode_event(event))["deadline"] == "2026-01-10T09:30:00Z"


@pytest.mark.parametrize("deadline", ["2026-01-10T09:30:00", "2026-01-10T09:30:00+01",
                                      "2026-01-10T09:30:00 GMT", "2026-01-10T09:30:00+24:00"])
def test_events_the_service_refuses_stay_malformed(deadline: str) -> None:
    event = decode_event(started(deadline))
    assert isinstance(event, UnknownEvent) and event.malformed and event.error


def test_snapshots_read_json_times_like_serde() -> None:
    text = json.dumps({"timestamp": "2026-01-10 09:30:00.123456789 -0500", "active_session": {
        "session_id": SID, "entry_id": "tuxmath", "started_at": "2026-01-10T09:00:00 UTC",
        "deadline": " 2026-01-10T10:00:00+0100 ", "warnings_issued": [300]}})
    snap = decode_snapshot(text)
    assert fields(snap.timestamp) == at(micro=123456, off=-300)
    assert snap.active_session is not None
    assert fields(snap.active_session.started_at) == at(minute=0)
    assert fields(snap.active_session.deadline) == at(hour=10, minute=0, off=60)
    written = json.loads(encode_snapshot(snap))
    assert written["timestamp"] == "2026-01-10T09:30:00.123456-05:00"
    assert written["active_session"]["started_at"] == "2026-01-10T09:00:00Z"
    assert written["active_session"]["deadline"] == "2026-01-10T10:00:00+01:00"


def test_a_snapshot_time_without_offset_stays_unreadable() -> None:
    with pytest.raises(Exception, match="cannot be read"):
        decode_snapshot(json.dumps({"timestamp": "2026-01-10T09:30:00",
                                    "active_session": None}))


def _seed(tmp_path: Path) -> Path:
    path = tmp_path / "times.db"
    SqliteStore.open(path).close()
    return path


@pytest.mark.parametrize(("until", "reads"), [
    ("2026-01-10T09:30:00.123456789123+00:00", at(micro=123456)),
    ("2026-01-10T09:30:00\u221205:00", at(off=-300)),
    ("2026-01-10 09:30:00z", T),
    ("2026-01-10T09:30:00+0000", None),
    ("2026-01-10T09:30:00 UTC", None),
    ("2026-01-10T09:30:00Z ", None),
])
def test_cooldown_column_reads_as_rfc3339(tmp_path: Path, until: str,
                                          reads: Fields | None) -> None:
    path = _seed(tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO cooldowns (entry_id, until) VALUES ('tuxmath', ?)", (until,))
    conn.close()
    with SqliteStore.open(path, read_only=True) as store:
        value = store.get_cooldown_until("tuxmath")
        assert (None if value is None else fields(value)) == reads
        (record,) = store.all_cooldowns()
        assert record.raw == until
        assert (None if record.until is None else fields(record.until)) == reads
    assert (cooldown_problem(until) is None) == (reads is not None)


@pytest.mark.parametrize(("stamp", "reads"), [
    ("2026-01-10T09:30:00.123456789123+00:00", at(micro=123456)),
    ("2026-01-10T09:30:00+0000", None),
    ("2026-01-10T09:30:00 UTC", None),
])
def test_audit_timestamp_column_reads_as_rfc3339(tmp_path: Path, stamp: str,
                                                 reads: Fields | None) -> None:
    path = _seed(tmp_path)
    with SqliteStore.open(path) as store:
        layout = store.layout
    with sqlite3.connect(path) as conn:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(audit_log)")]
        if "event_json" in cols:
            conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                         (stamp, '{"type":"service_started"}'))
        else:
            conn.execute("INSERT INTO audit_log (timestamp, event_type, event_data) "
                         "VALUES (?, 'service_started', ?)", (stamp, '{"type":"service_started"}'))
    conn.close()
    with SqliteStore.open(path, read_only=True) as store:
        assert store.layout is layout
        (event,) = store.get_recent_audits(5)
    assert event.raw_timestamp == stamp
    if reads is None:
        assert isinstance(event.event, UnknownEvent) and event.event.malformed
        assert "bad timestamp" in (event.event.error or "")
    else:
        assert fields(event.timestamp) == reads
        assert not isinstance(event.event, UnknownEvent)


def test_the_written_cooldown_and_audit_columns_stay_canonical(tmp_path: Path) -> None:
    path = _seed(tmp_path)
    value = datetime(2026, 1, 10, 9, 30, 0, 5, tzinfo=UTC)
    with SqliteStore.open(path) as store:
        store.set_cooldown_until("tuxmath", value)
    with sqlite3.connect(path) as conn:
        (until,) = conn.execute("SELECT until FROM cooldowns").fetchone()
    conn.close()
    assert until == "2026-01-10T09:30:00.000005+00:00"
