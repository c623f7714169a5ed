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
  reads after its start (`sessions_story`, with the rules that decide whether a session
  ended, runs or was interrupted: the same as `recovery`'s, so both views agree). Nothing
  reads the whole log, and no statement holds the lock for long.
* **Live**: `SessionReader.refresh` reads only what was added since the last look: the new
  starts, and the sessions that new rows can still change (running, or interrupted only
  because their deadline is long past: `Session.final` is False).

Rows that begin like a `session_started` but cannot be read are counted (`unreadable`) and
left to the event log, which shows them marked. Times are aware datetimes as stored; the
words (`how_text`, `length_text`, ...) give times in the viewer's local time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .events import SessionStarted, UnknownEvent, decode_event
from .query import SCAN_CHUNK, AuditFilter, ChunkSizer, build_where
from .schema import Layout
from .sessions_story import (
    HEAD,
    START_TYPE,
    Session,
    SessionStart,
    SessionStories,
    parse_time,
    read_statement,
)
from .sessions_text import (
    end_words,
    ended_text,
    extensions_text,
    how_text,
    interruption_note,
    length_text,
    session_fields,
    warnings_text,
)
from .store import SqliteStore
from .timefmt import local_now

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

#: Sessions per page (a screenful and more).
PAGE = 100
#: Called with (ids read, ids to read); returning False cancels.
Progress = Callable[[int, int], bool]


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

    def matches(self, start: SessionStart) -> bool:
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


class SessionReader:
    """Reads sessions from one store (thread-safe: a worker may read while another does).

    `use_index` forces (True) or forbids (False) the seed layout's index path; by default
    it is used when the file has the seed indexes on the event type and the session id.
    """

    def __init__(self, store: SqliteStore, *, use_index: bool | None = None) -> None:
        self.store = store
        #: Each session's story after its start (`sessions_story`).
        self._stories = SessionStories(store, use_index=use_index)
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
            sessions.append(self._stories.summarize(start, top, now))
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
            new = [self._stories.summarize(s, top, now) for s in starts]
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
        start = SessionStart(session.started_id, session.started_at, SessionStarted(
            session.session_id, session.entry_id, session.label, session.start_deadline))
        return self._stories.summarize(start, top, now or local_now())

    # --- the starts ---------------------------------------------------------------------------

    def _start_sql(self, flt: SessionFilter, *, guarded: bool) -> tuple[str, tuple[Any, ...],
                                                                        bool]:
        """(SQL with `id < ? AND id >= ?` and a LIMIT to bind, its other parameters, whether
        an index serves it)."""
        col = self._col
        if self._seed:
            where = build_where(
                AuditFilter(event_types=frozenset({START_TYPE}), entry_id=flt.entry_id,
                            session_id=flt.session_id, since=flt.since, until=flt.until,
                            text=flt.text), Layout.SEED, guarded=guarded)
            cond, params = where.sql, where.params
            indexed = self._stories.indexed() and not guarded and not (flt.text or flt.since
                                                                 or flt.until)
        else:
            where = build_where(flt.audit_filter(), Layout.RUST)
            cond = f"instr(substr({col}, 1, {HEAD}), '\"{START_TYPE}\"') > 0"
            if where.sql != "1":
                cond += f" AND {where.sql}"
            params, indexed = where.params, False
        sql = (f"SELECT id, timestamp, {col} FROM audit_log WHERE id < ? AND id >= ? "
               f"AND {cond} ORDER BY id DESC LIMIT ?")
        return sql, params, indexed

    def _starts(self, flt: SessionFilter, upper: int, floor: int, limit: int,
                progress: Progress | None) -> tuple[list[SessionStart], int | None, int, bool]:
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
                     ) -> tuple[list[SessionStart], int | None, int, bool]:
        sql, params, indexed = self._start_sql(flt, guarded=guarded)
        if indexed:  # an index range: a statement costs about the rows it returns
            sizes = ChunkSizer(65_536, 256, 1 << 62, growth=8.0)
        else:
            sizes = ChunkSizer(5_000, 256, SCAN_CHUNK)
        found: list[SessionStart] = []
        unreadable = 0
        hi = upper
        total = max(upper - floor, 1)
        while len(found) < limit and hi > floor:
            need = limit - len(found)
            lo = max(hi - sizes.size, floor)
            rows, held = read_statement(self.store, sql, (hi, lo, *params, need), 3,
                                        malformed=not guarded)
            for rid, stamp, text in rows:
                event = decode_event(text)
                if not isinstance(event, SessionStarted):
                    if isinstance(event, UnknownEvent) and (event.malformed
                                                            and event.type in ("", START_TYPE)):
                        unreadable += 1
                    continue
                start = SessionStart(int(rid), parse_time(stamp), event)
                if flt.matches(start):
                    found.append(start)
            reached = int(rows[-1][0]) if len(rows) == need else lo
            sizes.record(hi - reached, held)
            hi = reached
            if progress is not None and progress(upper - hi, total) is False:
                return found, (hi if hi > floor else None), unreadable, True
        return found, (hi if hi > floor else None), unreadable, False


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

