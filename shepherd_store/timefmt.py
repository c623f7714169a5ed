"""Timestamps, days and durations in exactly the text forms the Rust daemon reads and writes.

The daemon (chrono 0.4.42) reads timestamps two ways, and so does this module:

* Columns (`cooldowns.until`, `audit_log.timestamp`) go through
  `DateTime::parse_from_rfc3339`: `parse_timestamp`. Strict RFC 3339: `YYYY-MM-DD`, `T`,
  `t` or one space, `HH:MM:SS`, an optional fraction of any length, then `Z`/`z` or
  `+HH:MM`/`-HH:MM` (U+2212 MINUS SIGN too) up to 23:59. Nothing else: no `+0000`, no `UTC`,
  no spaces around the offset.
* Times inside event and snapshot JSON go through serde, i.e. chrono's `FromStr` for
  `DateTime<FixedOffset>` (`parse_rfc3339_relaxed`): `parse_json_timestamp`. On top of the
  strict form it allows (Unicode) whitespace before and after the value, around each `-` and
  `:`, after the `T`/space, before the offset and between the offset's hours and minutes;
  fields of 1-2 digits (a year of 1-4, or any number after a `+`/`-` sign); `UTC` in any case
  as the offset; and no colon in the offset (`+0000`). An offset is still required.

Fractions are truncated to microseconds (chrono keeps the first nine digits). A leap
second (`:60`), which chrono accepts and Python cannot represent, reads as `:59.999999`; years
outside 1-9999, which chrono accepts but Python cannot represent, are refused.

On write the library emits 0 or 6 fraction digits, `T` and an offset with a colon, `Z` for
UTC inside JSON (serde's form) and `+00:00` in the audit `timestamp` column (chrono's
`to_rfc3339`): the canonical form, readable by both paths.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

# Rust's `char::is_whitespace` (Unicode White_Space), what `str::trim_start` strips; not
# Python's `\s`, which also matches U+001C-U+001F.
_WS = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_S = f"[{_WS}]*"
# `DateTime::parse_from_rfc3339` (chrono's `parse_rfc3339`). ASCII digits only, as chrono.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:([Zz])|([-+\u2212])([0-9]{2}):([0-9]{2}))"
)
# `str::parse::<DateTime<FixedOffset>>()` (chrono's `parse_rfc3339_relaxed`). Every field is
# read greedily up to its width and followed by something that is not a digit, so a regular
# expression accepts exactly what chrono's scanner does.
_RELAXED = re.compile(
    rf"{_S}(?:([-+])([0-9]+)|([0-9]{{1,4}})){_S}-{_S}([0-9]{{1,2}}){_S}-{_S}([0-9]{{1,2}})"
    rf"[Tt ]{_S}([0-9]{{1,2}}){_S}:{_S}([0-9]{{1,2}}){_S}:{_S}([0-9]{{1,2}})(?:\.([0-9]+))?"
    rf"{_S}(?:([Uu][Tt][Cc]|[Zz])|([-+\u2212])([0-9]{{2}})[:{_WS}]*([0-9]{{2}})){_S}"
)
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")

# Rust's u64 seconds and u32 nanos bound what a duration object may hold.
MAX_DURATION_SECS = timedelta.max.days * 86400 + timedelta.max.seconds


def parse_timestamp(text: object) -> datetime:
    """Parse a timestamp column as the daemon does (`DateTime::parse_from_rfc3339`) into an
    aware datetime; raise ValueError for anything the daemon cannot read."""
    if not isinstance(text, str):
        raise ValueError(f"expected an RFC 3339 timestamp string, got {type(text).__name__}")
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise ValueError(f"not an RFC 3339 timestamp with an offset: {text[:64]!r}")
    return _build(text, int(m[1]), m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9], m[10], m[11])


def parse_json_timestamp(text: object) -> datetime:
    """Parse a timestamp inside event or snapshot JSON as serde does (chrono's relaxed
    `FromStr`) into an aware datetime; raise ValueError for anything the daemon cannot read."""
    if not isinstance(text, str):
        raise ValueError(f"expected an RFC 3339 timestamp string, got {type(text).__name__}")
    m = _RFC3339.fullmatch(text)  # the canonical form, and the common case: fast
    if m is not None:
        return _build(text, int(m[1]), m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9], m[10],
                      m[11])
    m = _RELAXED.fullmatch(text)
    if m is None:
        raise ValueError(f"not a timestamp with an offset the service can read: {text[:64]!r}")
    if m[3] is not None:
        year = int(m[3])
    else:
        digits = m[2].lstrip("0")
        if len(digits) > 4:
            raise ValueError(f"year {m[1]}{m[2][:16]} is outside 1-9999, which this library "
                             f"cannot represent: {text[:64]!r}")
        year = -int(digits or "0") if m[1] == "-" else int(digits or "0")
    return _build(text, year, m[4], m[5], m[6], m[7], m[8], m[9], m[10], m[11], m[12], m[13])


def _build(text: str, year: int, month: str, day: str, hour: str, minute: str, second: str,
           frac: str | None, zulu: str | None, sign: str | None, oh: str | None,
           om: str | None) -> datetime:
    if not 1 <= year <= 9999:
        raise ValueError(f"year {year} is outside 1-9999, which this library cannot "
                         f"represent: {text[:64]!r}")
    sec = int(second)
    micro = int((frac + "000000")[:6]) if frac else 0
    if sec == 60:  # a leap second: chrono accepts it, Python cannot represent it
        sec, micro = 59, 999_999
    if zulu:
        tz = UTC
    else:
        assert oh is not None and om is not None
        hh, mm = int(oh), int(om)
        if hh > 23 or mm > 59:
            raise ValueError(f"offset out of range in {text[:64]!r}")
        offset = timedelta(hours=hh, minutes=mm)
        tz = timezone(offset if sign == "+" else -offset)
    try:
        return datetime(year, int(month), int(day), int(hour), int(minute), sec, micro, tzinfo=tz)
    except ValueError as exc:
        raise ValueError(f"{exc}: {text[:64]!r}") from None


def format_timestamp(value: datetime, *, zulu: bool = False) -> str:
    """Format an aware datetime as RFC 3339 (`T`, 0 or 6 fraction digits, `+HH:MM` offset).

    With `zulu`, a zero offset is written as `Z`, as serde does inside JSON.
    Raises ValueError for naive datetimes and offsets the Rust daemon cannot read.
    """
    if not isinstance(value, datetime):
        raise ValueError(f"expected a datetime, got {type(value).__name__}")
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"timestamp {value!r} has no time zone; use an aware datetime")
    secs = offset.days * 86400 + offset.seconds  # integer arithmetic: this is a hot path
    if offset.microseconds or secs % 60:
        raise ValueError(f"time zone offset {offset} has seconds; RFC 3339 cannot express it")
    if not -86400 < secs < 86400:
        raise ValueError(f"time zone offset {offset} is out of range")
    body = (f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
            f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}")
    if value.microsecond:
        body += f".{value.microsecond:06d}"
    if zulu and not secs:
        return body + "Z"
    hh, mm = divmod(abs(secs) // 60, 60)
    return f"{body}{'-' if secs < 0 else '+'}{hh:02d}:{mm:02d}"


def parse_day(text: object) -> date:
    """Parse a usage day (`YYYY-MM-DD`, the daemon's local date); raise ValueError otherwise."""
    if not isinstance(text, str) or _DAY.fullmatch(text) is None:
        raise ValueError(f"not a YYYY-MM-DD day: {str(text)[:32]!r}")
    return date(int(text[0:4]), int(text[5:7]), int(text[8:10]))


def format_day(day: date) -> str:
    """Format a usage day as the daemon does (`%Y-%m-%d`)."""
    if isinstance(day, datetime) or not isinstance(day, date):
        raise ValueError(f"expected a date, got {type(day).__name__}")
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def parse_duration(obj: object) -> timedelta:
    """Decode serde's `{"secs": u64, "nanos": u32}`; nanoseconds are truncated to µs."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a duration object {{secs, nanos}}, got {_kind(obj)}")
    secs, nanos = obj.get("secs"), obj.get("nanos")
    if not _is_uint(secs) or not _is_uint(nanos):
        raise ValueError(f"duration needs non-negative integer secs and nanos, got {obj!r:.80}")
    assert isinstance(secs, int) and isinstance(nanos, int)
    if nanos >= 1_000_000_000:
        raise ValueError(f"duration nanos out of range: {nanos}")
    if secs > MAX_DURATION_SECS:
        raise ValueError(f"duration of {secs} s is too long to represent")
    return timedelta(seconds=secs, microseconds=nanos // 1000)


def format_duration(value: timedelta) -> dict[str, int]:
    """Encode a non-negative timedelta as serde's duration object (nanos a multiple of 1000)."""
    if not isinstance(value, timedelta):
        raise ValueError(f"expected a timedelta, got {type(value).__name__}")
    if value < timedelta(0):
        raise ValueError(f"duration {value} is negative; the daemon's durations are unsigned")
    secs = value.days * 86400 + value.seconds
    return {"secs": secs, "nanos": value.microseconds * 1000}


def whole_seconds(value: timedelta) -> int:
    """Whole seconds of a duration, truncated, as usage is stored."""
    return value.days * 86400 + value.seconds


def local_now() -> datetime:
    """The current time as an aware datetime in the machine's local time zone."""
    return datetime.now().astimezone()


def _is_uint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
