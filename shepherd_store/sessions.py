"""The session list: one row per session, newest first, read in short keyset statements.

A parent asks "what did they play, for how long, and how did it end", not which client
connected. `SessionReader.page` answers with `Session`s, newest first, a page at a time:

* **The starts** are found by keyset over `session_started` rows, newest first, in id ranges
  (`before_id` continues a page): in the seed layout through the `event_type` index, in the
  Rust layout (no index on the type) by a cheap prefix test on the first 40 characters of
  `event_json`, with the range of each statement sized to about 10 ms (`ChunkSizer`, as
  the store's searches; DESIGN.md, "Short reads"). Filters (`SessionFilter`: entry, session
  id, start time, text of the label / entry / session id) are the store's own WHERE clause
  (`build_where`) on those rows, decided exactly in Python.
* **Each session's story** (warnings, extensions, its end) is read with short, bounded
  reads after its start: in the seed layout through the session index (its rows only),
  bounded by the first `session_started`, `service_started` or `service_stopped` after it
  (one index seek each); in the Rust layout (or a seed file without those indexes) forward
  from the start in id ranges, reading only session and service rows, up to that same
  bound. Nothing reads the whole log, and no statement holds the lock for long.
* **Live**: `SessionReader.refresh` reads only what was added since the last look: the new
  starts, and the sessions that new rows can still change (running, or interrupted only
  because their deadline is long past: `Session.final` is False).

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

Rows that begin like a `session_started` but cannot be read are counted (`unreadable`) and
left to the event log, which shows them marked. Times are aware datetimes as stored; the
words (`how_text`, `length_text`, ...) give times in the viewer's local time.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from .describe import clip, format_duration, format_local, format_local_time
from .diagnose import DEADLINE_GRACE
from .events import (
    LaunchFailed,
    ProcessExited,
    ServiceStarted,
    ServiceStopped,
    SessionEnded,
    SessionExtended,
    SessionStarted,
    UnknownEvent,
    WarningIssued,
    decode_event,
)
from .query import SCAN_CHUNK, AuditFilter, ChunkSizer, build_where
from .schema import Layout
from .store import SqliteStore, _MalformedJson
from .timefmt import local_now, parse_timestamp

__all__ = [
    "PAGE",
    "Session",
    "SessionFilter",
    "SessionPage",
    "SessionReader",
    "SessionUpdate",
    "all_sessions",
    "end_words",
    "ended_text",
    "extensions_text",
    "how_text",
    "interruption_note",
    "length_text",
    "session_fields",
    "warnings_text",
]

SessionStatus = Literal["ended", "running", "interrupted"]
#: What interrupted a session that never ended (see the module's rules).
Interruption = Literal["stopped", "crashed", "next_session", "silent"]

#: Sessions per page (a screenful and more).
PAGE = 100
#: Characters the Rust layout's prefix test looks at: the tag and the next key.
_HEAD = 40
_START_TYPE = "session_started"
#: Called with (ids read, ids to read); returning False cancels.
Progress = Callable[[int, int], bool]
#: Rows one statement of a story read returns at most (the story is a handful of rows).
_STORY_ROWS = 64
_ACTION = "read the sessions of"


@dataclass(frozen=True)
class SessionFilter:
    """Which sessions to show; empty fields do not filter.

    `since` (inclusive) and `until` (exclusive) bound the start time and must be aware.
    `text` is found in the label, the entry id or the session id (case-insensitively).
    `session_id` is the whole id.
    """

    entry_id: str | None = None
    session_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        AuditFilter(since=self.since, until=self.until)  # the same checks (aware times)

    @classmethod
    def from_audit(cls, flt: AuditFilter) -> SessionFilter:
        """The event log's filter where it applies to sessions (event types do not)."""
        return cls(flt.entry_id, flt.session_id, flt.since, flt.until, flt.text)

    @property
    def is_empty(self) -> bool:
        return not (self.entry_id or self.session_id or self.since or self.until or self.text)

    def audit_filter(self) -> AuditFilter:
        """The store's filter for the start rows (its SQL narrows; `matches` decides)."""
        return AuditFilter(entry_id=self.entry_id, session_id=self.session_id,
                           since=self.since, until=self.until, text=self.text)

    def matches(self, start: _Start) -> bool:
        """The exact test of a start row (the SQL only narrows by text)."""
        ev = start.event
        if self.entry_id is not None and ev.entry_id != self.entry_id:
            return False
        if self.session_id is not None and ev.session_id != self.session_id:
            return False
        if self.since is not None or self.until is not None:
            at = start.at
            if at is None:
                return False
            try:
                if self.since is not None and at < self.since:
                    return False
                if self.until is not None and at >= self.until:
                    return False
            except (OverflowError, ValueError):
                return False
        if self.text:
            needle = self.text.casefold()
            return any(needle in value.casefold()
                       for value in (ev.label, ev.entry_id, ev.session_id))
        return True


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
class SessionPage:
    """A page of sessions, newest first, and where to continue.

    `next_before_id` is None when no older session matches; otherwise pass it as
    `before_id`. `top_id` is the newest log row the page took into account (a live refresh
    continues after it). `unreadable` counts start rows that could not be read (shown in the
    event log). `cancelled`: the progress callback stopped the search early.
    """

    sessions: list[Session]
    next_before_id: int | None
    top_id: int
    unreadable: int = 0
    cancelled: bool = False

    @property
    def complete(self) -> bool:
        """Whether nothing older matches (with the earlier pages, the whole answer)."""
        return self.next_before_id is None and not self.cancelled


@dataclass(frozen=True)
class SessionUpdate:
    """What `refresh` found: sessions started since (newest first), sessions that changed,
    and the newest row read. `reset`: the log's newest id went down (another file, or an
    older copy restored): read it all again."""

    new: list[Session]
    changed: list[Session]
    top_id: int
    reset: bool = False
    unreadable: int = 0


@dataclass(frozen=True)
class _Start:
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


def _parse_time(text: object) -> datetime | None:
    try:
        return parse_timestamp(text)
    except ValueError:
        return None


class SessionReader:
    """Reads sessions from one store (thread-safe: a worker may read while another does).

    `use_index` forces (True) or forbids (False) the seed layout's index path; by default
    it is used when the file has the seed indexes on the event type and the session id.
    """

    def __init__(self, store: SqliteStore, *, use_index: bool | None = None) -> None:
        self.store = store
        self._use_index = use_index
        self._col = store.layout.audit_json
        self._seed = store.layout is Layout.SEED

    # --- public -----------------------------------------------------------------------------

    def page(self, flt: SessionFilter | None = None, *, before_id: int | None = None,
             after_id: int | None = None, limit: int = PAGE, now: datetime | None = None,
             progress: Progress | None = None) -> SessionPage:
        """Up to `limit` sessions matching `flt`, newest first, started before `before_id`
        (and after `after_id`), each with its story as the log tells it up to its newest row
        (read at the start of the call).

        `progress(done, total)` is called between statements (ids searched, then sessions
        told); returning False cancels: the page then holds what was done (`cancelled`)."""
        flt = flt or SessionFilter()
        bounds = self.store.audit_id_range()
        if bounds is None or limit <= 0:
            return SessionPage([], None, bounds[1] if bounds else 0)
        lowest, top = bounds
        upper = min(before_id, top + 1) if before_id is not None else top + 1
        floor = max(lowest, (after_id or 0) + 1)
        starts, next_before, unreadable, cancelled = self._starts(flt, upper, floor, limit,
                                                                  progress)
        now = now or local_now()
        sessions: list[Session] = []
        for i, start in enumerate(starts):
            if progress is not None and progress(i, len(starts)) is False:
                return SessionPage(sessions, start.id + 1, top, unreadable, True)
            sessions.append(self._summarize(start, top, now))
        return SessionPage(sessions, next_before, top, unreadable, cancelled)

    def refresh(self, flt: SessionFilter | None, after_id: int, unfinished: Iterable[Session],
                *, now: datetime | None = None, limit: int = 10_000) -> SessionUpdate:
        """The sessions started after row `after_id` that match `flt` (newest first, at most
        `limit`), and `unfinished` (sessions not `final`) told again with the rows since."""
        flt = flt or SessionFilter()
        bounds = self.store.audit_id_range()
        top = bounds[1] if bounds is not None else 0
        if top < after_id:
            return SessionUpdate([], [], top, reset=True)
        now = now or local_now()
        new: list[Session] = []
        unreadable = 0
        if bounds is not None and top > after_id:
            starts, _next, unreadable, _c = self._starts(flt, top + 1,
                                                         max(bounds[0], after_id + 1), limit,
                                                         None)
            new = [self._summarize(s, top, now) for s in starts]
        changed = []
        for old in unfinished:
            told = self.retell(old, top=top, now=now)
            if told != old:
                changed.append(told)
        return SessionUpdate(new, changed, top, unreadable=unreadable)

    def retell(self, session: Session, *, top: int | None = None,
               now: datetime | None = None) -> Session:
        """`session` told again from its start row with the rows up to `top` (the newest)."""
        if top is None:
            bounds = self.store.audit_id_range()
            top = bounds[1] if bounds is not None else session.started_id
        start = _Start(session.started_id, session.started_at, SessionStarted(
            session.session_id, session.entry_id, session.label, session.start_deadline))
        return self._summarize(start, top, now or local_now())

    # --- the starts ---------------------------------------------------------------------------

    def _indexed(self) -> bool:
        if self._use_index is None:
            if not self._seed:
                self._use_index = False
            else:
                names = {r[0] for r in self.store._read(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND "
                    "tbl_name = 'audit_log'")}
                self._use_index = {"idx_audit_type", "idx_audit_session"} <= names
        return self._use_index

    def _start_sql(self, flt: SessionFilter, *, guarded: bool) -> tuple[str, tuple[Any, ...],
                                                                        bool]:
        """(SQL with `id < ? AND id >= ?` and a LIMIT to bind, its other parameters, whether
        an index serves it)."""
        col = self._col
        if self._seed:
            where = build_where(
                AuditFilter(event_types=frozenset({_START_TYPE}), entry_id=flt.entry_id,
                            session_id=flt.session_id, since=flt.since, until=flt.until,
                            text=flt.text), Layout.SEED, guarded=guarded)
            cond, params = where.sql, where.params
            indexed = self._indexed() and not guarded and not (flt.text or flt.since
                                                                 or flt.until)
        else:
            where = build_where(flt.audit_filter(), Layout.RUST)
            cond = f"instr(substr({col}, 1, {_HEAD}), '\"{_START_TYPE}\"') > 0"
            if where.sql != "1":
                cond += f" AND {where.sql}"
            params, indexed = where.params, False
        sql = (f"SELECT id, timestamp, {col} FROM audit_log WHERE id < ? AND id >= ? "
               f"AND {cond} ORDER BY id DESC LIMIT ?")
        return sql, params, indexed

    def _starts(self, flt: SessionFilter, upper: int, floor: int, limit: int,
                progress: Progress | None) -> tuple[list[_Start], int | None, int, bool]:
        """(starts, next_before, unreadable, cancelled) in [floor, upper), newest first."""
        guarded = False
        while True:
            try:
                return self._scan_starts(flt, upper, floor, limit, progress, guarded=guarded)
            except sqlite3.OperationalError:
                if guarded:
                    raise
                guarded = True  # a seed row with malformed JSON: guard the JSON access

    def _scan_starts(self, flt: SessionFilter, upper: int, floor: int, limit: int,
                     progress: Progress | None, *, guarded: bool
                     ) -> tuple[list[_Start], int | None, int, bool]:
        sql, params, indexed = self._start_sql(flt, guarded=guarded)
        if indexed:  # an index range: a statement costs about the rows it returns
            sizes = ChunkSizer(65_536, 256, 1 << 62, growth=8.0)
        else:
            sizes = ChunkSizer(5_000, 256, SCAN_CHUNK)
        found: list[_Start] = []
        unreadable = 0
        hi = upper
        total = max(upper - floor, 1)
        while len(found) < limit and hi > floor:
            need = limit - len(found)
            lo = max(hi - sizes.size, floor)
            rows, held = self._statement(sql, (hi, lo, *params, need), 3,
                                         malformed=not guarded)
            for rid, stamp, text in rows:
                event = decode_event(text)
                if not isinstance(event, SessionStarted):
                    if isinstance(event, UnknownEvent) and (event.malformed
                                                            and event.type in ("", _START_TYPE)):
                        unreadable += 1
                    continue
                start = _Start(int(rid), _parse_time(stamp), event)
                if flt.matches(start):
                    found.append(start)
            reached = int(rows[-1][0]) if len(rows) == need else lo
            sizes.record(hi - reached, held)
            hi = reached
            if progress is not None and progress(upper - hi, total) is False:
                return found, (hi if hi > floor else None), unreadable, True
        return found, (hi if hi > floor else None), unreadable, False

    def _statement(self, sql: str, params: tuple[Any, ...], columns: int, *,
                   malformed: bool = False) -> tuple[list[Any], float]:
        """One short read statement (staged: see `SqliteStore._statement`); a malformed-JSON
        error of an unguarded seed query comes out as `sqlite3.OperationalError`."""
        try:
            return self.store._statement(sql, params, _ACTION, columns=columns,
                                         malformed_json=malformed)
        except _MalformedJson:
            raise sqlite3.OperationalError("malformed JSON") from None

    # --- a session's story ----------------------------------------------------------------

    def _summarize(self, start: _Start, top: int, now: datetime) -> Session:
        story = _Story()
        if self._indexed():
            try:
                self._story_indexed(start, top, story)
            except sqlite3.OperationalError:  # malformed JSON under the session index
                story = _Story()
                self._story_ranges(start, top, story)
        else:
            self._story_ranges(start, top, story)
        return self._tell(start, story, top, now)

    def _story_indexed(self, start: _Start, top: int, story: _Story) -> None:
        """Seed layout: the first start / run end after it (one index seek per type), then
        its own rows through the session index, before that."""
        part = ("SELECT * FROM (SELECT id, timestamp, event_type FROM audit_log WHERE "
                "event_type = ? AND id > ? AND id <= ? ORDER BY id LIMIT 1)")
        rows = self.store._read(
            f"{part} UNION ALL {part} UNION ALL {part} ORDER BY id LIMIT 1",
            (_START_TYPE, start.id, top, ServiceStarted.TYPE, start.id, top,
             ServiceStopped.TYPE, start.id, top), _ACTION)
        bound = top + 1
        if rows:
            rid, stamp, kind = rows[0]
            story.stop = (int(rid), _parse_time(stamp), str(kind))
            bound = int(rid)
        sid = start.event.session_id
        lo = start.id
        while lo < bound - 1:
            found, _held = self._statement(
                "SELECT id, timestamp, event_data FROM audit_log WHERE "
                "json_extract(event_data, '$.session_id') = ? AND id > ? AND id < ? "
                "ORDER BY id LIMIT ?", (sid, lo, bound, _STORY_ROWS), 3, malformed=True)
            for rid, stamp, text in found:
                if self._take(story, int(rid), stamp, decode_event(text), sid):
                    return
            if len(found) < _STORY_ROWS:
                return
            lo = int(found[-1][0])

    def _story_ranges(self, start: _Start, top: int, story: _Story) -> None:
        """Forward from the start in id ranges, session and service rows only, until its end,
        the next start or run end, or the newest row."""
        col = self._col
        if self._seed:
            kinds = ("session_started", "session_ended", "session_extended", "warning_issued",
                     "service_started", "service_stopped")
            cond = f"event_type IN ({', '.join(repr(k) for k in kinds)})"
        else:  # every session row names its tag or session id there; service rows their tag
            head = f"substr({col}, 1, {_HEAD})"
            cond = f"(instr({head}, 'session_') > 0 OR instr({head}, 'service_st') > 0)"
        sql = (f"SELECT id, timestamp, {col} FROM audit_log WHERE id > ? AND id <= ? AND "
               f"{cond} ORDER BY id LIMIT ?")
        sizes = ChunkSizer(256, 64, SCAN_CHUNK, growth=4.0)
        sid = start.event.session_id
        pos = start.id
        while pos < top:
            hi = min(pos + sizes.size, top)
            rows, held = self._statement(sql, (pos, hi, _STORY_ROWS), 3)
            for rid, stamp, text in rows:
                event = decode_event(text)
                if isinstance(event, (SessionStarted, ServiceStarted, ServiceStopped)):
                    story.stop = (int(rid), _parse_time(stamp), event.TYPE)
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
            story.end = (rid, _parse_time(stamp), event)
            return True
        return False

    def _tell(self, start: _Start, story: _Story, top: int, now: datetime) -> Session:
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
            interruption = ("next_session" if kind == _START_TYPE else
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
                "ORDER BY id DESC LIMIT 16", (before, after), _ACTION):
            at = _parse_time(stamp)
            if at is not None:
                return at
        return None


def _after(a: datetime, b: datetime) -> bool:
    try:
        return a > b
    except (OverflowError, ValueError):
        return False


def all_sessions(store: SqliteStore, flt: SessionFilter | None = None, *,
                 now: datetime | None = None, page: int = PAGE,
                 reader: SessionReader | None = None) -> list[Session]:
    """Every session matching `flt`, newest first (page after page)."""
    reader = reader or SessionReader(store)
    out: list[Session] = []
    before: int | None = None
    now = now or local_now()
    while True:
        got = reader.page(flt, before_id=before, limit=page, now=now)
        out.extend(got.sessions)
        if got.next_before_id is None:
            return out
        before = got.next_before_id


# --- in words ---------------------------------------------------------------------------------

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
