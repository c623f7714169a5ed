"""Text for the command line (pure): WHEN, DAY and DURATION arguments, tables, summaries.

Nothing here reads the database or the terminal: callers pass `now`, the width (None for a
pipe: nothing is clipped) and whether to colour. Values from the database are untrusted, so
every cell goes through `sanitize` (no control characters or bidi overrides reach a terminal).
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .describe import short_id, summarize
from .events import EVENT_TYPES, ConfigReloaded, Event, UnknownEvent

__all__ = [
    "NEGATIVE_COOLDOWN", "NEGATIVE_DURATION", "Column", "Style", "clip", "display_width",
    "event_colour", "event_summary", "parse_day_arg", "parse_duration_arg",
    "parse_event_types", "parse_when", "render_row", "render_table",
    "sanitize", "wrap",
]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(?:\d+[smhdw])+")
_DURATION_PART = re.compile(r"(\d+)([smhdw])")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_DAYS_AGO = re.compile(r"(\d+)d")
_MAX_SECONDS = 200 * 365 * 86400
WHEN_HELP = ("a date (2026-01-10, its midnight), a date-time (2026-01-10 09:30, 2026-01-10T09:30"
             ":00-05:00), a clock time today (09:30), 'now', 'today', 'yesterday', or a time ago "
             "(2h, 3d, 1h30m, 1w)")


# --- arguments -----------------------------------------------------------------------------


def parse_duration_arg(text: str) -> timedelta:
    """`90s`, `30m`, `2h`, `1h30m`, `3d`, `1w` (a leading `+` is allowed); ValueError else."""
    body = text.strip().lower().removeprefix("+")
    if not _DURATION.fullmatch(body):
        raise ValueError(f"{text!r} is not a duration: use a number and a unit, e.g. 30m, 2h, "
                         "1h30m, 3d (s, m, h, d, w)")
    secs = sum(int(n) * _UNITS[u] for n, u in _DURATION_PART.findall(body))
    if secs > _MAX_SECONDS:
        raise ValueError(f"{text!r} is too long a duration")
    return timedelta(seconds=secs)


NEGATIVE_DURATION = re.compile(r"-(?:\d+[smhdw])+", re.IGNORECASE)
NEGATIVE_COOLDOWN = ("a cooldown cannot be negative ({text!r}); to end one, use "
                     "`shepherd-store cooldown clear ENTRY`")


def parse_event_types(text: str) -> str:
    """`--type`: one or more event types separated by commas, each one the library knows
    (`EVENT_TYPES`: the Rust service's and `manual_override`); ValueError naming them else.
    Returns the types, stripped, joined by commas."""
    types = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in types if t not in EVENT_TYPES]
    if not types or unknown:
        what = f"unknown event type {sanitize(unknown[0])!r}" if unknown else "no event type"
        raise ValueError(f"{what}; the types are {', '.join(EVENT_TYPES)}. (Rows of a type "
                         "a newer service added are shown by `audit` without --type, and "
                         "found with --grep TYPE.)")
    return ",".join(types)


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time()).astimezone()


def parse_when(text: str, now: datetime) -> datetime:
    """An aware instant from WHEN (see `WHEN_HELP`); times without an offset are local."""
    raw = text.strip()
    word = raw.lower()
    if word == "now":
        return now
    if word == "today":
        return _local_midnight(now.date())
    if word == "yesterday":
        return _local_midnight(now.date() - timedelta(days=1))
    if _DURATION.fullmatch(word):
        return now - parse_duration_arg(word)
    clock = _CLOCK.fullmatch(raw)
    if clock:
        hh, mm, ss = int(clock[1]), int(clock[2]), int(clock[3] or 0)
        if hh > 23 or mm > 59 or ss > 59:
            raise ValueError(f"{text!r} is not a time of day")
        return datetime.combine(now.date(), time(hh, mm, ss)).astimezone()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{text!r} is not a time: use {WHEN_HELP}") from None
    if len(raw) == 10:  # a bare date
        return _local_midnight(value.date())
    return value if value.utcoffset() is not None else value.astimezone()


def parse_day_arg(text: str, today: date) -> date:
    """A usage day: `2026-01-10`, `today`, `yesterday` or `7d` (seven days before today)."""
    word = text.strip().lower()
    if word == "today":
        return today
    if word == "yesterday":
        return today - timedelta(days=1)
    ago = _DAYS_AGO.fullmatch(word)
    if ago:
        n = int(ago[1])
        if n > 100 * 366:
            raise ValueError(f"{text!r} is too far back")
        return today - timedelta(days=n)
    try:
        return date.fromisoformat(word)
    except ValueError:
        raise ValueError(f"{text!r} is not a day: use YYYY-MM-DD, 'today', 'yesterday' or "
                         "a number of days ago such as 7d") from None


# --- values as text ------------------------------------------------------------------------


_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"[\t\n\r]+")


def sanitize(text: str) -> str:
    """One line of plain text: line breaks and tabs become spaces, other control and
    direction-override characters become `\ufffd` (they could drive or spoof a terminal)."""
    return _UNSAFE.sub("\ufffd", _SPACES.sub(" ", text))


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal (wide East Asian characters 2, combining marks 0)."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def clip(text: str, width: int) -> str:
    """`text` cut to `width` columns, ending in `…` when cut."""
    if display_width(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    out, used = [], 0
    for c in text:
        w = display_width(c)
        if used + w > width - 1:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def wrap(text: str, width: int | None, indent: str = "") -> list[str]:
    """Lines of `text` wrapped to `width` (one line when width is None), each indented."""
    if width is None:
        return [indent + text]
    return textwrap.wrap(text, max(width, len(indent) + 20), initial_indent=indent,
                         subsequent_indent=indent, break_on_hyphens=False) or [indent]


def event_summary(event: Event, labels: dict[str, str] | None = None) -> str:
    """One line about an event (the inspector's sentence, entries named by `entry_name`
    from `labels`), with its short session id."""
    text = summarize(event, labels or {})
    if isinstance(event, UnknownEvent) and event.malformed:
        text = f"{text}: {event.raw}"  # support staff need the stored text itself
    ref = getattr(event, "session_id", None) or getattr(event, "client_id", None)
    return f"{text} [{short_id(ref)}]" if isinstance(ref, str) and ref else text


_KIND_COLOURS = {
    "session_started": "green", "session_ended": "cyan", "session_extended": "green",
    "warning_issued": "yellow", "launch_denied": "red", "service_started": "blue",
    "service_stopped": "blue", "policy_loaded": "magenta", "config_reloaded": "magenta",
    "client_connected": "dim", "client_disconnected": "dim", "manual_override": "bold",
}


def event_colour(event: Event) -> str:
    """The colour of an event's type in a table (never the only cue: the type is written)."""
    if isinstance(event, UnknownEvent):
        return "red" if event.malformed else "magenta"
    if isinstance(event, ConfigReloaded) and not event.success:
        return "red"
    return _KIND_COLOURS.get(event.TYPE, "")


# --- tables --------------------------------------------------------------------------------


_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34",
          "magenta": "35", "cyan": "36"}


@dataclass(frozen=True)
class Style:
    """ANSI colours when `enabled` (a terminal), plain text otherwise."""

    enabled: bool = False

    def paint(self, text: str, colour: str) -> str:
        code = _CODES.get(colour)
        if not self.enabled or not code or not text:
            return text
        return f"\x1b[{code}m{text}\x1b[0m"


@dataclass(frozen=True)
class Column:
    """A table column: `flex` columns give up width first when the table must fit."""

    title: str
    right: bool = False
    flex: bool = False
    min_width: int = 6


#: A cell: text, or (text, colour).
Cell = str | tuple[str, str]
GAP = 2


def _text(cell: Cell) -> str:
    return sanitize(cell[0] if isinstance(cell, tuple) else cell)


def fit_widths(columns: Sequence[Column], natural: Sequence[int],
               width: int | None) -> list[int]:
    """Column widths that fit `width` (None: as wide as the content), flex columns first."""
    widths = list(natural)
    if width is None:
        return widths
    excess = sum(widths) + GAP * (len(widths) - 1) - width
    for flex_first in (True, False):
        while excess > 0:
            shrinkable = [i for i, c in enumerate(columns)
                          if c.flex == flex_first and widths[i] > min(c.min_width, natural[i])]
            if not shrinkable:
                break
            i = max(shrinkable, key=lambda k: widths[k])
            floor = min(columns[i].min_width, natural[i])
            cut = min(excess, widths[i] - floor)
            widths[i] -= cut
            excess -= cut
    return widths


def render_row(cells: Sequence[Cell], columns: Sequence[Column], widths: Sequence[int],
               style: Style, *, clip_cells: bool) -> str:
    """One line: each cell padded (and, with `clip_cells`, cut) to its column's width."""
    parts = []
    last = len(cells) - 1
    for i, (cell, col, w) in enumerate(zip(cells, columns, widths, strict=True)):
        text = _text(cell)
        if clip_cells:
            text = clip(text, w)
        pad = " " * max(w - display_width(text), 0)
        if i == last and not col.right:
            pad = ""
        if isinstance(cell, tuple):
            text = style.paint(text, cell[1])
        parts.append(pad + text if col.right else text + pad)
    return (" " * GAP).join(parts).rstrip()


def render_table(columns: Sequence[Column], rows: Iterable[Sequence[Cell]],
                 width: int | None, style: Style) -> Iterator[str]:
    """Header and rows, fitted to `width` (terminal columns; None for a pipe: no clipping)."""
    rows = list(rows)
    natural = [max([display_width(c.title), *(display_width(_text(r[i])) for r in rows)])
               for i, c in enumerate(columns)]
    widths = fit_widths(columns, natural, width)
    header = [(c.title, "bold") for c in columns]
    yield render_row(header, columns, widths, style, clip_cells=width is not None)
    for row in rows:
        yield render_row(row, columns, widths, style, clip_cells=width is not None)
