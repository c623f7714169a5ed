"""Crash recovery's public results: runs, sessions, findings, the report and a repair's result.

What they mean is in the package's rules (`shepherd_store.recovery`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from ..diagnose import Severity
from ..errors import ConflictError
from ..timefmt import format_day, format_timestamp

FindingKind = Literal["interrupted_session", "unclean_shutdown", "usage_lost", "cooldown_missing"]
FINDING_KINDS: tuple[FindingKind, ...] = (
    "interrupted_session", "usage_lost", "cooldown_missing", "unclean_shutdown")
SessionStatus = Literal["ended", "running", "interrupted"]
RunEnd = Literal["clean", "unclean", "open"]
Fix = Literal["repair", "add_lost_usage", "set_cooldown"]

#: Called with (ids read, ids to read); returning False cancels (like the store's scans).
Progress = Callable[[int, int], "bool | None"]


@dataclass(frozen=True, slots=True)
class RecoveredSession:
    """One session as the log tells it.

    `status` is `ended`, `running` (in the open run, deadline not long past) or
    `interrupted` (never ended; see the package's rules). `deadline` is the latest one
    (after extensions), None when unlimited or unreadable. `warnings` are the thresholds
    issued (seconds before the deadline) and `warning_ids` their rows. `last_seen_at` is the
    latest moment it is known to have been running (its end when it ended). `resolved`: a
    repair was recorded for it. Times are None when the stored text cannot be read.
    """

    session_id: str
    entry_id: str
    label: str
    started_id: int
    started_at: datetime | None
    deadline: datetime | None
    ended_id: int | None
    ended_at: datetime | None
    duration: timedelta | None
    end_reason: str | None
    warnings: tuple[int, ...]
    warning_ids: tuple[int, ...]
    extended_ids: tuple[int, ...]
    last_seen_at: datetime | None
    status: SessionStatus
    resolved: bool

    @property
    def interrupted(self) -> bool:
        return self.status == "interrupted"

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass(frozen=True, slots=True)
class Run:
    """One run of the service, from its `service_started` to its end.

    `end`: `clean` (`ended_id` is the `service_stopped`), `unclean` (`ended_id` is the next
    `service_started`) or `open` (the latest run, not stopped: running, or stopped without a
    trace). `started_id` is None for session rows with no `service_started` before them.
    `last_event_*` is the run's last row (for an open run, the log's last). `sessions`
    (oldest first) is filled for the newest `DETAIL_RUNS` runs (`detailed`); `session_count`
    always counts them all, and `RecoveryScanner.run_sessions` reads an older run's.
    `first_id` is the run's first row read (its `service_started`, or its first session).
    """

    started_id: int | None
    started_at: datetime | None
    end: RunEnd
    ended_id: int | None
    ended_at: datetime | None
    last_event_id: int | None
    last_event_at: datetime | None
    sessions: tuple[RecoveredSession, ...]
    session_count: int
    detailed: bool
    first_id: int


@dataclass(frozen=True)
class RecoveryFinding:
    """Something the log shows went unrecorded, in plain words and as figures.

    `min_seconds`/`max_seconds`: the unrecorded seconds (`max_seconds` None when unbounded);
    `day`: the usage day a repair credits (for `min_seconds`); `resolved`: a repair was
    recorded; `evidence`: the audit ids it rests on. `recorded_seconds` is the usage stored
    for `entry_id` on `day` when read; `cooldown_until` the cooldown the service would have
    set (cooldown_missing). `fix` names the repair that applies (`repair`,
    `add_lost_usage`, `set_cooldown`), None when there is nothing to do. `credited_day`
    gives the day for another amount.
    """

    kind: FindingKind
    severity: Severity
    title: str
    explanation: str
    action: str
    evidence: tuple[int, ...]
    session_id: str | None
    entry_id: str | None
    label: str | None
    min_seconds: int | None
    max_seconds: int | None
    day: date | None
    resolved: bool
    started_at: datetime | None = None
    recorded_seconds: int | None = None
    cooldown_until: datetime | None = None
    fix: Fix | None = None
    #: Times of the rows around the session, with the offsets the service wrote (its start,
    #: its run's last sign of life, the run's end): what `credited_day` goes by.
    observed: tuple[datetime, ...] = ()

    @property
    def needs_action(self) -> bool:
        return not self.resolved and self.severity != "info"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as stored, RFC 3339; the day as YYYY-MM-DD)."""
        return {
            "kind": self.kind, "severity": self.severity, "session_id": self.session_id,
            "entry_id": self.entry_id, "label": self.label, "min_seconds": self.min_seconds,
            "max_seconds": self.max_seconds,
            "day": format_day(self.day) if self.day is not None else None,
            "resolved": self.resolved, "evidence": list(self.evidence),
            "started_at": _iso(self.started_at), "recorded_seconds": self.recorded_seconds,
            "cooldown_until": _iso(self.cooldown_until), "fix": self.fix,
            "observed": [_iso(t) for t in self.observed],
            "title": self.title, "explanation": self.explanation, "action": self.action}


@dataclass(frozen=True)
class RecoveryReport:
    """What a scan found: runs newest first, findings most serious first, and notes.

    `last_id` is the newest audit id read; `complete` is False when a scan was cancelled
    (a later `update` continues it).
    """

    runs: tuple[Run, ...]
    findings: tuple[RecoveryFinding, ...]
    notes: tuple[str, ...]
    last_id: int
    complete: bool = True
    now: datetime | None = field(default=None, compare=False)

    @property
    def needs_action(self) -> bool:
        """Whether an unresolved finding needs action (the CLI's exit status 1)."""
        return any(f.needs_action for f in self.findings)

    def finding(self, session_id: str, kind: FindingKind = "interrupted_session"
                ) -> RecoveryFinding | None:
        """The finding of `kind` about `session_id`, if any."""
        return next((f for f in self.findings if f.kind == kind and f.session_id == session_id),
                    None)


@dataclass(frozen=True)
class RepairResult:
    """What `repair` wrote: `seconds` added to `entry_id`'s usage of `day`, and the cooldown.

    `cooldown_until` is the cooldown written (None when not asked, or the stored one was
    already later: `cooldown_note` says why).
    """

    session_id: str | None
    entry_id: str
    day: date
    seconds: int
    usage_before: int
    usage_after: int
    cooldown_until: datetime | None = None
    cooldown_previous: str | None = None
    cooldown_note: str | None = None


class RecoveryConflict(ConflictError):
    """A repair was refused and nothing was written.

    `reason`: `resolved` (already recorded), `changed` (the log changed since it was read),
    `not_interrupted` (ended or still running), `unknown` (no such session), `nothing`
    (nothing left to do).
    """

    def __init__(self, message: str, reason: str, *, path: str | None = None) -> None:
        super().__init__(message, path=path)
        self.reason = reason



def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    try:
        return format_timestamp(value)
    except ValueError:
        return value.isoformat()
