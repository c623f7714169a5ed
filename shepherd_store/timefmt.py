"""Timestamps, days and durations in exactly the text forms the Rust daemon reads and writes.

RFC 3339 with a numeric offset (or `Z`) and 0-9 fraction digits is accepted on read; finer
than microseconds is truncated. On write the library emits 0 or 6 fraction digits, `T` and an
offset with a colon, `Z` for UTC inside JSON (serde's form) and `+00:00` in the audit
`timestamp` column (chrono's `to_rfc3339`).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")

# Rust's u64 seconds and u32 nanos bound what a duration object may hold.
MAX_DURATION_SECS = timedelta.max.days * 86400 + timedelta.max.seconds


def parse_timestamp(text: object) -> datetime:
    """Parse an RFC 3339 timestamp into an aware datetime; raise ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"expected an RFC 3339 timestamp string, got {type(text).__name__}")
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise ValueError(f"not an RFC 3339 timestamp with an offset: {text[:64]!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    frac = m.group(7) or ""
    micro = int((frac + "000000")[:6])
    if second == 60:  # a leap second: chrono accepts it, Python cannot represent it
        second, micro = 59, 999_999
    if m.group(8):
        tz = UTC
    else:
        sign = -1 if m.group(9) == "-" else 1
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            raise ValueError(f"offset out of range in {text[:64]!r}")
        tz = timezone(sign * timedelta(hours=oh, minutes=om))
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)


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
