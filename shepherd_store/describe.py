"""Events and times in words (pure): what the inspector's table and the command line print.

Plain strings only; the views must show them as plain text (never rich text), because
labels and ids come from the database and may contain markup. Times are shown in the
viewer's local time, in the date order and clock of a `TimeStyle` (ISO and 24 h unless the
application sets the locale's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

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


_style = TimeStyle()


def set_time_style(style: TimeStyle) -> None:
    """Use the viewer's locale conventions (set once at start-up from the system locale)."""
    global _style
    _style = style


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
    """A timestamp in the viewer's local time, date then clock; `—` for None."""
    if value is None:
        return "—"
    local = to_local(value)
    return f"{format_date(local.date())} {format_clock(local, seconds=seconds)}"


def format_local_time(value: datetime | None, *, seconds: bool = False) -> str:
    """Only the clock time of a timestamp in the viewer's local time; `—` for None."""
    return "—" if value is None else format_clock(to_local(value), seconds=seconds)


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


def entry_display(entry_id: str | None, labels: dict[str, str]) -> str:
    """`Label (id)` when the label is known and differs, else the id."""
    if not entry_id:
        return ""
    label = labels.get(entry_id)
    return f"{label} ({entry_id})" if label and label != entry_id else entry_id


def _name(entry_id: str, labels: dict[str, str]) -> str:
    return labels.get(entry_id) or entry_id


def summarize(event: Event, labels: dict[str, str]) -> str:
    """A one-line summary a parent understands ("Minecraft ended: time limit reached …")."""
    if isinstance(event, SessionStarted):
        name = event.label or _name(event.entry_id, labels)
        if event.deadline is None:
            return f"{name} started, no time limit"
        return f"{name} started, allowed until {format_local_time(event.deadline)}"
    if isinstance(event, SessionEnded):
        return (f"{_name(event.entry_id, labels)} ended: {reason_text(event.reason)} "
                f"after {format_duration(event.duration)}")
    if isinstance(event, WarningIssued):
        return f"Warned: {format_duration(event.threshold_seconds)} left"
    if isinstance(event, SessionExtended):
        return (f"Extended by {format_duration(event.extended_by)}, now until "
                f"{format_local_time(event.new_deadline)}")
    if isinstance(event, LaunchDenied):
        why = "; ".join(_denial(r) for r in event.reasons) or "no reason given"
        return clip(f"{_name(event.entry_id, labels)} was not allowed: {why}", 300)
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
        target = f" of {_name(event.entry_id, labels)}" if event.entry_id else ""
        return clip(f"{event.user} changed the {event.what}{target}: "
                    f"{event.previous or 'none'} → {event.new or 'none'}", 300)
    if isinstance(event, UnknownEvent):
        if event.malformed:
            return clip(f"Unreadable row: {event.error or 'unknown problem'}", 300)
        return clip(f"Event of a newer service version: {event.raw}", 300)
    return ""


def _denial(reason: str) -> str:
    """Translate the daemon's Debug text of a denial reason where we recognise it."""
    if reason.startswith("QuotaExhausted"):
        return "daily time used up"
    if reason.startswith("CooldownActive"):
        return "resting after the last session"
    if reason.startswith("OutsideWindow") or reason.startswith("NotAvailable"):
        return "not available at this time"
    return clip(reason, 80)
