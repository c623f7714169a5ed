"""Events and times in words (pure): what the inspector's table and the command line print.

Plain strings only; the views must show them as plain text (never rich text), because
labels and ids come from the database and may contain markup. Times are shown in the
viewer's local time, in the date order and clock of a `TimeStyle` (ISO and 24 h unless the
application sets the locale's).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from .errors import SerializationError
from .events import (
    AdminStop,
    ClientConnected,
    ClientDisconnected,
    ConfigReloaded,
    Event,
    Expired,
    LaunchDenied,
    LaunchFailed,
    ManualOverride,
    PolicyLoaded,
    PolicyStop,
    ProcessExited,
    ServiceShutdown,
    ServiceStarted,
    ServiceStopped,
    SessionEnded,
    SessionEndReason,
    SessionExtended,
    SessionStarted,
    UnknownEvent,
    UserStop,
    WarningIssued,
)
from .snapshot import decode_snapshot
from .timefmt import parse_timestamp

#: Readable names per event tag, in the order the type filter lists them.
EVENT_NAMES: dict[str, str] = {
    "session_started": "Session started",
    "session_ended": "Session ended",
    "warning_issued": "Warning",
    "session_extended": "Session extended",
    "launch_denied": "Launch denied",
    "service_started": "Service started",
    "service_stopped": "Service stopped",
    "policy_loaded": "Policy loaded",
    "config_reloaded": "Config reloaded",
    "client_connected": "Client connected",
    "client_disconnected": "Client disconnected",
    "manual_override": "Manual change",
}

#: Kind of each tag: picks the colour and icon, so colour is never the only cue.
EVENT_KINDS: dict[str, str] = {
    "session_started": "session", "session_ended": "session", "session_extended": "session",
    "warning_issued": "warning", "launch_denied": "denied",
    "service_started": "service", "service_stopped": "service",
    "policy_loaded": "config", "config_reloaded": "config",
    "client_connected": "client", "client_disconnected": "client",
    "manual_override": "manual",
}

MAX_DISPLAY_CHARS = 2000  # longer texts are cut for display (never for export)


def event_name(tag: str, *, malformed: bool = False) -> str:
    """A readable name for an event tag (unknown tags are shown as they are)."""
    if malformed:
        return "Unreadable row"
    return EVENT_NAMES.get(tag) or (f"Unknown: {tag}" if tag else "Unknown")


def event_kind(event: Event) -> str:
    """`session`, `warning`, `denied`, `service`, `config`, `client`, `manual`, `unknown`."""
    if isinstance(event, UnknownEvent):
        return "malformed" if event.malformed else "unknown"
    return EVENT_KINDS.get(event.TYPE, "unknown")


def format_duration(value: timedelta | int | float) -> str:
    """A duration as people read it: `3 d 04 h`, `1 h 05 min`, `45 min`, `30 s`, `0 s`."""
    secs = int(value.total_seconds() if isinstance(value, timedelta) else value)
    sign = "-" if secs < 0 else ""
    secs = abs(secs)
    if secs < 60:
        return f"{sign}{secs} s"
    if secs >= 2 * 86400:
        days, rest = divmod(secs, 86400)
        return f"{sign}{days} d {rest // 3600:02d} h"
    hours, rest = divmod(secs, 3600)
    minutes = rest // 60
    if hours:
        return f"{sign}{hours} h {minutes:02d} min"
    return f"{sign}{minutes} min"


def to_local(value: datetime) -> datetime:
    """The same instant in the viewer's local time zone (unchanged if out of range)."""
    try:
        return value.astimezone()
    except (OverflowError, ValueError, OSError):
        return value


@dataclass(frozen=True)
class TimeStyle:
    """How dates and clock times are written: the locale's date order and 12/24 h clock."""

    order: str = "ymd"  # "ymd", "dmy" or "mdy"
    separator: str = "-"
    hour12: bool = False


_ISO = TimeStyle()
_style = _ISO


def set_time_style(style: TimeStyle) -> None:
    """Use the viewer's locale conventions (set once at start-up from the system locale)."""
    global _style
    _style = _ISO if style == _ISO else style  # (`_date_and_clock` knows the default by identity)


def format_date(day: date) -> str:
    """A calendar date in the locale's order (ISO `YYYY-MM-DD` by default)."""
    parts = {"y": f"{day.year:04d}", "m": f"{day.month:02d}", "d": f"{day.day:02d}"}
    return _style.separator.join(parts[c] for c in _style.order)


def format_clock(value: datetime, *, seconds: bool = True) -> str:
    """The clock time of `value` as it is (no zone conversion), 24 h or 12 h."""
    tail = f":{value.second:02d}" if seconds else ""
    if _style.hour12:
        hour = value.hour % 12 or 12
        return f"{hour}:{value.minute:02d}{tail} {'PM' if value.hour >= 12 else 'AM'}"
    return f"{value.hour:02d}:{value.minute:02d}{tail}"


def format_local(value: datetime | None, *, seconds: bool = True) -> str:
    """A timestamp in the viewer's local time, date then clock; `—` for None.

    The offset follows (`2026-11-01 01:30:00 -04:00`) only where the local clock alone would
    not say which instant it is: see `offset_note`."""
    if value is None:
        return "—"
    local = to_local(value)
    return _date_and_clock(local, seconds) + offset_note(local)


def _date_and_clock(value: datetime, seconds: bool) -> str:
    """`format_date` of `value`'s date, a space and its `format_clock`. In the default style
    that is the start of `isoformat`'s text, which one call writes (a recovery report of a
    million events writes 14,000 times; a fixed-offset zone, so asking it the offset
    `isoformat` writes, and cuts off, is the same every time)."""
    if _style is _ISO and value.__class__ is datetime and value.tzinfo.__class__ is timezone:
        return value.isoformat(" ", "seconds")[:19] if seconds else \
            value.isoformat(" ", "minutes")[:16]
    return f"{format_date(value.date())} {format_clock(value, seconds=seconds)}"


def format_local_time(value: datetime | None, *, seconds: bool = False) -> str:
    """Only the clock time of a timestamp in the viewer's local time (with `offset_note`);
    `—` for None."""
    if value is None:
        return "—"
    local = to_local(value)
    return format_clock(local, seconds=seconds) + offset_note(local)


#: Whether a wall-clock minute (minutes since 0001-01-01) at an offset is plain, for the local
#: zone of (TZ, `time.tzname`): see `offset_note`.
_offset_cache: dict[tuple[int, timedelta, str | None, tuple[str, ...]], bool] = {}


def offset_note(local: datetime) -> str:
    """` +HH:MM` when `local`'s offset differs from the viewer's local offset at that time,
    else ``: the value could not be moved to local time (out of range), or its wall-clock
    time happens twice locally (the hour repeated when the clocks go back)."""
    offset = local.utcoffset()
    if offset is None:
        return ""
    key = ((local.toordinal() * 24 + local.hour) * 60 + local.minute, offset,
           os.environ.get("TZ"), tuple(time.tzname))
    plain = _offset_cache.get(key)
    if plain is None:
        if local.__class__ is datetime and not local.fold:  # (replace() is 2-5 times slower)
            wall = datetime.combine(local, local.time())
            later = datetime(wall.year, wall.month, wall.day, wall.hour, wall.minute,
                             wall.second, wall.microsecond, fold=1)
        else:
            wall = local.replace(tzinfo=None, fold=0)
            later = wall.replace(fold=1)
        try:  # a naive datetime's astimezone() reads the wall time as local, with its fold
            first = wall.astimezone().utcoffset()
            second = later.astimezone().utcoffset()
        except (OverflowError, ValueError, OSError):
            first = second = None
        plain = first == second == offset
        if len(_offset_cache) > 4096:
            _offset_cache.clear()
        _offset_cache[key] = plain
    if plain:
        return ""
    secs = int(offset.total_seconds())
    hh, mm = divmod(abs(secs) // 60, 60)
    return f" {'-' if secs < 0 else '+'}{hh:02d}:{mm:02d}"


def format_stored_time(text: str | None) -> str:
    """A stored timestamp text (a cooldown's `until`) as `format_local` writes it; `none` for
    None, and the text as stored when the service could not read it either."""
    if text is None:
        return "none"
    try:
        return format_local(parse_timestamp(text))
    except ValueError:
        return text


def format_stored(value: datetime) -> str:
    """A timestamp as stored, with its own offset (for the detail pane)."""
    return value.isoformat()


def short_id(value: str | None) -> str:
    """The first block of a UUID (enough to tell sessions apart on screen)."""
    if not value:
        return ""
    return value.split("-", 1)[0][:8]


def reason_text(reason: SessionEndReason) -> str:
    """Why a session ended, in words."""
    if isinstance(reason, Expired):
        return "time limit reached"
    if isinstance(reason, UserStop):
        return "stopped by the child"
    if isinstance(reason, AdminStop):
        return "stopped by a parent"
    if isinstance(reason, ProcessExited):
        code = "" if reason.exit_code in (0, None) else f" (exit code {reason.exit_code})"
        return f"closed{code}"
    if isinstance(reason, PolicyStop):
        return "stopped by the schedule"
    if isinstance(reason, ServiceShutdown):
        return "service shut down"
    if isinstance(reason, LaunchFailed):
        return f"failed to start: {clip(reason.error, 120)}"
    return "ended"


def clip(text: str, limit: int = MAX_DISPLAY_CHARS) -> str:
    """Cut a long text for display, saying how much was cut; one line."""
    text = text.replace("\r", " ").replace("\n", " ")
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def entry_name(entry_id: str, labels: dict[str, str], *, with_id: bool = False,
               fallback: str | None = None) -> str:
    """The one rule for naming an entry: its label when one is known (`labels`: the
    policy's over the newest one the log recorded; else `fallback`, e.g. the label a
    session_started event carries), its id otherwise. With `with_id` (where entries are
    listed, and the id is what a person types), `Label (id)` when the label differs."""
    label = labels.get(entry_id) or fallback
    if not label or label == entry_id:
        return entry_id
    return f"{label} ({entry_id})" if with_id else label


def entry_display(entry_id: str | None, labels: dict[str, str]) -> str:
    """`Label (id)` when the label is known and differs, else the id (`entry_name`)."""
    return entry_name(entry_id, labels, with_id=True) if entry_id else ""


def summarize(event: Event, labels: dict[str, str]) -> str:
    """A one-line summary a parent understands ("Minecraft ended: time limit reached …")."""
    if isinstance(event, SessionStarted):
        name = entry_name(event.entry_id, labels, fallback=event.label)
        if event.deadline is None:
            return f"{name} started, no time limit"
        return f"{name} started, allowed until {format_local_time(event.deadline)}"
    if isinstance(event, SessionEnded):
        return (f"{entry_name(event.entry_id, labels)} ended: {reason_text(event.reason)} "
                f"after {format_duration(event.duration)}")
    if isinstance(event, WarningIssued):
        return f"Warned: {format_duration(event.threshold_seconds)} left"
    if isinstance(event, SessionExtended):
        return (f"Extended by {format_duration(event.extended_by)}, now until "
                f"{format_local_time(event.new_deadline)}")
    if isinstance(event, LaunchDenied):
        why = "; ".join(_denial(r) for r in event.reasons) or "no reason given"
        return clip(f"{entry_name(event.entry_id, labels)} was not allowed: {why}", 300)
    if isinstance(event, ServiceStarted):
        return "The Shepherd service started"
    if isinstance(event, ServiceStopped):
        return "The Shepherd service stopped"
    if isinstance(event, PolicyLoaded):
        return f"Policy loaded with {event.entry_count} entries"
    if isinstance(event, ConfigReloaded):
        return "Configuration reloaded" if event.success else "Configuration reload FAILED"
    if isinstance(event, ClientConnected):
        who = "unknown user" if event.uid is None else f"uid {event.uid}"
        return f"{event.role} client connected ({who})"
    if isinstance(event, ClientDisconnected):
        return f"Client {short_id(event.client_id)} disconnected"
    if isinstance(event, ManualOverride):
        target = f" of {entry_name(event.entry_id, labels)}" if event.entry_id else ""
        before = override_value(event.what, event.previous, labels)
        after = override_value(event.what, event.new, labels)
        return clip(f"{event.user} changed the {event.what}{target}: {before} → {after}", 300)
    if isinstance(event, UnknownEvent):
        if event.malformed:
            return clip(f"Unreadable row: {event.error or 'unknown problem'}", 300)
        return clip(f"Event of a newer service version: {event.raw}", 300)
    return ""


def override_value(what: str, text: str | None, labels: dict[str, str]) -> str:
    """A manual change's stored value in words: a cooldown's time in local time, the usage
    of a day, the snapshot's session; `none` when absent; the stored text when unreadable."""
    if text is None:
        return "none"
    if what == "cooldown":
        return format_stored_time(text)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return clip(text, 120)
    if what == "usage" and isinstance(value, dict) and isinstance(value.get("day"), str) \
            and isinstance(value.get("duration_secs"), int):
        words = f"{format_duration(value['duration_secs'])} on {clip(value['day'], 40)}"
        added = value.get("added_secs")
        if isinstance(added, int):
            reason = value.get("reason")
            why = f": {clip(reason, 80)}" if isinstance(reason, str) and reason else ""
            words += f" (added {format_duration(added)}{why})"
        return words
    if what == "snapshot":
        try:
            snap = decode_snapshot(text)
        except SerializationError:
            return clip(text, 120)
        s = snap.active_session
        if s is None:
            return f"saved {format_local(snap.timestamp)}, no session"
        return (f"saved {format_local(snap.timestamp)}, {entry_name(s.entry_id, labels)} "
                f"running since {format_local(s.started_at)}")
    return clip(text, 120)


def _denial(reason: str) -> str:
    """Translate the daemon's Debug text of a denial reason where we recognise it."""
    if reason.startswith("QuotaExhausted"):
        return "daily time used up"
    if reason.startswith("CooldownActive"):
        return "resting after the last session"
    if reason.startswith("OutsideWindow") or reason.startswith("NotAvailable"):
        return "not available at this time"
    return clip(reason, 80)
