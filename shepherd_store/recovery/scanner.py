"""`RecoveryScanner`: reads the log once, then only the rows added since; makes the reports.

It feeds the rows to a `_State` (state.py), looks up the signs of life and the warnings
that state asks for, reads the usage (stored_usage.py) and the manual changes (changes.py),
and has `_Findings` (findings.py) describe what is missing. `recover` is the one-shot form.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import operator
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from ..describe import reason_text
from ..events import (
    AdminStop,
    Expired,
    LaunchFailed,
    PolicyStop,
    ProcessExited,
    ServiceShutdown,
    SessionEndReason,
    UserStop,
)
from ..policy import Policy
from ..query import SCAN_CHUNK
from ..store import SqliteStore
from ..timefmt import format_day, local_now
from .changes import read_side_overrides, resolved
from .findings import _ORDER_KEY, _Bounds, _Findings, _label, _order, _Ordered, running_note
from .notes import describe_notes
from .results import Progress, RecoveredSession, RecoveryReport, Run
from .rows import _SVC_START, _alive_batch_sql, _alive_sql, _parse_ts, _parse_warning, _scan_sql
from .state import _CUT, _LAST_AND_ALIVE, _after, _deadline, _Run, _Sess, _State, _status, ingest
from .stored_usage import _StoredUsage

#: The newest runs whose sessions a report lists (older ones: `RecoveryScanner.run_sessions`).
DETAIL_RUNS = 100
#: Ids `since` looks back at a time for the run's start (at most 10 times).
_LOOK_BACK = SCAN_CHUNK
#: Restarts whose last sign of life one statement looks up (one seek each), and sessions
#: whose warnings it reads.
_ALIVE_BATCH = 500
#: At most this many ids are read by one statement reading many sessions' warnings.
_WARN_BATCH_IDS = 5_000
#: Reads of more ids than this first look for the runs they will push out of the detail
#: window (`_detail_from`): their sessions need not be kept.
_DETAIL_GUESS_MIN = SCAN_CHUNK
_FIRST_ID = operator.attrgetter("first_id")


# --- the scanner ----------------------------------------------------------------------------


class RecoveryScanner:
    """Reads the log once and then only what was added; builds `RecoveryReport`s.

    Thread-safe: calls are serialized, so a worker thread may scan while another thread
    asks for `report`. `since` limits the scan (and the report) to runs active from then on.
    """

    def __init__(self, store: SqliteStore, policy: Policy | None = None, *,
                 since: datetime | None = None) -> None:
        self.store = store
        self.policy = policy
        self.since = since
        self._lock = threading.RLock()
        self._state: _State | None = None
        self._report: RecoveryReport | None = None
        self._made = _Findings(policy, self._warnings)
        self._old = _OldWarnings(store)
        self._stored = _StoredUsage(store)
        # What the previous report was made of (for the same `_State`).
        self._frozen_for: _State | None = None
        self._frozen: list[Run | None] = []
        self._resolved_seen: dict[str, int] = {}
        self._sql = self._warnings_sql = ""  # (`_prepare`)
        self._alive_sql = _alive_sql(store.layout)
        self._alive_batch_sql = _alive_batch_sql(store.layout)

    @property
    def report(self) -> RecoveryReport | None:
        """The latest report (None before the first scan)."""
        return self._report

    def scan(self, progress: Progress | None = None, cancel: Callable[[], bool] | None = None,
             *, now: datetime | None = None) -> RecoveryReport:
        """Read the whole log (or from `since`) anew; `progress` and `cancel` as in the
        store's scans. A cancelled scan returns a report with `complete` False."""
        with self._lock:
            self._state = None
            self._made.cache.clear()
            self._old.found.clear()
            return self._advance(progress, cancel, now)

    def update(self, *, now: datetime | None = None, progress: Progress | None = None,
               cancel: Callable[[], bool] | None = None) -> RecoveryReport:
        """Read only the rows added since the last call (a full scan the first time, or when
        the log's newest id went down), re-read usage, cooldowns and overrides."""
        with self._lock:
            return self._advance(progress, cancel, now)

    def run_sessions(self, run: Run) -> tuple[RecoveredSession, ...]:
        """Every session of `run`: read again from the log for runs not kept in detail.

        (A session of such a run whose end was written only after the run is shown ended,
        without the end's details.)
        """
        if run.detailed:
            return run.sessions
        with self._lock:
            state = self._state
            original = None if state is None else next(
                (r for r in state.runs if r.first_id == run.first_id), None)
            if state is None or original is None:
                return ()
            if original.end == "clean":
                hi = original.ended_id or state.last_id
            elif original.end == "unclean":
                hi = (original.ended_id or state.last_id + 1) - 1
            else:
                hi = state.last_id
            sub = _State(original.first_id - 1, DETAIL_RUNS)
            self._read_range(sub, sub.floor, hi, None, None)
            self._read_warnings(sub, hi)
            replayed = next((r for r in sub.runs if r.first_id == original.first_id), None)
            if replayed is None or replayed.sessions is None:
                return ()
            replayed.end, replayed.ended_id, replayed.ended_at = (
                original.end, original.ended_id, original.ended_at)
            replayed.alive, replayed.last = original.alive, original.last
            never = {s.started_id for s in original.never_ended}
            now = self._report.now if self._report is not None and self._report.now else \
                local_now()
            done = resolved(state)
            out = []
            for s in replayed.sessions:
                if s.end is None and s.started_id not in never:
                    s.end = (s.started_id, None, 0, 0, "expired", None)  # ended after the run
                    session = self._session(s, replayed, now, done)
                    session = dataclasses.replace(session, ended_id=None, duration=None,
                                                  ended_at=None, end_reason=None)
                else:
                    session = self._session(s, replayed, now, done)
                out.append(session)
            return tuple(out)

    # --- reading ----------------------------------------------------------------------------

    def _prepare(self) -> None:
        """The statements of a scan, for this database's text encoding (once)."""
        if self._sql:
            return
        rows = self.store._read("PRAGMA encoding")
        utf8 = bool(rows) and str(rows[0][0]).upper() == "UTF-8"
        self._sql, self._warnings_sql, self._old.session_sql, self._old.batch_sql = _scan_sql(
            self.store.layout.audit_json, utf8=utf8)

    def _advance(self, progress: Progress | None, cancel: Callable[[], bool] | None,
                 now: datetime | None) -> RecoveryReport:
        store = self.store
        self._prepare()
        bounds = store.audit_id_range()
        top = bounds[1] if bounds is not None else 0
        state = self._state
        if state is None or top < state.last_id or state.broken:
            state = self._state = _State(_floor(store, self.since, bounds), DETAIL_RUNS)
            self._made.cache.clear()
            self._old.found.clear()
        if top - state.last_id > _DETAIL_GUESS_MIN:
            state.detail_from = _detail_from(store, state.floor, top)
        # A long read allocates many objects and keeps most: the cyclic collector's passes
        # over them (as they age) cost a twentieth of a full scan. Paused meanwhile.
        collecting = gc.isenabled() and top - state.last_id > SCAN_CHUNK
        if collecting:
            gc.disable()
        try:
            complete = self._read_range(state, state.last_id, top, progress, cancel)
            if complete:
                self._read_warnings(state, top)
            report = self._build(state, now or local_now(), complete)
        finally:
            if collecting:
                gc.enable()
        self._report = report
        return report

    def _read_range(self, state: _State, low: int, top: int, progress: Progress | None,
                    cancel: Callable[[], bool] | None) -> bool:
        """Read ids in (low, top] into `state`, in the store's short, staged statements
        (`SqliteStore.read_id_ranges`: each sized to about 10 ms, the lock released between
        them); False when cancelled."""
        store = self.store
        if not store._has("audit_log"):
            return True
        total = max(top - low, 1)
        # The scan allocates a few objects per row and keeps few: the cyclic collector's
        # passes over them cost a tenth of a full scan. Paused meanwhile (as it was).
        collecting = gc.isenabled() and top - low > SCAN_CHUNK
        if collecting:
            gc.disable()
        # A long read has each range staged while the one before is ingested (`ahead`: a
        # tenth of a full scan); an update's few rows are read as they are asked for.
        ranges = store.read_id_ranges(self._sql, low, top, columns=3,
                                      ahead=top - low > SCAN_CHUNK)
        try:
            if low < top and cancel is not None and cancel():
                return False
            for hi, rows in ranges:
                try:
                    ingest(state, rows)
                    if state.pending:  # the signs of life the chunk asked for
                        self._resolve_alive(state)
                except BaseException:  # (a lookup failed half-way: read it all again)
                    state.broken = True
                    raise
                state.last_id = hi
                if progress is not None and progress(hi - low, total) is False:
                    return hi >= top
                if hi < top and cancel is not None and cancel():
                    return False
        finally:
            ranges.close()  # (now: a range staged ahead is waited for, its thread ended)
            if collecting:
                gc.enable()
        state.last_id = max(state.last_id, top)
        return True

    def _read_warnings(self, state: _State, top: int) -> None:
        """Attach the warnings of the runs kept in detail (ids up to `top`) to their sessions:
        each to the latest session of its id started before it, unless that had ended."""
        window = state.runs[-state.detail_runs:]
        low = max(state.warn_last, window[0].first_id - 1 if window else top)
        if low >= top:
            state.warn_last = max(state.warn_last, top)
            return
        by_sid: dict[str, list[_Sess]] = {}
        for run in window:
            for s in run.sessions or ():
                by_sid.setdefault(s.sid, []).append(s)
        for _hi, rows in self.store.read_id_ranges(self._warnings_sql, low, top, columns=2):
            for rid, text in rows:
                found = _parse_warning(text)
                if found is None:
                    continue
                # the latest session of that id started before it (an id started again
                # supersedes the earlier one), if it had not ended by then
                owner = None
                for s in by_sid.get(found[0], ()):
                    if s.started_id < rid and (owner is None or s.started_id > owner.started_id):
                        owner = s
                if owner is not None and (owner.end is None or owner.end[0] > rid):
                    if owner.warn is None:
                        owner.warn = []
                    owner.warn.append((rid, found[1]))
                    state.changed.add(owner.run)
        state.warn_last = top

    def _warnings(self, s: _Sess) -> list[tuple[int, int]]:
        """The (id, threshold) warnings of a session (see `_OldWarnings.of`)."""
        return self._old.of(s, self._state)

    def _last_alive(self, before: int, first: int) -> tuple[int | None, datetime | None]:
        """The last row before `before` (and not before `first`) with a readable time."""
        for rid, ts in self.store._read(self._alive_sql, (before, first)):
            at = _parse_ts(ts)
            if at is not None:
                return int(rid), at
        return None, None

    def _resolve_alive(self, state: _State) -> None:
        """Fill in the signs of life a chunk asked for (`_State.pending`): `_last_alive` of
        each, in one statement per `_ALIVE_BATCH` (the row just before, when its time is
        readable; the usual lookup otherwise) instead of one per restart."""
        pending, state.pending = state.pending, []
        wanted = list(dict.fromkeys((rid, first) for _kind, _obj, rid, first in pending))
        found: dict[tuple[int, int], tuple[int | None, datetime | None]] = {}
        for i in range(0, len(wanted), _ALIVE_BATCH):
            part = wanted[i:i + _ALIVE_BATCH]
            rows = self.store._read(self._alive_batch_sql, (json.dumps(part),))
            hits = [row[1] for row in rows] if len(rows) == len(part) else [None] * len(part)
            for (rid, first), hit in zip(part, hits, strict=True):
                alive: tuple[int | None, datetime | None] | None = None
                if isinstance(hit, str):
                    prev_id, _sp, stamp = hit.partition(" ")
                    at = _parse_ts(stamp)
                    if at is not None:
                        alive = (int(prev_id), at)
                found[(rid, first)] = alive if alive is not None else \
                    self._last_alive(rid, first)
        for kind, obj, rid, first in pending:
            seen = found[(rid, first)]
            if kind == _CUT:
                obj.cut = (obj.cut[0], obj.cut[1], *seen)
            else:
                obj.alive = seen
                if kind == _LAST_AND_ALIVE:
                    obj.last = seen

    # --- the report -------------------------------------------------------------------------

    def _build(self, state: _State, now: datetime, complete: bool) -> RecoveryReport:
        """The report: runs described anew only where something changed (an update costs
        little however long the log), findings, notes."""
        store = self.store
        read_side_overrides(store, state)
        done = resolved(state)
        seen_before = self._stored.rows
        usage, changed = self._usage()
        cooldowns = {c.entry_id: c.until for c in store.all_cooldowns()}
        open_run = state.current if state.current is not None and state.current.end == "open" \
            else None
        if open_run is not None:
            open_run.last = open_run.alive = self._last_alive(state.last_id + 1,
                                                              open_run.first_id)
        never_ended = [s for s in (*state.open.values(), *state.orphans) if s.end is None]
        flagged = {s.run: None for s in never_ended}
        flagged.update((r, None) for r in state.unclean)
        # The runs, oldest first, kept between reports (index = `_Run.index`).
        if self._frozen_for is not state:
            self._frozen_for, self._frozen, self._resolved_seen = state, [], {}
            self._made.by_run = {}
        frozen = self._frozen
        dirty = set(range(len(frozen), len(state.runs)))
        frozen.extend([None] * (len(state.runs) - len(frozen)))
        dirty.update(run.index for run in state.changed)
        state.changed.clear()
        if done != self._resolved_seen:  # a repair: its session's run reads anew
            dirty.update(s.run.index for s in never_ended)
            dirty.update(run.index for run in flagged)
            self._resolved_seen = dict(done)
        if open_run is not None:
            dirty.add(open_run.index)
        for i in dirty:
            frozen[i] = self._freeze(state.runs[i], now, done)
        since = self.since
        first = 0
        if since is not None:
            first = len(state.runs)
            while first > 0 and (state.runs[first - 1] is open_run
                                 or _after(state.runs[first - 1], since)):
                first -= 1
        runs = tuple(filter(None, reversed(frozen[first:])))
        # The usage keys that changed since the previous report (a superset: they are only
        # compared again).
        if usage is self._made.usage_seen:
            changed_usage: set[str] = set()
        elif seen_before is self._made.usage_seen:
            changed_usage = changed
        else:
            changed_usage = {k for k, _v in usage.items() ^ self._made.usage_seen.items()}
        findings: list[_Ordered] = []
        shown = [run for run in sorted(flagged, key=_FIRST_ID)
                 if since is None or run is open_run or _after(run, since)]
        self._old.prefetch((s for run in shown if run.sessions is None
                            for s in run.never_ended), state)
        for run in shown:
            findings += self._made.run_findings(
                run, now, done, usage, cooldowns, changed_usage=changed_usage,
                fresh=run is open_run or run.index in dirty)
        findings += [(_order(f), f) for f in self._made.usage_findings(state, usage, since,
                                                                        changed_usage)]
        findings.sort(key=_ORDER_KEY)  # (stable: as listed when the order is the same)
        notes = describe_notes(state, self.store)
        if open_run is not None:
            notes += tuple(running_note(self.policy, s, open_run) for s in open_run.never_ended
                           if _status(s, open_run, now) == "running")
        return RecoveryReport(runs, tuple(f for _key, f in findings), notes, state.last_id,
                              complete, now)

    def _usage(self) -> tuple[dict[str, int], set[str]]:
        """The stored usage, and the keys that may have changed (`_StoredUsage.read`)."""
        return self._stored.read()

    def _freeze(self, run: _Run, now: datetime, resolved: dict[str, int]) -> Run:
        sessions = () if run.sessions is None else tuple(
            self._session(s, run, now, resolved) for s in run.sessions)
        last_id, last_at = run.last
        return Run(run.started_id, run.started_at, run.end, run.ended_id, run.ended_at,
                   last_id, last_at, sessions, run.count, run.sessions is not None, run.first_id)

    def _session(self, s: _Sess, run: _Run, now: datetime,
                 resolved: dict[str, int]) -> RecoveredSession:
        status = _status(s, run, now)
        started = _parse_ts(s.started_ts)
        duration = ended_at = None
        last_seen: datetime | None
        if status == "ended":
            assert s.end is not None
            _eid, ended_ts, secs, micros, _tag, _extra = s.end
            duration = timedelta(seconds=secs, microseconds=micros)
            ended_at = _parse_ts(ended_ts)
            last_seen = ended_at
        elif status == "interrupted":
            last_seen = _Bounds(s, run, self._warnings(s)).alive_at
        else:
            last_seen = run.alive[1]
        warn = self._warnings(s)
        return RecoveredSession(
            s.sid, s.entry, _label(self.policy, s), s.started_id, started, _deadline(s),
            s.ended_id, ended_at, duration,
            _reason_words(*s.end[4:]) if s.end is not None else None,
            tuple(t for _i, t in warn), tuple(i for i, _t in warn),
            tuple(i for i, _d in s.ext or []), last_seen, status,
            status == "interrupted" and s.sid in resolved)


def _reason_words(tag: str, extra: object) -> str:
    reason: SessionEndReason
    if tag == "process_exited":
        reason = ProcessExited(extra if isinstance(extra, int) else None)
    elif tag == "launch_failed":
        reason = LaunchFailed(str(extra))
    else:
        simple: dict[str, SessionEndReason] = {
            "expired": Expired(), "user_stop": UserStop(), "admin_stop": AdminStop(),
            "policy_stop": PolicyStop(), "service_shutdown": ServiceShutdown()}
        reason = simple.get(tag, Expired())
    return reason_text(reason)


class _OldWarnings:
    """The warnings of the sessions of runs not kept in detail: read on demand, once (`of`),
    or ahead for many sessions at once (`prefetch`); kept until the scanner reads anew."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.session_sql = self.batch_sql = ""  # (`RecoveryScanner._prepare`)
        #: (session id, its start's id) -> its (id, threshold) warnings
        self.found: dict[tuple[str, int], list[tuple[int, int]]] = {}

    def of(self, s: _Sess, state: _State | None) -> list[tuple[int, int]]:
        """The (id, threshold) warnings of a session: attached for runs kept in detail, read
        on demand (once) for an older run's interrupted session."""
        if s.run.sessions is not None:
            return s.warn or []
        key = (s.sid, s.started_id)
        found = self.found.get(key)
        if found is None:
            found = []
            for _hi, rows in self.store.read_id_ranges(self.session_sql, s.started_id,
                                                       self._until(s, state), columns=2,
                                                       params=(s.sid,)):
                for rid, text in rows:
                    parsed = _parse_warning(text)
                    if parsed is not None and parsed[0] == s.sid:
                        found.append((int(rid), parsed[1]))
            self.found[key] = found
        return found

    def _until(self, s: _Sess, state: _State | None) -> int:
        """The last id that can hold a warning of `s` (of a run not kept in detail)."""
        hi = s.run.ended_id or (state.last_id if state else s.started_id)
        if s.end is not None:
            hi = min(hi, s.end[0])
        if s.cut is not None:
            hi = min(hi, s.cut[0])
        return hi

    def prefetch(self, sessions: Iterable[_Sess], state: _State | None) -> None:
        """Read ahead what `of` will ask for these sessions (of runs not kept in detail),
        many at once: one statement per batch of sessions whose id ranges add up to at most
        `_WARN_BATCH_IDS` (a session with a longer range is left to `of`), instead of one
        statement per session."""
        todo: list[tuple[int, int, str]] = []
        keys: list[tuple[str, int]] = []
        size = 0
        for s in sessions:
            key = (s.sid, s.started_id)
            if s.run.sessions is not None or key in self.found:
                continue
            hi = self._until(s, state)
            if hi <= s.started_id:
                self.found[key] = []
                continue
            if hi - s.started_id > _WARN_BATCH_IDS:
                continue
            if size + hi - s.started_id > _WARN_BATCH_IDS or len(todo) >= _ALIVE_BATCH:
                self._read_batch(todo, keys)
                todo, keys, size = [], [], 0
            todo.append((s.started_id, hi, s.sid))
            keys.append(key)
            size += hi - s.started_id
        if todo:
            self._read_batch(todo, keys)

    def _read_batch(self, todo: list[tuple[int, int, str]],
                    keys: list[tuple[str, int]]) -> None:
        found: list[list[tuple[int, int]]] = [[] for _ in todo]
        for index, rid, text in self.store._read(self.batch_sql, (json.dumps(todo),),
                                                 "read the audit log of"):
            parsed = _parse_warning(text)
            if parsed is not None and parsed[0] == todo[index][2]:
                found[index].append((int(rid), parsed[1]))
        self.found.update(zip(keys, found, strict=True))


def _detail_from(store: SqliteStore, floor: int, top: int) -> int | None:
    """An id before which no run is among the newest `DETAIL_RUNS` once the log is read
    up to `top`: the `DETAIL_RUNS`-th newest service start (each starts a run), looked
    for in at most 10 windows of ids back from `top`; None when not found there."""
    sql = (f"SELECT id FROM audit_log WHERE id > ? AND id <= ? AND "
           f"{store.layout.audit_json} = ?")
    found: list[int] = []
    upper = top
    for _ in range(10):
        lower = max(upper - _LOOK_BACK, floor)
        if lower >= upper:
            return None
        found += [v for _hi, rows in store.read_id_ranges(
            sql, lower, upper, columns=1, params=(_SVC_START,)) for (v,) in rows
            if isinstance(v, int)]
        if len(found) >= DETAIL_RUNS:
            return sorted(found)[-DETAIL_RUNS]
        upper = lower
    return None


def _floor(store: SqliteStore, since: datetime | None,
           bounds: tuple[int, int] | None) -> int:
    """The id before which nothing is read: 0, or for `since` the last service start
    before the first row of `since` (minus a day's margin for UTC offsets)."""
    if since is None or bounds is None:
        return 0
    col = store.layout.audit_json
    indexed = store._read("SELECT 1 FROM sqlite_master WHERE type = 'index' AND "
                          "name = 'idx_audit_timestamp' AND tbl_name = 'audit_log'")
    if not indexed:  # (without the index this lookup would be one long statement)
        return 0
    bound = (since - timedelta(hours=26)).astimezone(since.tzinfo)
    rows = store._read("SELECT id FROM audit_log WHERE timestamp >= ? "
                       "ORDER BY timestamp LIMIT 1", (format_day(bound.date()),))
    if not rows:
        return bounds[1]
    first = int(rows[0][0])
    upper = first
    sql = f"SELECT max(id) FROM audit_log WHERE id > ? AND id <= ? AND {col} = ?"
    for _ in range(10):  # look back for the run's start, at most 10 windows of ids
        lower = max(upper - _LOOK_BACK, bounds[0] - 1)
        found = [v for _hi, rows in store.read_id_ranges(
            sql, lower, upper, columns=1, params=(_SVC_START,)) for (v,) in rows
            if isinstance(v, int)]
        if found:
            return max(found) - 1
        if lower < bounds[0]:
            return bounds[0] - 1
        upper = lower
    return first - 1


# --- one-shot -------------------------------------------------------------------------------


def recover(store: SqliteStore, policy: Policy | None = None, *, since: datetime | None = None,
            now: datetime | None = None, progress: Progress | None = None,
            cancel: Callable[[], bool] | None = None) -> RecoveryReport:
    """Scan the whole log (or from `since`) once and report (see `RecoveryScanner`)."""
    return RecoveryScanner(store, policy, since=since).scan(progress, cancel, now=now)


