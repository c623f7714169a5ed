"""Sessions in words, for a parent: how a session ended, how long it lasted, what the log
proves about an interrupted one (`sessions_story.Session`). Times are given in the viewer's
local time."""

from __future__ import annotations

from datetime import datetime, timedelta

from .describe import clip, format_duration, format_local, format_local_time
from .sessions_story import Session
from .timefmt import local_now

__all__ = [
    "end_words",
    "ended_text",
    "extensions_text",
    "how_text",
    "interruption_note",
    "length_text",
    "session_fields",
    "warnings_text",
]

_REASON_WORDS = {
    "expired": "time was up",
    "user_stop": "stopped by the child",
    "admin_stop": "stopped by a parent",
    "policy_stop": "stopped by the schedule",
    "service_shutdown": "ended as the service stopped",
}
_INTERRUPTED_WORDS: dict[str, str] = {
    "stopped": "the service stopped under it",
    "crashed": "the service crashed under it",
    "silent": "the service stopped without a trace",
    "next_session": "another session started",
}


def end_words(reason: str | None, detail: int | str | None = None) -> str:
    """How a session ended, for a parent: `time was up`, `closed the game`, ..."""
    if reason == "process_exited":
        if detail in (0, None):
            return "closed the game"
        return f"the game quit with an error (exit code {detail})"
    if reason == "launch_failed":
        return f"could not start: {clip(str(detail or 'no reason given'), 80)}"
    return _REASON_WORDS.get(reason or "", "ended")


def how_text(s: Session) -> str:
    """The "how it ended" column: the end in words, `interrupted: ...`, or `running`."""
    if s.status == "ended":
        return end_words(s.reason, s.reason_detail)
    if s.status == "interrupted":
        return f"interrupted: {_INTERRUPTED_WORDS.get(s.interruption or '', 'never ended')}"
    if s.deadline is None:
        return "running, no time limit"
    return f"running, allowed until {format_local_time(s.deadline)}"


def length_text(s: Session, now: datetime | None = None, *, so_far: bool = True) -> str:
    """How long it lasted: `45 min`; for an interrupted session what the log proves,
    `≥ 55 min` (or `≤ 23 min` when nothing proves it ran at all, but its deadline or the
    service's restart bound it); `12 min so far` while running (`12 min` without
    `so_far`: where the running state is said beside it); `—` when unknown."""
    if s.status == "ended":
        return format_duration(s.duration) if s.duration is not None else "—"
    if s.status == "interrupted":
        if s.played_at_least is None:
            return "—"
        if s.played_at_least == 0 and s.played_at_most is not None:
            return f"≤ {format_duration(s.played_at_most)}"
        return f"≥ {format_duration(s.played_at_least)}"
    if s.started_at is None:
        return "—"
    try:
        played = (now or local_now()) - s.started_at
    except (OverflowError, ValueError):
        return "—"
    return format_duration(max(played, timedelta(0))) + (" so far" if so_far else "")


def ended_text(s: Session) -> str:
    """When it ended, local time: the clock alone on the day it started (`+1 d` a day
    later); `—` when it has not (or it is unknown)."""
    at = s.ended_at if s.status == "ended" else None
    if at is None:
        return "—"
    days = _local_days(s.started_at, at) if s.started_at is not None else None
    if days == 0:
        return format_local_time(at)
    if days is not None and 0 < days < 7:
        return f"{format_local_time(at)} +{days} d"
    return format_local(at, seconds=False)


def _local_days(a: datetime, b: datetime) -> int | None:
    """Calendar days from `a` to `b` in the viewer's local time."""
    try:
        return (b.astimezone().date() - a.astimezone().date()).days
    except (OverflowError, ValueError, OSError):
        return None


def warnings_text(s: Session) -> str:
    """The warnings given, as the time they announced: `5 min, 1 min`; empty for none."""
    return ", ".join(format_duration(t) for t in s.warnings)


def extensions_text(s: Session) -> str:
    """The extensions: `+15 min`, or their sum and count (`+25 min (2×)`); empty for none."""
    if not s.extensions:
        return ""
    total = sum(s.extensions, timedelta(0))
    count = f" ({len(s.extensions)}×)" if len(s.extensions) > 1 else ""
    return f"+{format_duration(total)}{count}"


def interruption_note(s: Session) -> str:
    """A sentence on what the log can prove about an interrupted session ("" otherwise)."""
    if s.status != "interrupted":
        return ""
    what = {
        "stopped": f"The service stopped at {format_local(s.cut_at)} while it ran, without "
                   "ending it (its play was not added to the day's usage).",
        "crashed": f"The service started again at {format_local(s.cut_at)} without having "
                   "stopped: it crashed or lost power while this session ran, and its play "
                   "was not added to the day's usage.",
        "next_session": f"Another session started at {format_local(s.cut_at)} while this one "
                        "had not ended.",
        "silent": "Its time is long over and the service wrote nothing about it: the service "
                  "stopped without a trace.",
    }.get(s.interruption or "", "")
    if s.played_at_least is None:
        return what
    played = f"at least {format_duration(s.played_at_least)}"
    if s.played_at_most is not None and s.played_at_most != s.played_at_least:
        played += f" and at most {format_duration(s.played_at_most)}"
    return f"{what} Played {played} (the Recovery tab can add it to the usage)."


def session_fields(s: Session, now: datetime | None = None) -> list[tuple[str, str]]:
    """(name, value) rows describing a session, times in local time (the detail pane;
    `interruption_note` says what the log proves about an interrupted one)."""
    rows = [("Entry", f"{s.name} ({s.entry_id})" if s.label and s.label != s.entry_id
             else s.entry_id),
            ("Started", format_local(s.started_at)),
            ("Allowed until", format_local(s.deadline) if s.deadline is not None
             else "no time limit")]
    if s.extensions and s.start_deadline is not None:
        rows.append(("First allowed until", format_local(s.start_deadline)))
    if s.status == "ended":
        rows.append(("Ended", format_local(s.ended_at)))
    rows.append(("Length", length_text(s, now)))
    rows.append(("How it ended", how_text(s)))
    rows.append(("Warnings", ", ".join(f"{format_duration(t)} left" for t in s.warnings)
                 or "none"))
    rows.append(("Extensions", ", ".join(f"+{format_duration(d)}" for d in s.extensions)
                 or "none"))
    rows.append(("Session id", s.session_id))
    ids = [f"started {s.started_id}"]
    if s.ended_id is not None:
        ids.append(f"ended {s.ended_id}")
    if s.cut_id is not None:
        ids.append(f"interrupted at {s.cut_id}")
    rows.append(("Log rows", ", ".join(ids)))
    return rows
