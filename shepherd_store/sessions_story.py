"""A session's story: what the log says about one session after its start row.

`SessionStories.summarize` tells one session (`Session`) from its start row: its warnings,
extensions and end, read with short, bounded reads after its start: in the seed layout
through the session index (its rows only), bounded by the first `session_started`,
`service_started` or `service_stopped` after it (one index seek each); in the Rust layout (or
a seed file without those indexes) forward from the start in id ranges, reading only session
and service rows, up to that same bound. Nothing reads the whole log, and no statement holds
the lock for long. Finding the starts, a page at a time, is `sessions.SessionReader`'s.

Rules (the same as `recovery`'s, see its module docstring, so both views agree):

* A session's story is the rows naming its id after its start and before the first of: the
  next `session_started` (the service runs one session at a time), `service_stopped`,
  `service_started`, or the newest row read. Its end is the first `session_ended` there.
* Never ended, it is **interrupted** when the service stopped (`service_stopped`: upstream
  stops a running game without ending its session), crashed (the next `service_started`
  without a `service_stopped`), another session started, or, with nothing after it, its
  deadline passed more than `DEADLINE_GRACE` ago (the service ends a session at its
  deadline; still open then, the service stopped without a trace). Otherwise it is
  **running**.
* An interrupted session's play lies between `played_at_least` (from its start to its last
  sign of life: the last row before what interrupted it, or `deadline - T` for a warning of
  threshold T, as recovery proves it) and `played_at_most` (to the earliest of what
  interrupted it and its deadline; None without either). Whole seconds, as recovery's
  findings give them.

(Where a log breaks the service's own rules, an end written after another session started
or after the service restarted, recovery still counts it and this list shows the session
interrupted: such a log is not the shipped service's.)
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from .diagnose import DEADLINE_GRACE
from .events import (
    LaunchFailed,
    ProcessExited,
    ServiceStarted,
    ServiceStopped,
    SessionEnded,
    SessionExtended,
    SessionStarted,
    WarningIssued,
    decode_event,
)
from .query import SCAN_CHUNK, ChunkSizer
from .schema import Layout
from .store import SqliteStore, _MalformedJson
from .timefmt import parse_timestamp

__all__ = ["Interruption", "Session", "SessionStart", "SessionStatus", "SessionStories",
           "parse_time", "read_statement"]

SessionStatus = Literal["ended", "running", "interrupted"]
#: What interrupted a session that never ended (see the module's rules).
Interruption = Literal["stopped", "crashed", "next_session", "silent"]

#: Characters the Rust layout's prefix test looks at: the tag and the next key.
HEAD = 40
START_TYPE = "session_started"
ACTION = "read the sessions of"
#: Rows one statement of a story read returns at most (the story is a handful of rows).
_STORY_ROWS = 64


@dataclass(frozen=True)
class Session:
    """One session as the log tells it (see the module's rules).

    `deadline` is the latest one (after extensions), `start_deadline` the one it started
    with; None when unlimited. `warnings` are the thresholds (seconds before the deadline)
    the service warned at, `warning_ids` their rows; `extensions` the amounts it was extended
    by, `extended_ids` their rows. `reason` is the end's tag (`expired`, `user_stop`, ...)
    and `reason_detail` the exit code (`process_exited`) or the error (`launch_failed`).
    For an interrupted session, `interruption` says what interrupted it, `cut_id`/`cut_at`
    is that row (None for `silent`), `last_seen_at` its last sign of life and
    `played_at_least`/`played_at_most` the bounds of its play in whole seconds.
    """

    session_id: str
    entry_id: str
    label: str
    started_id: int
    started_at: datetime | None
    start_deadline: datetime | None
    deadline: datetime | None
    status: SessionStatus
    ended_id: int | None = None
    ended_at: datetime | None = None
    duration: timedelta | None = None
    reason: str | None = None
    reason_detail: int | str | None = None
    warnings: tuple[int, ...] = ()
    warning_ids: tuple[int, ...] = ()
    extensions: tuple[timedelta, ...] = ()
    extended_ids: tuple[int, ...] = ()
    interruption: Interruption | None = None
    cut_id: int | None = None
    cut_at: datetime | None = None
    last_seen_at: datetime | None = None
    played_at_least: int | None = None
    played_at_most: int | None = None

    @property
    def final(self) -> bool:
        """Whether rows written later can no longer change it: it ended, or what closes its
        story (a run end, the next start) is in the log. Running and `silent` sessions are
        not final: the rows the service writes next may still end them."""
        return self.status == "ended" or self.interruption in ("stopped", "crashed",
                                                               "next_session")

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def interrupted(self) -> bool:
        return self.status == "interrupted"

    @property
    def name(self) -> str:
        """What to call it: its label, else its entry id."""
        return self.label or self.entry_id


@dataclass(frozen=True)
class SessionStart:
    """A `session_started` row: its id, its time (None when unreadable) and its event."""

    id: int
    at: datetime | None
    event: SessionStarted


@dataclass
class _Story:
    """What the rows after a start say (filled while reading)."""

    warnings: list[tuple[int, int]] = field(default_factory=list)
    extensions: list[tuple[int, timedelta, datetime]] = field(default_factory=list)
    end: tuple[int, datetime | None, SessionEnded] | None = None
    #: The row that ends its story: (id, time, type) of the next session start or run end.
    stop: tuple[int, datetime | None, str] | None = None


def parse_time(text: object) -> datetime | None:
    try:
        return parse_timestamp(text)
    except ValueError:
        return None


def read_statement(store: SqliteStore, sql: str, params: tuple[Any, ...], columns: int, *,
                   malformed: bool = False) -> tuple[list[Any], float]:
    """One short read statement (staged: see `SqliteStore._statement`); a malformed-JSON
    error of an unguarded seed query comes out as `sqlite3.OperationalError`."""
    try:
        return store._statement(sql, params, ACTION, columns=columns, malformed_json=malformed)
    except _MalformedJson:
        raise sqlite3.OperationalError("malformed JSON") from None


class SessionStories:
    """Tells sessions' stories from one store (thread-safe, as `SessionReader`).

    `use_index` forces (True) or forbids (False) the seed layout's index path; by default
    it is used when the file has the seed indexes on the event type and the session id.
    """

    def __init__(self, store: SqliteStore, *, use_index: bool | None = None) -> None:
        self.store = store
        self._use_index = use_index
        self._col = store.layout.audit_json
        self._seed = store.layout is Layout.SEED

    def indexed(self) -> bool:
        """Whether the seed layout's index path is used (decided once, see the class)."""
        if self._use_index is None:
            if not self._seed:
                self._use_index = False
            else:
                names = {r[0] for r in self.store._read(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND "
                    "tbl_name = 'audit_log'")}
                self._use_index = {"idx_audit_type", "idx_audit_session"} <= names
        return self._use_index

    def summarize(self, start: SessionStart, top: int, now: datetime) -> Session:
        """The session that starts at `start`, as the rows up to `top` (the newest read)
        tell it at `now` (see the module's rules)."""
        story = _Story()
        if self.indexed():
            try:
                self._story_indexed(start, top, story)
            except sqlite3.OperationalError:  # malformed JSON under the session index
                story = _Story()
                self._story_ranges(start, top, story)
        else:
            self._story_ranges(start, top, story)
        return self._tell(start, story, top, now)

    def _story_indexed(self, start: SessionStart, top: int, story: _Story) -> None:
        """Seed layout: the first start / run end after it (one index seek per type), then
        its own rows through the session index, before that."""
        part = ("SELECT * FROM (SELECT id, timestamp, event_type FROM audit_log WHERE "
                "event_type = ? AND id > ? AND id <= ? ORDER BY id LIMIT 1)")
        rows = self.store._read(
            f"{part} UNION ALL {part} UNION ALL {part} ORDER BY id LIMIT 1",
            (START_TYPE, start.id, top, ServiceStarted.TYPE, start.id, top,
             ServiceStopped.TYPE, start.id, top), ACTION)
        bound = top + 1
        if rows:
            rid, stamp, kind = rows[0]
            story.stop = (int(rid), parse_time(stamp), str(kind))
            bound = int(rid)
        sid = start.event.session_id
        lo = start.id
        while lo < bound - 1:
            found, _held = read_statement(
                self.store, "SELECT id, timestamp, event_data FROM audit_log WHERE "
                "json_extract(event_data, '$.session_id') = ? AND id > ? AND id < ? "
                "ORDER BY id LIMIT ?", (sid, lo, bound, _STORY_ROWS), 3, malformed=True)
            for rid, stamp, text in found:
                if self._take(story, int(rid), stamp, decode_event(text), sid):
                    return
            if len(found) < _STORY_ROWS:
                return
            lo = int(found[-1][0])

    def _story_ranges(self, start: SessionStart, top: int, story: _Story) -> None:
        """Forward from the start in id ranges, session and service rows only, until its end,
        the next start or run end, or the newest row."""
        col = self._col
        if self._seed:
            kinds = ("session_started", "session_ended", "session_extended", "warning_issued",
                     "service_started", "service_stopped")
            cond = f"event_type IN ({', '.join(repr(k) for k in kinds)})"
        else:  # every session row names its tag or session id there; service rows their tag
            head = f"substr({col}, 1, {HEAD})"
            cond = f"(instr({head}, 'session_') > 0 OR instr({head}, 'service_st') > 0)"
        sql = (f"SELECT id, timestamp, {col} FROM audit_log WHERE id > ? AND id <= ? AND "
               f"{cond} ORDER BY id LIMIT ?")
        sizes = ChunkSizer(256, 64, SCAN_CHUNK, growth=4.0)
        sid = start.event.session_id
        pos = start.id
        while pos < top:
            hi = min(pos + sizes.size, top)
            rows, held = read_statement(self.store, sql, (pos, hi, _STORY_ROWS), 3)
            for rid, stamp, text in rows:
                event = decode_event(text)
                if isinstance(event, (SessionStarted, ServiceStarted, ServiceStopped)):
                    story.stop = (int(rid), parse_time(stamp), event.TYPE)
                    return
                if self._take(story, int(rid), stamp, event, sid):
                    return
            reached = int(rows[-1][0]) if len(rows) == _STORY_ROWS else hi
            sizes.record(reached - pos, held)
            pos = reached

    @staticmethod
    def _take(story: _Story, rid: int, stamp: object, event: Any, sid: str) -> bool:
        """Add one row of the session to its story; True at its end."""
        if getattr(event, "session_id", None) != sid:
            return False
        if isinstance(event, WarningIssued):
            story.warnings.append((rid, event.threshold_seconds))
        elif isinstance(event, SessionExtended):
            story.extensions.append((rid, event.extended_by, event.new_deadline))
        elif isinstance(event, SessionEnded):
            story.end = (rid, parse_time(stamp), event)
            return True
        return False

    def _tell(self, start: SessionStart, story: _Story, top: int, now: datetime) -> Session:
        ev = start.event
        deadline = story.extensions[-1][2] if story.extensions else ev.deadline
        base = Session(
            ev.session_id, ev.entry_id, ev.label, start.id, start.at, ev.deadline, deadline,
            "running", warnings=tuple(t for _i, t in story.warnings),
            warning_ids=tuple(i for i, _t in story.warnings),
            extensions=tuple(d for _i, d, _n in story.extensions),
            extended_ids=tuple(i for i, _d, _n in story.extensions))
        if story.end is not None:
            eid, at, ended = story.end
            reason = ended.reason
            detail: int | str | None = None
            if isinstance(reason, ProcessExited):
                detail = reason.exit_code
            elif isinstance(reason, LaunchFailed):
                detail = reason.error
            return replace(base, status="ended", ended_id=eid, ended_at=at,
                           duration=ended.duration, reason=reason.TYPE, reason_detail=detail,
                           last_seen_at=at)
        interruption: Interruption | None = None
        cut_id: int | None = None
        cut_at: datetime | None = None
        if story.stop is not None:
            cut_id, cut_at, kind = story.stop
            interruption = ("next_session" if kind == START_TYPE else
                            "stopped" if kind == ServiceStopped.TYPE else "crashed")
        elif deadline is not None and _after(now, deadline + DEADLINE_GRACE):
            interruption = "silent"
        # Its last sign of life: the last row from its start on (the start row at least).
        if interruption is None:
            return replace(base, last_seen_at=self._alive(start.id - 1, top + 1))
        alive_at = self._alive(start.id - 1, cut_id if cut_id is not None else top + 1)
        # A warning of threshold T was issued at (the original deadline - T) or later.
        if ev.deadline is not None and story.warnings:
            proof = ev.deadline - timedelta(seconds=min(t for _i, t in story.warnings))
            if alive_at is None or _after(proof, alive_at):
                alive_at = proof
        ends = [t for t in (cut_at, deadline) if t is not None]
        upper = min(ends) if ends else None
        least = most = None
        if start.at is not None:
            least = 0
            if alive_at is not None:
                least = max(math.floor((alive_at - start.at).total_seconds()), 0)
            if upper is not None:
                most = max(math.ceil((upper - start.at).total_seconds()), least)
        return replace(base, status="interrupted", interruption=interruption, cut_id=cut_id,
                       cut_at=cut_at, last_seen_at=alive_at, played_at_least=least,
                       played_at_most=most)

    def _alive(self, after: int, before: int) -> datetime | None:
        """The time of the last row in (after, before) with a readable time (this library's
        own rows are no sign of the service's life); None when there is none."""
        mine = " AND event_type <> 'manual_override'" if self._seed else ""
        for _rid, stamp in self.store._read(
                f"SELECT id, timestamp FROM audit_log WHERE id < ? AND id > ?{mine} "
                "ORDER BY id DESC LIMIT 16", (before, after), ACTION):
            at = parse_time(stamp)
            if at is not None:
                return at
        return None


def _after(a: datetime, b: datetime) -> bool:
    try:
        return a > b
    except (OverflowError, ValueError):
        return False
