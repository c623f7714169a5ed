"""The check's fast path: audit rows proven readable by one pattern match, not decoded.

Decoding every row (`decode_event`, dataclasses, datetimes) costs 25-40 µs; at 1,000,000
events `check` took 25-45 s. Nearly every row is the canonical text serde_json and chrono
write, so `check` reads the rows of an id range as ONE text per column (SQLite's
`group_concat`, one short statement) and matches each against a compiled pattern of
those canonical forms: a few ns a character, in C. Only a range the patterns do not
vouch for in full is read again row by row, and only the rows that still do not match go
through the full decoder (`check.event_problem`), so the findings are the decoder's.

The patterns are generated from the event specs in `events.py` (`_specs`: fields in
declaration order, compact, as serde writes them) and accept only values the decoder
accepts: timestamps valid for their month (29 February left to the decoder), years 1-9999,
offsets up to 23:59; integers with fewer digits than their kind's bound; strings without
`\\u` escapes, control characters, surrogates or U+FFFD (what bytes that are not UTF-8 read
as); UUIDs in a form `events.is_uuid` takes; `null` only where a field is optional. In the
Rust layout only the daemon's event types. Whatever they do not accept, the decoder judges
(tests/test_check_fast.py tries to make them accept more).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from .errors import StoreError
from .events import (
    _HYPHENATED,
    _RUST_UUID,
    EVENT_TYPES,
    I32_MAX,
    REASON_TYPES,
    RUST_EVENT_TYPES,
    U32_MAX,
    U64_MAX,
    _specs,
)
from .schema import Layout
from .store import SqliteStore
from .timefmt import MAX_DURATION_SECS

#: Between the rows of a chunk's text: a control character, which no pattern of a row takes.
SEP = "\x1e"
#: SQLite's error when a range's text would pass its longest string (a billion bytes):
#: then its rows are judged one by one.
TOO_BIG = "string or blob too big"


def _digits(bound: int) -> str:
    """A non-negative JSON integer with fewer digits than `bound`, so never above it."""
    return rf"(?:0|[1-9][0-9]{{0,{len(str(bound)) - 2}}}+)"


_CHAR = r'[^"\\\x00-\x1f\ud800-\udfff\ufffd]'
_STRING = rf'"{_CHAR}*+(?:\\["\\/bfnrt]{_CHAR}*+)*+"'
_MONTH_DAY = (r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
              r"|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)")
_HOUR = r"(?:[01][0-9]|2[0-3])"
#: The canonical RFC 3339 form (`timefmt.parse_timestamp` and `parse_json_timestamp` take it).
TIMESTAMP = (rf"(?!0000)[0-9]{{4}}-{_MONTH_DAY}T{_HOUR}:[0-5][0-9]:[0-5][0-9](?:\.[0-9]++)?"
             rf"(?:Z|[+-]{_HOUR}:[0-5][0-9])")
_KINDS = {
    "str": _STRING,
    # the common (hyphenated) form first, then all that `is_uuid` takes
    "uuid": rf'"(?:{_HYPHENATED}|{_RUST_UUID.pattern})"',
    "u64": _digits(U64_MAX),
    "u32": _digits(U32_MAX),
    "i32": rf"-?{_digits(I32_MAX)}",
    "bool": "(?:true|false)",
    "datetime": f'"{TIMESTAMP}"',
    "duration": rf'\{{"secs":{_digits(MAX_DURATION_SECS)},"nanos":{_digits(10**9)}\}}',
    "str_list": rf"\[(?:{_STRING}(?:,{_STRING})*+)?\]",
}


def _object(cls: type[Any]) -> str:
    """The pattern of one tagged variant as serde writes it: its tag, then every field."""
    parts = [rf'\{{"type":"{re.escape(cls.TYPE)}"']
    for name, kind, optional, _where in _specs(cls):
        value = _one_of(REASON_TYPES.values()) if kind == "reason" else _KINDS[kind]
        parts.append(f',"{re.escape(name)}":' + (f"(?:null|{value})" if optional else value))
    return "".join(parts) + r"\}"


def _one_of(classes: Any) -> str:
    return "(?:" + "|".join(_object(cls) for cls in classes) + ")"


def event_pattern(layout: Layout) -> str:
    """The events the daemon (Rust layout) or this library (seed layout) reads, canonical."""
    return _one_of((RUST_EVENT_TYPES if layout is Layout.RUST else EVENT_TYPES).values())


@dataclass(frozen=True)
class Patterns:
    """One layout's compiled patterns: of a row's columns, and of a chunk's texts."""

    stamp: re.Pattern[str]
    event: re.Pattern[str]
    stamps: re.Pattern[str]
    events: re.Pattern[str]

    def row_readable(self, stamp: object, text: object) -> bool:
        """Whether the daemon surely reads this row (False: ask the decoder)."""
        return (isinstance(stamp, str) and isinstance(text, str)
                and self.stamp.fullmatch(stamp) is not None
                and self.event.fullmatch(text) is not None)


@cache
def patterns(layout: Layout) -> Patterns:
    event = event_pattern(layout)
    return Patterns(re.compile(TIMESTAMP), re.compile(event),
                    re.compile(f"(?:{TIMESTAMP}{SEP})*+{TIMESTAMP}"),
                    re.compile(f"(?:{event}{SEP})*+{event}"))


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """The audit rows with ids in [lo, hi), newest first: either all `hi - lo` of them
    proven readable (`rows` None), or the rows to judge one by one."""

    lo: int
    hi: int
    rows: list[Any] | None


def audit_chunks(store: SqliteStore, low: int, high: int) -> Iterator[Chunk]:
    """The audit rows with ids from `high` down to `low`, in id ranges of short statements
    (sized as a scan's, `_id_chunks`). Each range is one statement that returns the
    range's row count, whether all its values are text, and its timestamps and events as
    one text each; when every id is a row and both texts match, the range is proven
    readable. Otherwise its rows are read (in pages of a keyset walk's size) for the
    caller to judge one by one."""
    col = store.layout.audit_json
    pats = patterns(store.layout)
    sql = (f"SELECT count(*), min(typeof(timestamp)), min(typeof({col})), "
           f"group_concat(timestamp, char({ord(SEP)})), group_concat({col}, char({ord(SEP)})) "
           "FROM audit_log WHERE id < ? AND id >= ?")
    sizes = store._id_chunks(scanning=True)
    hi = high + 1
    while hi > low:
        lo = max(hi - sizes.size, low)
        try:
            rows, held = store._statement(sql, (hi, lo), "check", columns=5)
        except StoreError as exc:
            if TOO_BIG not in str(exc):
                raise
            rows, held = [(None,) * 5], 0.0  # (longer than SQLite makes one text)
        sizes.record(hi - lo, held)
        if _proven(pats, hi - lo, *rows[0]):
            yield Chunk(lo, hi, None)
        else:
            for page in _rows(store, col, lo, hi):
                yield Chunk(lo, hi, page)
        hi = lo


def _proven(pats: Patterns, ids: int, count: object, stamp_type: object, text_type: object,
            stamps: object, texts: object) -> bool:
    """Whether a range of `ids` ids holds as many rows, all of text ("text" is the least of
    the types' names), whose texts (joined by SEP) match: as many pieces as rows (no
    value holds SEP) and the whole text matches the pattern of pieces."""
    return (count == ids and stamp_type == text_type == "text" and isinstance(stamps, str)
            and isinstance(texts, str)
            and stamps.count(SEP) == ids - 1 and texts.count(SEP) == ids - 1
            and pats.stamps.fullmatch(stamps) is not None
            and pats.events.fullmatch(texts) is not None)


def _rows(store: SqliteStore, col: str, lo: int, hi: int) -> Iterator[list[Any]]:
    """(id, timestamp, event JSON) of the rows with ids in [lo, hi), newest first, in
    pages of at most a keyset walk's rows, read as the log's searches read them."""
    sizes = store._row_chunks()
    while hi > lo:
        want = sizes.size
        rows, held = store._statement(
            f"SELECT id, timestamp, {col} FROM audit_log WHERE id < ? AND id >= ? "
            "ORDER BY id DESC LIMIT ?", (hi, lo, want), "check", columns=3)
        sizes.record(len(rows), held)
        if rows:
            yield rows
        if len(rows) < want:
            return
        hi = int(rows[-1][0])
