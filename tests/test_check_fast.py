"""The check's fast path (shepherd_store/check_fast.py): sound, and fast.

- Sound: whatever its patterns accept, the full decoder reads without a problem (valid
  events of every type from the library's encoder, then mutated: field values, dates,
  huge integers, escapes, lone surrogates, keys, whitespace, other types' tags; the Rust
  layout's narrower set of types), for one row and for a range's joined texts.
- Fast: it accepts what the encoder writes for every event type, and every row the real
  Rust store wrote (the fixtures), so only odd rows are decoded.
- Same findings: `check` with the fast path reports exactly what it reports when every row
  is decoded, with the same progress and the same point of cancelling, in chunks of any
  size; its index count equals the keyset walk's.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, fixture_path
from hostile_corpus import build_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shepherd_store.check as check_module
import shepherd_store.store as store_module
from shepherd_store import SqliteStore, StoreError
from shepherd_store.check import _audit_indexes, _index_entries, check, event_problem
from shepherd_store.check_fast import SEP, _proven, patterns
from shepherd_store.events import (
    EVENT_TYPES,
    I32_MAX,
    I32_MIN,
    REASON_TYPES,
    RUST_EVENT_TYPES,
    U32_MAX,
    U64_MAX,
    AuditEvent,
    SessionEnded,
    _specs,
    decode_event,
    encode_event,
)
from shepherd_store.schema import Layout
from shepherd_store.timefmt import (
    MAX_DURATION_SECS,
    format_timestamp,
    parse_json_timestamp,
    parse_timestamp,
)

sys.path.insert(0, str(REPO / "benchmarks"))

from _gen import build

SOUND = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LAYOUTS = (Layout.SEED, Layout.RUST)
_WHEN = datetime(2026, 1, 10, tzinfo=UTC)


def decoder_reads(text: object, layout: Layout) -> bool:
    """The full path's verdict on a row's JSON: no problem."""
    return event_problem(AuditEvent(1, _WHEN, decode_event(text)), layout) is None


def column_reads(stamp: object, parse: Callable[[object], Any] = parse_timestamp) -> bool:
    """The full path's verdict on a row's timestamp column (or, with `parse_json_timestamp`,
    on a time inside its JSON)."""
    try:
        parse(stamp)
    except ValueError:
        return False
    return True


# --- valid events, from the library's encoder -----------------------------------------------

#: Text as people and the daemon write it: no control character but the short escapes,
#: no U+FFFD (what the fast path leaves to the decoder).
PLAIN_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\ufffd")
                     | st.sampled_from('"\\/\n\t\r\b\f'), max_size=16)
#: Any text the encoder takes (no lone surrogate): control characters and U+FFFD too.
ANY_VALID_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=16)
UUIDS = st.uuids().flatmap(lambda u: st.sampled_from(
    [str(u), u.hex, f"{{{u}}}", f"urn:uuid:{u}", str(u).upper()]))
OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda m: timezone(timedelta(minutes=m)))
ANY_MOMENT = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                          timezones=OFFSETS)
MOMENT = ANY_MOMENT.filter(lambda d: (d.month, d.day) != (2, 29))


def kinds(*, canonical: bool) -> dict[str, st.SearchStrategy[Any]]:
    """A value of each field kind: `canonical`, what the fast path must accept; else anything
    the encoder writes (longest integers, 29 February, control characters, U+FFFD)."""
    text = PLAIN_TEXT if canonical else ANY_VALID_TEXT
    return {
        "str": text,
        "uuid": UUIDS,
        "u64": st.integers(0, 10**19 - 1 if canonical else U64_MAX),
        "u32": st.integers(0, 10**9 - 1 if canonical else U32_MAX),
        "i32": st.integers(-(10**9) + 1, 10**9 - 1) if canonical else st.integers(I32_MIN, I32_MAX),
        "bool": st.booleans(),
        "datetime": MOMENT if canonical else ANY_MOMENT,
        "duration": st.timedeltas(min_value=timedelta(0), max_value=timedelta(
            seconds=10**13 - 1 if canonical else MAX_DURATION_SECS)),
        "str_list": st.lists(text, max_size=3).map(tuple),
    }


def variant(cls: type[Any], *, canonical: bool) -> st.SearchStrategy[Any]:
    """Instances of an event or end-reason class, every field drawn by its kind."""
    values = kinds(canonical=canonical)
    values["reason"] = st.sampled_from(list(REASON_TYPES.values())).flatmap(
        lambda r: variant(r, canonical=canonical))
    return st.builds(cls, **{name: st.none() | values[kind] if optional else values[kind]
                             for name, kind, optional, _ in _specs(cls)})


ANY_EVENT = st.sampled_from(list(EVENT_TYPES.values())).flatmap(
    lambda cls: variant(cls, canonical=False))


# --- fast: what the encoder and the daemon write is accepted ----------------------------------


@pytest.mark.parametrize("cls", list(EVENT_TYPES.values()), ids=list(EVENT_TYPES))
@FAST
@given(data=st.data())
def test_the_fast_path_accepts_what_the_encoder_writes(cls: type[Any], data: Any) -> None:
    text = encode_event(data.draw(variant(cls, canonical=True)))
    assert patterns(Layout.SEED).event.fullmatch(text), text
    # In the Rust layout only the daemon's own types (this library's are a problem there).
    assert (patterns(Layout.RUST).event.fullmatch(text) is not None) == (
        cls.TYPE in RUST_EVENT_TYPES), text


@pytest.mark.parametrize("cls", list(REASON_TYPES.values()), ids=list(REASON_TYPES))
@FAST
@given(data=st.data())
def test_the_fast_path_accepts_every_end_reason(cls: type[Any], data: Any) -> None:
    event = data.draw(variant(SessionEnded, canonical=True))
    event = SessionEnded(event.session_id, event.entry_id,
                         data.draw(variant(cls, canonical=True)), event.duration)
    text = encode_event(event, rust=True)
    assert all(patterns(layout).event.fullmatch(text) for layout in LAYOUTS), text


@FAST
@given(MOMENT)
def test_the_fast_path_accepts_the_timestamps_the_library_writes(moment: datetime) -> None:
    for text in (format_timestamp(moment), format_timestamp(moment, zulu=True)):
        assert patterns(Layout.RUST).stamp.fullmatch(text), text


@pytest.mark.parametrize("name", ["rust-v0.db", "rust-v0-nosession.db", "rust-clean.db",
                                  "rust-crash-restarted.db", "rust-crash-down.db"])
def test_every_row_the_rust_store_wrote_is_proven_without_decoding(name: str) -> None:
    pats = patterns(Layout.RUST)
    with SqliteStore.open(fixture_path(name), read_only=True) as store:
        rows = store._read("SELECT timestamp, event_json FROM audit_log")
    assert rows and [r for r in rows if not pats.row_readable(*r)] == []
    stamps, texts = SEP.join(r[0] for r in rows), SEP.join(r[1] for r in rows)
    assert _proven(pats, len(rows), len(rows), "text", "text", stamps, texts)


# --- sound: whatever is accepted, the decoder reads -------------------------------------------

NUMBERS = ["1.0", "1e3", "-1", "-0", "01", "18446744073709551615", "18446744073709551616",
           "4294967295", "4294967296", "2147483647", "2147483648", "-2147483648",
           "-2147483649", "99999999999999999999", "86399999999999", "1000000000"]
#: Pieces that break canonical JSON or timestamps in the ways that matter.
TOKENS = [
    "", "0", "9", "00", "29", "30", "31", "02-29", "02-30", "02-31", "04-31", "13", "0000",
    "9999", "10000", "24", "60", "99", "-", "+", ":", "T", "t", " ", "Z", "z", "\u2212", ".",
    ".123456789123", '"', "\\", "\\u", "\\ud800", "\\udc00", "\\u0041", "\\u0000", "\\n", "\\x",
    "\\'", "\ud800", "\udfff", "\ufffd", "\x00", "\x1f", SEP, "\x7f", "é", "{", "}", "[", "]",
    ",", "null", "true", "false", *NUMBERS, '"type":"service_started"', ',"extra":1',
    '{"secs":1,"nanos":1}', '"x"', " UTC", "+0000",
    *EVENT_TYPES, *REASON_TYPES, "tokens_adjusted",
]
#: What may go inside a JSON string: escapes (a `\\u` one may be half a surrogate pair),
#: control characters (the separator of a range's text among them), lone surrogates.
IN_STRING = ["\\ud800", "\\udc00", "\\ud83d\\ude00", "\\u0000", "\\u001e", "\\u00e9", "\\x",
             "\\'", "\\", '"', "\\n", "\\/", "\x00", "\x1f", SEP, "\ud800", "\ufffd", "\x7f"]
_STRING_VALUE = re.compile(r':"([^"\\]*)"')
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})")
_MONTH_DAY = re.compile(r"(?<=[0-9]{4}-)[0-9]{2}-[0-9]{2}(?=T)")
_NUMBER = re.compile(r"-?[0-9]+")
_TAG = re.compile(r'"type":"([a-z_]*)"')
_OFFSET = re.compile(r"(Z|[+-][0-9]{2}:[0-9]{2})(?=\"|$)")


def _field(valid: st.SearchStrategy[int], edges: list[int]) -> st.SearchStrategy[str]:
    """A two-digit field: valid half the time (so that one bad field is often the only
    one), else a value on or past an edge."""
    return (valid | st.sampled_from(edges)).map(lambda v: f"{v:02d}")


YEARS = st.sampled_from(["0000", "0001", "0004", "1900", "2000", "2023", "2024", "9999",
                         "10000", "+2024", "202"])
MONTHS = _field(st.integers(1, 12), [0, 2, 2, 13, 99])
DAYS = _field(st.integers(1, 28), [0, 29, 30, 31, 32])
HOURS, MINUTES = _field(st.integers(0, 23), [24, 99]), _field(st.integers(0, 59), [60, 99])
MONTH_DAYS = st.tuples(MONTHS, DAYS).map("-".join)
FRACTIONS = st.sampled_from(["", ".", ".1", ".123456", ".123456789", ".1234567890123"])
OFFSETS_TEXT = st.sampled_from(["Z", "+00:00", "-05:00", "+23:59", "-23:59", "z", "+24:00",
                                "+00:60", "+0000", " UTC", "", "+05", "\u221205:00"])


def _replace(text: str, pattern: re.Pattern[str], group: int,
             by: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """`text` with one match's `group` replaced by a drawn string."""
    found = list(pattern.finditer(text))
    if not found:
        return st.just(text)
    return st.tuples(st.sampled_from(found), by).map(
        lambda t: text[:t[0].start(group)] + t[1] + text[t[0].end(group):])


def mutated(text: str) -> st.SearchStrategy[str]:
    """One change to `text`: a token or any text spliced in, a date's fields, a number, an
    offset or the tag replaced, keys swapped or whitespace added."""
    two = st.integers(0, 99).map(lambda v: f"{v:02d}")
    splice = st.tuples(st.integers(0, len(text)), st.integers(0, 12),
                       st.sampled_from(TOKENS) | st.text(max_size=4)).map(
        lambda t: text[:t[0]] + t[2] + text[t[0] + t[1]:])
    return st.one_of(
        splice,
        _replace(text, _STRING_VALUE, 1, st.tuples(st.sampled_from(IN_STRING), st.text(
            max_size=3)).map("".join)),
        _replace(text, _DATE, 1, YEARS), _replace(text, _MONTH_DAY, 0, MONTH_DAYS),
        _replace(text, _DATE, 2, MONTHS), _replace(text, _DATE, 3, DAYS),
        _replace(text, _DATE, 4, HOURS | two), _replace(text, _DATE, 5, MINUTES | two),
        _replace(text, _DATE, 6, MINUTES | two),
        _replace(text, _OFFSET, 1, st.sampled_from(
            ["Z", "z", "+00:00", "-00:00", "+23:59", "+24:00", "-00:60", "+0000", " UTC", "UTC",
             "\u221205:00", "+5:00", ""])),
        _replace(text, _NUMBER, 0, st.integers(-(2**70), 2**70).map(str)
                 | st.sampled_from(NUMBERS)),
        _replace(text, _TAG, 1, st.sampled_from([*EVENT_TYPES, *REASON_TYPES, "x", ""])),
        st.just(text.replace('":', '": ', 1)), st.just(text.replace(",", ", ", 1)),
        st.just(re.sub(r',("[a-z_]+":[^,]*),("[a-z_]+":[^,}]*)', r",\2,\1", text, count=1)),
    )


def mutations(text: str, rounds: int) -> st.SearchStrategy[str]:
    strategy = st.just(text)
    for _ in range(rounds):
        strategy = strategy.flatmap(mutated)
    return strategy


@SOUND
@given(ANY_EVENT, st.integers(0, 3), st.data())
def test_whatever_the_fast_path_accepts_the_decoder_reads(event: Any, rounds: int,
                                                          data: Any) -> None:
    text = data.draw(mutations(encode_event(event), rounds))
    for layout in LAYOUTS:
        if patterns(layout).event.fullmatch(text):
            assert decoder_reads(text, layout), (layout, text)


ALL_MONTH_DAYS = [f"{m:02d}-{d:02d}" for m in range(14) for d in range(33)]


@settings(SOUND, max_examples=100)
@given(st.tuples(YEARS, st.just("T") | st.sampled_from(["t", " "]), HOURS, MINUTES, MINUTES,
                 FRACTIONS, OFFSETS_TEXT), st.data())
def test_whatever_the_timestamp_pattern_accepts_both_parsers_read(parts: Any, data: Any) -> None:
    """Every month and day (00-13, 00-32) with the drawn year, time and offset, then the
    whole text mutated."""
    year, sep, hour, minute, second, fraction, offset = parts
    pattern = patterns(Layout.RUST).stamp
    for month_day in ALL_MONTH_DAYS:
        text = f"{year}-{month_day}{sep}{hour}:{minute}:{second}{fraction}{offset}"
        if pattern.fullmatch(text):
            assert column_reads(text) and column_reads(text, parse_json_timestamp), text
    text = data.draw(mutations(f"{year}-01-01T{hour}:{minute}:{second}{fraction}{offset}", 2))
    if pattern.fullmatch(text):
        assert column_reads(text) and column_reads(text, parse_json_timestamp), text


def test_a_deadline_is_accepted_only_when_its_day_exists() -> None:
    """The same inside event JSON (the relaxed parser)."""
    sid = "11111111-1111-4111-8111-111111111111"
    for year in ("0001", "1900", "2000", "2023", "2024"):
        for month_day in ALL_MONTH_DAYS:
            text = (f'{{"type":"session_extended","session_id":"{sid}","extended_by":'
                    f'{{"secs":1,"nanos":0}},"new_deadline":"{year}-{month_day}T10:00:00Z"}}')
            if patterns(Layout.RUST).event.fullmatch(text):
                assert decoder_reads(text, Layout.RUST), text


def test_a_day_is_accepted_exactly_when_it_exists_but_29_february() -> None:
    pats = patterns(Layout.RUST)
    for year in (0, 1, 4, 1900, 2000, 2023, 2024, 9999):
        for month in range(14):
            for day in range(33):
                text = f"{year:04d}-{month:02d}-{day:02d}T12:00:00+01:00"
                accepted = pats.stamp.fullmatch(text) is not None
                assert accepted <= column_reads(text), text
                assert accepted == (column_reads(text) and (month, day) != (2, 29)), text


@pytest.mark.parametrize(("kind", "low", "high"), [
    ("u64", 0, U64_MAX), ("u32", 0, U32_MAX), ("i32", I32_MIN, I32_MAX),
    ("secs", 0, MAX_DURATION_SECS), ("nanos", 0, 10**9 - 1)])
def test_an_integer_is_accepted_only_within_its_range(kind: str, low: int, high: int) -> None:
    """Every bound and power of ten around it, in the field of that kind."""
    sid = "11111111-1111-4111-8111-111111111111"
    make = {
        "u64": lambda v: f'{{"type":"policy_loaded","entry_count":{v}}}',
        "u32": lambda v: f'{{"type":"client_connected","client_id":"c","role":"r","uid":{v}}}',
        "i32": lambda v: (f'{{"type":"session_ended","session_id":"{sid}","entry_id":"e",'
                          f'"reason":{{"type":"process_exited","exit_code":{v}}},'
                          '"duration":{"secs":1,"nanos":0}}'),
        "secs": lambda v: (f'{{"type":"session_extended","session_id":"{sid}","extended_by":'
                           f'{{"secs":{v},"nanos":0}},"new_deadline":"2026-01-10T10:00:00Z"}}'),
        "nanos": lambda v: (f'{{"type":"session_extended","session_id":"{sid}","extended_by":'
                            f'{{"secs":1,"nanos":{v}}},"new_deadline":"2026-01-10T10:00:00Z"}}'),
    }[kind]
    values = {low, high, low - 1, high + 1, 0, -1, 2**64, -(2**64)}
    for power in range(22):
        values |= {10**power - 1, 10**power, -(10**power), -(10**power) + 1}
    for value in sorted(values):
        text = make(value)
        accepted = patterns(Layout.RUST).event.fullmatch(text) is not None
        assert accepted <= decoder_reads(text, Layout.RUST), text
        if low <= value <= high and len(str(abs(value))) < len(str(high)):
            assert accepted, text  # fewer digits than the bound: always fast


def test_the_rust_layout_takes_only_the_daemons_types() -> None:
    override = ('{"type":"manual_override","what":"cooldown","entry_id":"x","previous":null,'
                '"new":"2026-01-10T10:00:00Z","user":"me"}')
    assert patterns(Layout.SEED).event.fullmatch(override)
    assert not patterns(Layout.RUST).event.fullmatch(override)
    assert not decoder_reads(override, Layout.RUST)


ROW = st.tuples(ANY_MOMENT.map(format_timestamp), ANY_EVENT.map(encode_event))


@SOUND
@given(st.lists(ROW, min_size=1, max_size=5), st.data())
def test_whatever_a_range_proves_every_row_of_it_reads(rows: list[tuple[str, str]],
                                                        data: Any) -> None:
    """The joined texts of a range: a value holding the separator cannot pass for two."""
    stamps = [data.draw(st.just(s) | mutated(s)) for s, _ in rows]
    texts = [data.draw(st.just(t) | mutated(t)) for _, t in rows]
    for layout in LAYOUTS:
        n = len(rows)
        if _proven(patterns(layout), n, n, "text", "text", SEP.join(stamps), SEP.join(texts)):
            assert all(column_reads(s) for s in stamps), stamps
            assert all(decoder_reads(t, layout) for t in texts), texts


def test_a_value_holding_the_separator_is_not_two_rows() -> None:
    pats = patterns(Layout.RUST)
    good, stamp = '{"type":"service_started"}', "2026-01-10T10:00:00Z"
    assert _proven(pats, 2, 2, "text", "text", stamp + SEP + stamp, good + SEP + good)
    assert not _proven(pats, 1, 1, "text", "text", stamp, good + SEP + good)
    assert not _proven(pats, 2, 2, "text", "text", stamp + SEP + stamp, good)
    assert not _proven(pats, 3, 2, "text", "text", stamp + SEP + stamp, good + SEP + good)
    assert not _proven(pats, 1, 1, "blob", "text", stamp, good)
    assert not _proven(pats, 1, 1, "text", "integer", stamp, good)


# --- same findings: `check` as if every row were decoded --------------------------------------

TINY = {"SCAN_CHUNK": 7, "SCAN_START": 7, "SCAN_LOWEST": 1, "INDEXED_START": 5,
        "INDEXED_CHUNK": 9, "ROW_START": 3, "ROW_LOWEST": 1, "ROW_CHUNK": 3}
SID = "22222222-2222-4222-8222-222222222222"
#: Rows on the edge of what the fast path takes: (timestamp column, event JSON).
EDGE_ROWS: list[tuple[Any, Any]] = [
    ("2024-02-29T10:00:00Z", '{"type":"session_started","session_id":"' + SID + '",'
     '"entry_id":"a","label":"A","deadline":"2024-02-29T10:30:00Z"}'),
    ("2023-02-29T10:00:00Z", '{"type":"service_started"}'),
    ("2024-01-01T10:00:00Z", '{"type":"session_started","session_id":"' + SID + '",'
     '"entry_id":"a","label":"A","deadline":"2023-02-30T10:30:00Z"}'),
    ("2024-01-01T10:00:00Z", '{"type":"client_disconnected","client_id":"caf\\u00e9"}'),
    ("2024-01-01T10:00:00Z", '{"type":"client_disconnected","client_id":"\\ud800"}'),
    ("2024-01-01 10:00:00+00:00", '{"type":"service_stopped"}'),
    ("2024-01-01T10:00:00", '{"type":"service_stopped"}'),
    ("2024-01-01T23:59:60Z", '{"type":"service_stopped"}'),
    (20240101, '{"type":"service_stopped"}'),
    (b"2024-01-01T10:00:00Z", '{"type":"service_stopped"}'),
    ("2024-01-01T10:00:00Z", b'{"type":"service_stopped"}'),
    ("2024-01-01T10:00:00Z", 7),
    ("2024-01-01T10:00:00Z", '{"type":"client_disconnected","client_id":"a' + SEP + 'b"}'),
    ("2024-01-01T10:00:00Z", '{"type":"service_started"}' + SEP + '{"type":"service_started"}'),
    ("2024-01-01T10:00:00Z" + SEP + "2024-01-01T10:00:00Z", '{"type":"service_started"}'),
    ("2024-01-01T10:00:00Z", '{"type":"client_disconnected","client_id":"' + "x" * 9000 + '"}'),
    ("2024-01-01T10:00:00Z", '{"type":"policy_loaded","entry_count":18446744073709551616}'),
    ("2024-01-01T10:00:00Z", '{"type":"policy_loaded","entry_count":10000000000000000000}'),
    ("2024-01-01T10:00:00Z", '{"type": "service_started"}'),
    ("2024-01-01T10:00:00Z", '{"type":"warning_issued","threshold_seconds":60,'
     '"session_id":"' + SID.upper() + '"}'),
    ("2024-01-01T10:00:00Z", '{"type":"manual_override","what":"cooldown","entry_id":"x",'
     '"previous":null,"new":null,"user":"me"}'),
    ("2024-01-01T10:00:00Z", '{"type":"tokens_adjusted","entry_id":"x"}'),
    ("2024-01-01T10:00:00Z", '{"type":"service_started"}\x00trailing'),
    ("2024-01-01T10:00:00Z", "not json"),
]


def _edge_database(path: Path, layout: str, *, with_gap: bool = True) -> Path:
    """A generated log with the edge rows spread through it (in the seed layout without the
    JSON expression indexes, which refuse invalid JSON), a gap of ids, and rows with ids 0
    and -3 (which the log's pages never read)."""
    build(layout, 400, path)
    conn = sqlite3.connect(path, isolation_level=None)
    col = "event_json" if layout == "rust" else "event_data"
    if layout == "seed":
        conn.execute("DROP INDEX idx_audit_entry")
        conn.execute("DROP INDEX idx_audit_session")
        conn.execute("CREATE INDEX idx_type_time ON audit_log(event_type, timestamp)")
    (top,) = conn.execute("SELECT max(id) FROM audit_log").fetchone()
    slots = [3 + i * top // (len(EDGE_ROWS) + 1) for i in range(len(EDGE_ROWS) + 1)]
    for row_id, (stamp, text) in zip(slots, EDGE_ROWS, strict=False):
        conn.execute(f"UPDATE audit_log SET timestamp = ?, {col} = ? WHERE id = ?",
                     (stamp, text, row_id))
    conn.execute(f"UPDATE audit_log SET {col} = CAST(? AS TEXT) WHERE id = ?",
                 (b'{"type":"client_disconnected","client_id":"\xff\xfe"}', slots[-1]))
    if with_gap:  # between two edge rows
        conn.execute("DELETE FROM audit_log WHERE id > ? AND id < ?", (slots[5], slots[6]))
    extra = ("(id, timestamp, event_json)" if layout == "rust"
             else "(id, timestamp, event_type, event_data)")
    marks = "(?, ?, ?)" if layout == "rust" else "(?, ?, 'x', ?)"
    for row_id in (0, -3, top + 50):
        conn.execute(f"INSERT INTO audit_log {extra} VALUES {marks}",
                     (row_id, "2024-01-01T10:00:00Z", '{"type":"nope"}'))
    conn.close()
    return path


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("edge")
    return {layout: _edge_database(root / f"{layout}.db", layout) for layout in ("rust", "seed")}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("hostile")
    build_corpus(directory)
    return directory


def _run(store: SqliteStore, *, decode_all: bool, stop_at: int | None = None,
         max_problems: int = 10_000) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    """The report of `check` (but its timing) and its progress calls; with `decode_all`,
    every row decoded as the log's pages read it (the check before the fast path)."""
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> bool:
        calls.append((done, total))
        return stop_at is None or len(calls) < stop_at

    original = check_module._id_is_rowid
    check_module._id_is_rowid = (lambda _store: False) if decode_all else original
    try:
        report = check(store, progress=progress, max_problems=max_problems)
    finally:
        check_module._id_is_rowid = original
    facts = {k: v for k, v in vars(report).items() if k != "integrity_seconds"}
    return facts, calls


def _audit_calls(calls: list[tuple[int, int]], facts: dict[str, Any]) -> list[tuple[int, int]]:
    """The progress calls of the audit rows (those of the index walks follow)."""
    ids = facts["audit_ids"]
    span = ids[1] - ids[0] + 1 if ids else 0
    return [c for c in calls if c[0] <= span]


def _same_findings(path: Path, **kwargs: Any) -> dict[str, Any]:
    with SqliteStore.open(path, read_only=True) as store:
        fast, fast_calls = _run(store, decode_all=False, **kwargs)
        slow, slow_calls = _run(store, decode_all=True, **kwargs)
    assert fast == slow, path.name
    assert _audit_calls(fast_calls, fast) == _audit_calls(slow_calls, slow), path.name
    return fast


@pytest.mark.parametrize("layout", ["rust", "seed"])
@pytest.mark.parametrize("tiny", [False, True], ids=["default-chunks", "tiny-chunks"])
def test_check_finds_what_decoding_every_row_finds(edge: dict[str, Path], layout: str,
                                                    tiny: bool,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    if tiny:
        for name, value in TINY.items():
            monkeypatch.setattr(store_module, name, value)
    facts = _same_findings(edge[layout])
    assert facts["problem_count"] >= 15 and facts["events_checked"] > 300
    # (the index counts the rows with ids 0 and -3, which pages of the log never read)
    for max_problems in (0, 3):
        _same_findings(edge[layout], max_problems=max_problems)


@pytest.mark.parametrize("stop_at", [1, 2, 3])
def test_cancelling_stops_where_decoding_every_row_stops(edge: dict[str, Path], stop_at: int,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(check_module, "_PAGE", 97)  # progress every 97 rows: many calls
    for name, value in TINY.items():
        monkeypatch.setattr(store_module, name, value)
    facts = _same_findings(edge["rust"], stop_at=stop_at)
    assert not facts["complete"]


def test_check_finds_what_decoding_every_row_finds_in_the_hostile_files(corpus: Path) -> None:
    checked = 0
    for path in sorted(corpus.glob("*.db")):
        try:
            SqliteStore.open(path, read_only=True).close()
        except StoreError:
            continue  # (files no read gets into: test_hostile)
        _same_findings(path)
        checked += 1
    assert checked >= 8


def test_rows_too_long_for_one_text_are_judged_one_by_one(tmp_path: Path) -> None:
    """SQLite refuses a string longer than its limit: that range is read row by row."""
    path = shutil.copyfile(fixture_path("rust-clean.db"), tmp_path / "r.db")
    with SqliteStore.open(path, read_only=True) as store:
        whole = check(store)
        store._conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 3000)
        cut = check(store)
    assert vars(cut) | {"integrity_seconds": None} == vars(whole) | {"integrity_seconds": None}
    assert cut.healthy and cut.events_checked > 100


def _walked(store: SqliteStore, name: str, keys: tuple[str, ...], high: int) -> int:
    """The index's entries up to `high` as `SqliteStore._walk` reads them, row by row."""
    return sum(sum(1 for (rowid,) in rows if rowid <= high) for rows in store._walk(
        "rowid", 1, f'audit_log INDEXED BY "{name}"', "1", (), keys, "check",
        keys_of_rowid="audit_log"))


#: Indexes whose keys mix NULLs, numbers, text and blobs: a column (TEXT affinity), an
#: expression without affinity and one with (see `check._after`).
ODD_INDEXES = (
    "CREATE INDEX idx_note ON audit_log(note)",
    "CREATE INDEX idx_mixed ON audit_log(CASE WHEN id % 7 = 0 THEN zeroblob(2) "
    "WHEN id % 5 = 0 THEN id * 1.5 WHEN id % 3 = 0 THEN '!' || id END)",
    "CREATE INDEX idx_cast ON audit_log(CAST(note AS TEXT))",
)


@pytest.mark.parametrize("layout", ["rust", "seed"])
@pytest.mark.parametrize("tiny", [False, True], ids=["default-chunks", "tiny-chunks"])
def test_an_index_counts_as_the_keyset_walk_reads_it(tmp_path: Path, layout: str, tiny: bool,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / f"{layout}.db"
    build(layout, 300, path)
    conn = sqlite3.connect(path, isolation_level=None)
    if layout == "seed":
        conn.execute("CREATE INDEX idx_type_time ON audit_log(event_type, timestamp)")
    else:
        conn.execute("ALTER TABLE audit_log ADD COLUMN note TEXT")
        conn.execute("UPDATE audit_log SET note = CASE WHEN id % 4 = 0 THEN '!' || id "
                     "WHEN id % 6 = 0 THEN id WHEN id % 9 = 0 THEN x'00' END")
        for ddl in ODD_INDEXES:
            conn.execute(ddl)
    conn.close()
    if tiny:
        for name, value in TINY.items():
            monkeypatch.setattr(store_module, name, value)
    with SqliteStore.open(path, read_only=True) as store:
        report = check(store)
        indexes = _audit_indexes(store, report)
        low, top = store.audit_id_range() or (0, 0)
        assert len(indexes) == (4 if layout == "rust" else 5)
        for name, keys in indexes:
            for high in (top, top - 7, low):
                counted = list(_index_entries(store, name, keys, high))
                assert sum(counted) == _walked(store, name, keys, high), (name, high)
    assert report.healthy


def test_a_clean_log_is_read_in_one_statement_per_range() -> None:
    """A log the daemon wrote is proven range by range: no row read one by one."""
    seen: list[str] = []
    with SqliteStore.open(fixture_path("rust-crash-restarted.db"), read_only=True) as store:
        store.statement_observer = lambda sql, _params, _seconds: seen.append(sql)
        report = check(store)
    assert report.healthy
    assert any("group_concat" in sql for sql in seen)
    assert not any("ORDER BY id DESC" in sql for sql in seen)
