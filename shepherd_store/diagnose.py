"""Snapshot diagnosis: what the saved crash-recovery state means, given the log and usage.

`diagnose(store)` relates the snapshot to the audit log (did its session end? did the service
stop or restart after it?), to usage (were the minutes of a session that never ended counted?)
and to the policy, and returns findings in plain language with a suggested action and, where
one click can fix it, the fix: `clear_active_session`, `delete_snapshot` or `add_usage`
(carried out by `shepherd_store.overrides`). Pure library code: the inspector, the command
line (`snapshot diagnose` exits 1 when `needs_action`) and the service can all use it.

Every query is filtered (by session, event type and time) and paged: the log is never loaded
whole. Times in the texts are the viewer's local time; entries are named by label.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from .errors import SerializationError
from .events import (
    AuditEvent,
    ServiceStarted,
    ServiceStopped,
    SessionEnded,
    SessionExtended,
    SessionStarted,
    WarningIssued,
)
from .policy import Policy
from .query import AuditFilter
from .snapshot import SessionSnapshot, StateSnapshot, decode_snapshot
from .store import SqliteStore
from .timefmt import format_day, local_now, whole_seconds

__all__ = [
    "CLOCK_TOLERANCE",
    "CODES",
    "FIXES",
    "Finding",
    "Severity",
    "UsageGap",
    "diagnose",
    "needs_action",
]

Severity = Literal["info", "warning", "problem"]

#: The one-click fixes a finding may suggest (see `shepherd_store.overrides`).
FIX_CLEAR_SESSION = "clear_active_session"
FIX_DELETE_SNAPSHOT = "delete_snapshot"
FIX_ADD_USAGE = "add_usage"
FIXES = (FIX_CLEAR_SESSION, FIX_DELETE_SNAPSHOT, FIX_ADD_USAGE)

#: Every finding code, from the most to the least serious kind.
CODES = (
    "snapshot_unreadable", "snapshot_from_future", "deadline_before_start",
    "started_after_snapshot", "session_already_ended", "unaccounted_usage",
    "deadline_passed_while_down", "warnings_mismatch", "unknown_entry", "usage_added_by_hand",
    "session_running", "no_active_session", "no_snapshot",
)

#: A snapshot this much later than now is "from the future" (clocks drift a little).
CLOCK_TOLERANCE = timedelta(minutes=2)
#: How long after its deadline a running service has to end a session.
DEADLINE_GRACE = timedelta(minutes=2)
_SERVICE_PAGES = 50  # at most 10,000 service start/stop events after a snapshot are read
_SEVERITY_ORDER = {"problem": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class UsageGap:
    """Seconds of a session that never reached usage: at least `min_seconds`, at most
    `max_seconds`, for `entry_id` on the daemon's local `day`."""

    entry_id: str
    day: date
    session_id: str
    min_seconds: int
    max_seconds: int

    @property
    def reason(self) -> str:
        """The reason recorded when the gap is added to usage (diagnosis recognises it)."""
        return f"time of session {self.session_id} that the service never counted"


@dataclass(frozen=True)
class Finding:
    """One observation about the snapshot.

    `fix` names the one-click fix (`FIXES`) or is None when a person has to decide; `gap`
    is set for `unaccounted_usage` (what `add_usage` would add).
    """

    code: str
    severity: Severity
    title: str
    explanation: str
    action: str
    fix: str | None = None
    gap: UsageGap | None = None


def needs_action(findings: Iterable[Finding]) -> bool:
    """Whether any finding is a warning or a problem (the CLI's exit status 1)."""
    return any(f.severity != "info" for f in findings)


def diagnose(store: SqliteStore, *, now: datetime | None = None,
             policy: Policy | None = None) -> list[Finding]:
    """Findings about the stored snapshot, the most serious first."""
    now = now or local_now()
    text = store.load_snapshot_text()
    if text is None:
        return [Finding(
            "no_snapshot", "info", "No snapshot saved",
            "The database holds no crash-recovery snapshot. The service removes it when it "
            "stops cleanly, and saves one while a session runs.",
            "Nothing to do.")]
    try:
        snapshot = decode_snapshot(text)
    except SerializationError as exc:
        return [Finding(
            "snapshot_unreadable", "problem", "The snapshot cannot be read",
            f"The saved snapshot is not in a form the service can read: {_reason(exc)}. "
            "After a crash the service could not tell which session was running.",
            "Delete the snapshot (the service saves a new one with the next session), or "
            "correct it in the raw JSON editor.", FIX_DELETE_SNAPSHOT)]
    return _Diagnosis(store, snapshot, now, policy).run()


class _Diagnosis:
    """The checks for one readable snapshot (a class only to share the facts between them)."""

    def __init__(self, store: SqliteStore, snapshot: StateSnapshot, now: datetime,
                 policy: Policy | None) -> None:
        self.store = store
        self.snapshot = snapshot
        self.now = now
        self.policy = policy
        self.findings: list[Finding] = []

    def add(self, code: str, severity: Severity, title: str, explanation: str, action: str,
            fix: str | None = None, gap: UsageGap | None = None) -> None:
        self.findings.append(Finding(code, severity, title, explanation, action, fix, gap))

    def run(self) -> list[Finding]:
        snap, session = self.snapshot, self.snapshot.active_session
        if snap.timestamp > self.now + CLOCK_TOLERANCE:
            self.add(
                "snapshot_from_future", "problem", "The snapshot is from the future",
                f"The snapshot was saved at {_when(snap.timestamp, self.now)}, "
                f"{_span(snap.timestamp - self.now)} after the current time "
                f"({_when(self.now, self.now)}). The computer's clock was probably changed "
                "(set back, or wrong before a time sync); the service may compute negative or "
                "huge elapsed times from it.",
                "Check the clock. If it is right now, "
                + ("clear the active session." if session else "delete the snapshot."),
                FIX_CLEAR_SESSION if session else FIX_DELETE_SNAPSHOT)
        if session is None:
            self.add("no_active_session", "info", "No session running",
                     f"The snapshot saved at {_when(snap.timestamp, self.now)} has no active "
                     "session: nothing was running then.", "Nothing to do.")
        else:
            self.check_session(session)
        self.findings.sort(key=lambda f: _SEVERITY_ORDER[f.severity])
        return self.findings

    # --- the active session ----------------------------------------------------------------

    def check_session(self, s: SessionSnapshot) -> None:
        events = self.session_events(s)
        started = next((e for e in events if isinstance(e.event, SessionStarted)), None)
        label = self.label(s.entry_id, started)
        ended = next((e for e in events if isinstance(e.event, SessionEnded)), None)
        self.check_times(s, label)
        if ended is not None:
            self.stale(s, label, ended)
        elif s.deadline > s.started_at:  # with broken times, nothing below would make sense
            self.check_service(s, label)
        self.check_warnings(s, label, events, logged=started is not None)
        self.check_entry(s, label, known=started is not None)

    def check_times(self, s: SessionSnapshot, label: str) -> None:
        if s.deadline <= s.started_at:
            self.add(
                "deadline_before_start", "problem", "The deadline is before the start",
                f"{label}'s session started at {_when(s.started_at, self.now)} but its "
                f"deadline is {_when(s.deadline, self.now)}, "
                + ("the same moment" if s.deadline == s.started_at else
                   f"{_span(s.started_at - s.deadline)} earlier")
                + ". The service would end it at once or compute a negative time left; such a "
                "snapshot comes from a hand edit or a clock change.",
                "Clear the active session, or correct the times in the form.",
                FIX_CLEAR_SESSION)
        if s.started_at > self.snapshot.timestamp + CLOCK_TOLERANCE:
            self.add(
                "started_after_snapshot", "problem", "The session starts after the snapshot",
                f"The snapshot was saved at {_when(self.snapshot.timestamp, self.now)} but says "
                f"{label}'s session started later, at {_when(s.started_at, self.now)}. A "
                "snapshot can only describe a session that had already started.",
                "Correct the start time in the form, or clear the active session.",
                FIX_CLEAR_SESSION)

    def stale(self, s: SessionSnapshot, label: str, ended: AuditEvent) -> None:
        event = ended.event
        assert isinstance(event, SessionEnded)
        self.add(
            "session_already_ended", "warning", "The snapshot is stale: the session ended",
            f"The log shows that {label}'s session ({_short(s.session_id)}) ended at "
            f"{_when(ended.timestamp, self.now)} after {_span(event.duration)}, but the "
            f"snapshot saved at {_when(self.snapshot.timestamp, self.now)} still lists it as "
            "running. Its time was counted when it ended; after a restart the service would "
            "resume a session that no longer exists.",
            "Clear the active session from the snapshot.", FIX_CLEAR_SESSION)

    def check_service(self, s: SessionSnapshot, label: str) -> None:
        """The session never ended: did the service stop, restart, or is it still running?"""
        snap_time = self.snapshot.timestamp
        stops = self.service_events_after(snap_time)
        first = stops[0] if stops else None
        restart = next((e for e in stops if isinstance(e.event, ServiceStarted)), None)
        if first is None:
            if self.now <= s.deadline + DEADLINE_GRACE:
                left = s.deadline - self.now
                self.add(
                    "session_running", "info", f"{label} is running",
                    f"{label} has been running since {_when(s.started_at, self.now)} and may "
                    f"run until {_when(s.deadline, self.now)}"
                    + (f" ({_span(left)} left)." if left > timedelta(0) else " (time is up).")
                    + " The log has no end of the session and the service has not stopped "
                    "since the snapshot: this is the normal state while a session runs.",
                    "Nothing to do.")
                return
            # Past the deadline with no sign of the service: it died without a trace.
            down_from, down_to = snap_time, None
            upper = s.deadline
        else:
            down_from = first.timestamp if isinstance(first.event, ServiceStopped) else snap_time
            down_to = restart.timestamp if restart is not None else None
            upper = min(first.timestamp, s.deadline)
        self.unaccounted(s, label, first, upper)
        end_of_down = down_to or self.now
        if down_from < s.deadline <= end_of_down:
            if down_to is not None:
                window = (f"between {_when(down_from, self.now)} and the restart at "
                          f"{_when(down_to, self.now)}")
            elif first is None:
                window = (f"and the log has nothing from the service since the snapshot at "
                          f"{_when(snap_time, self.now)}: it probably crashed and has not "
                          "started again")
            else:
                window = (f"after it stopped at {_when(down_from, self.now)}; it has not started "
                          "again since")
            self.add(
                "deadline_passed_while_down", "warning",
                "The deadline passed while the service was down",
                f"{label}'s deadline, {_when(s.deadline, self.now)}, passed while the service "
                f"was not running ({window}). Nobody enforced it: no warnings, no end of the "
                "session, no cooldown were written.",
                f"Clear the active session; if {label} should rest now, add a cooldown in the "
                "Cooldowns tab.", FIX_CLEAR_SESSION)

    def unaccounted(self, s: SessionSnapshot, label: str, first: AuditEvent | None,
                    upper: datetime) -> None:
        low = max(whole_seconds(max(self.snapshot.timestamp - s.started_at, timedelta(0))), 0)
        high = max(whole_seconds(max(upper - s.started_at, timedelta(0))), low)
        day = s.started_at.date()  # the daemon's local date: the offset it wrote
        gap = UsageGap(s.entry_id, day, s.session_id, low, high)
        recorded = self.store.get_usage(s.entry_id, day)
        if first is None:
            how = ("Since then the service has written nothing, although the deadline "
                   f"{_when(s.deadline, self.now)} has passed (it crashed or was killed)")
        elif isinstance(first.event, ServiceStopped):
            how = f"Then the service stopped at {_when(first.timestamp, self.now)}"
        else:
            how = (f"Then the service started again at {_when(first.timestamp, self.now)} "
                   "without stopping first (it crashed or was killed)")
        added = self.added_by_hand(gap)
        if added is not None:
            self.add(
                "usage_added_by_hand", "info", "The lost minutes were added by hand",
                f"{label}'s session from {_when(s.started_at, self.now)} was never ended; "
                f"{added} added its time to the usage of {format_day(day)} by hand.",
                "Nothing more to do for usage.")
            return
        if low == high:
            amount, least = _span_secs(low), _span_secs(low)
        elif low == 0:
            amount, least = f"up to {_span_secs(high)}", f"up to {_span_secs(high)}"
        else:
            amount = f"between {_span_secs(low)} and {_span_secs(high)}"
            least = f"at least {_span_secs(low)}"
        self.add(
            "unaccounted_usage", "problem", f"{label}'s time was never counted",
            f"The snapshot saved at {_when(self.snapshot.timestamp, self.now)} shows {label} "
            f"running since {_when(s.started_at, self.now)}. {how}, and the session was never "
            "ended. The service adds a session's time to usage only when it ends, so "
            f"{amount} of {label} were never added to the usage of {format_day(day)} "
            f"(recorded that day: {_span(recorded)}).",
            f"Add the unaccounted minutes to {format_day(day)}'s usage ({least}), then clear "
            "the active session.", FIX_ADD_USAGE, gap)

    def added_by_hand(self, gap: UsageGap) -> str | None:
        """Who added this gap's time already (recognised by its recorded reason), if anyone."""
        for record in self.store.list_overrides():
            change = record.change
            if (change.what == "usage" and change.entry_id == gap.entry_id
                    and change.new is not None and gap.session_id in change.new):
                return f"{change.user} ({_when(record.timestamp, self.now)})"
        return None

    def check_warnings(self, s: SessionSnapshot, label: str, events: list[AuditEvent], *,
                       logged: bool) -> None:
        length = s.deadline - s.started_at
        left = s.deadline - self.snapshot.timestamp
        given = {e.event.threshold_seconds for e in events if isinstance(e.event, WarningIssued)
                 and e.timestamp <= self.snapshot.timestamp + CLOCK_TOLERANCE}
        extended = any(isinstance(e.event, SessionExtended) for e in events)
        twice, impossible, early, unlogged = [], [], [], []
        seen: set[int] = set()
        for w in s.warnings_issued:
            if w in seen:
                twice.append(w)
                continue
            seen.add(w)
            if length > timedelta(0) and w >= length.total_seconds():
                impossible.append(w)
            elif w < left.total_seconds() - CLOCK_TOLERANCE.total_seconds() and w not in given:
                early.append(w)
            elif logged and w not in given and not extended:
                unlogged.append(w)
        issues = []
        if twice:
            issues.append(f"{_warnings(twice)} listed twice")
        if impossible:
            issues.append(f"{_warnings(impossible)} impossible in a session of "
                          f"{_span(length)}")
        if early:
            issues.append(f"{_warnings(early)} not due yet: {_span(left)} were left when the "
                          "snapshot was saved")
        if unlogged:
            issues.append(f"{_warnings(unlogged)} never logged")
        missing = sorted(given - seen, reverse=True) if logged else []
        if missing:
            issues.append(f"{_warnings(missing)} given before the snapshot according to the "
                          "log, but the snapshot does not list it")
        if issues:
            self.add(
                "warnings_mismatch", "warning", "The warnings do not fit the session",
                f"The snapshot lists these warnings as given for {label}'s session: "
                f"{_warning_list(s.warnings_issued)}. But " + "; ".join(issues) + ". After a "
                "restart the service would skip a warning the child never saw, or repeat one.",
                "Correct the warnings in the form (keep only the ones already given).")

    def check_entry(self, s: SessionSnapshot, label: str, *, known: bool) -> None:
        in_policy = self.policy is not None and s.entry_id in self.policy.entries
        if known or in_policy:
            return
        flt = AuditFilter(event_types=frozenset({"session_started"}), entry_id=s.entry_id)
        if self.store.find_audits(flt, limit=1).events:
            return
        where = "the log and the policy have" if self.policy is not None else "the log has"
        self.add(
            "unknown_entry", "warning", "The entry is unknown",
            f"The snapshot names the entry \u201c{s.entry_id}\u201d, which {where} never seen "
            "(no session of it was ever started). A typo in a hand edit, or an entry from "
            "another machine's database?"
            + ("" if self.policy is not None else " (Give the policy file to check it too.)"),
            "Correct the entry id in the form, or clear the active session.",
            FIX_CLEAR_SESSION)

    # --- facts from the database -----------------------------------------------------------

    def session_events(self, s: SessionSnapshot) -> list[AuditEvent]:
        """The session's own events (start, warnings, extensions, end), oldest first."""
        page = self.store.find_audits(AuditFilter(session_id=s.session_id), limit=200)
        return sorted(page.events, key=lambda e: e.id)

    def service_events_after(self, when: datetime) -> list[AuditEvent]:
        """Service starts and stops after `when`, oldest first (paged, bounded)."""
        flt = AuditFilter(event_types=frozenset({"service_started", "service_stopped"}),
                          since=when)
        found: list[AuditEvent] = []
        before: int | None = None
        for _ in range(_SERVICE_PAGES):
            page = self.store.find_audits(flt, before_id=before, limit=200)
            found.extend(e for e in page.events if e.timestamp > when)
            if page.next_before_id is None:
                break
            before = page.next_before_id
        return sorted(found, key=lambda e: e.id)

    def label(self, entry_id: str, started: AuditEvent | None) -> str:
        """The entry's name for people: the policy's label, the log's, or the id."""
        if self.policy is not None and (name := self.policy.label(entry_id)):
            return name
        if started is not None and isinstance(started.event, SessionStarted) \
                and started.event.label:
            return started.event.label
        flt = AuditFilter(event_types=frozenset({"session_started"}), entry_id=entry_id)
        for e in self.store.find_audits(flt, limit=1).events:
            if isinstance(e.event, SessionStarted) and e.event.label:
                return e.event.label
        return entry_id


# --- wording -----------------------------------------------------------------------------


def _when(value: datetime, now: datetime) -> str:
    """A time in the viewer's local time: `15:45` today, `2026-07-04 15:45` otherwise."""
    try:
        local, today = value.astimezone(), now.astimezone().date()
    except (OverflowError, ValueError, OSError):
        return value.isoformat()
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if local.second:
        clock += f":{local.second:02d}"
    return clock if local.date() == today else f"{format_day(local.date())} {clock}"


def _span(value: timedelta) -> str:
    return _span_secs(whole_seconds(abs(value)))


def _span_secs(secs: int) -> str:
    """`45 s`, `10 min 30 s`, `2 h 05 min`, `3 days 4 h`."""
    if secs < 60:
        return f"{secs} s"
    if secs < 3600:
        minutes, rest = divmod(secs, 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    if secs < 86400 * 2:
        hours, rest = divmod(secs, 3600)
        return f"{hours} h {rest // 60:02d} min"
    days, rest = divmod(secs, 86400)
    return f"{days} days {rest // 3600} h"


def _warning_list(warnings: tuple[int, ...]) -> str:
    if not warnings:
        return "none"
    return ", ".join(_span_secs(w) for w in warnings) + " before the deadline"


def _warnings(values: list[int]) -> str:
    """`the 5 min warning was` / `the 5 min and 1 min warnings were`."""
    names = [_span_secs(w) for w in values]
    if len(names) == 1:
        return f"the {names[0]} warning was"
    return f"the {', '.join(names[:-1])} and {names[-1]} warnings were"


def _short(session_id: str) -> str:
    return session_id.split("-", 1)[0][:8]


def _reason(exc: SerializationError) -> str:
    text = str(exc)
    prefix = "the saved snapshot cannot be read: "
    return text[len(prefix):] if text.startswith(prefix) else text

