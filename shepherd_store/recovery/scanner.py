"""RecoveryScanner: the log read once, then only what was added; the reports it makes.
"""

from __future__ import annotations

import dataclasses
import gc
import itertools
import json
import math
import operator
import re
import threading
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from .. import store as store_module
from ..describe import format_duration, format_local, reason_text
from ..events import (
    AdminStop,
    Expired,
    LaunchFailed,
    ManualOverride,
    PolicyStop,
    ProcessExited,
    ServiceShutdown,
    SessionEndReason,
    UserStop,
    decode_event,
)
from ..policy import Policy
from ..query import SCAN_CHUNK, ChunkSizer
from ..schema import Layout
from ..store import SqliteStore
from ..timefmt import format_day, local_now, parse_day
from .notes import describe_notes
from .results import (
    FINDING_KINDS,
    Progress,
    RecoveredSession,
    RecoveryFinding,
    RecoveryReport,
    Run,
)
from .rows import (
    _SEP,
    _SVC_START,
    _alive_batch_sql,
    _alive_sql,
    _parse_ts,
    _parse_warning,
    _select,
    _uint,
    _warnings_sql,
)
from .state import _CUT, _LAST_AND_ALIVE, _after, _deadline, _Run, _Sess, _State, _status, ingest

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
#: window (`RecoveryScanner._detail_from`): their sessions need not be kept.
_DETAIL_GUESS_MIN = SCAN_CHUNK
_SEVERITY_ORDER = {"problem": 0, "warning": 1, "info": 2}
_KIND_ORDER = {kind: i for i, kind in enumerate(FINDING_KINDS)}
#: Usage-change reasons and recorded JSON: what marks a recorded repair.
REPAIR_WHAT = "usage"
_UUID_IN_TEXT = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

#: Usage rows from a rowid on: how many, how many with a key, the last rowid, the keys
#: (`entry + _SEP + day`) joined by `_USAGE_SEP` and the seconds joined by commas.
_USAGE_SEP = "\x1e"
_USAGE_SQL = (
    "SELECT count(*), count(k), max(r), group_concat(k, char(30)), group_concat(d) FROM "
    "(SELECT rowid AS r, entry_id || char(31) || day AS k, duration_secs AS d FROM usage "
    "WHERE rowid >= ? AND typeof(duration_secs) = 'integer' ORDER BY rowid LIMIT ?)")
_USAGE_ROWS_SQL = ("SELECT entry_id || char(31) || day, duration_secs FROM usage WHERE "
                   "rowid >= ? AND rowid <= ? AND typeof(duration_secs) = 'integer' "
                   "ORDER BY rowid")
_ROWID_MIN, _ROWID_MAX = -(2**63), 2**63 - 1
_FIRST_ID = operator.attrgetter("first_id")


class _UsagePart:
    """What one statement of `RecoveryScanner._usage` read: from rowid `lo` on, its `texts`
    (None when read row by row), its rows, and (when each key is there once) the keys and
    seconds as split from the texts."""

    __slots__ = ("keys", "lo", "nums", "rows", "texts")

    def __init__(self, lo: int, texts: tuple[Any, ...] | None, rows: dict[str, int],
                 keys: list[str] | None, nums: list[str]) -> None:
        self.lo = lo
        self.texts = texts
        self.rows = rows
        self.keys = keys
        self.nums = nums


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
        self._findings: dict[tuple[Any, ...], RecoveryFinding] = {}
        self._old_warnings: dict[tuple[str, int], list[tuple[int, int]]] = {}
        # What the previous report was made of (for the same `_State`).
        self._frozen_for: _State | None = None
        self._frozen: list[Run | None] = []
        self._resolved_seen: dict[str, int] = {}
        self._lost_for: _State | None = None
        #: Per run index: its findings, its unclean_shutdown, the usage keys they show, and
        #: (when none depends on the cooldowns) all of them in order, with `_order` keys.
        self._by_run: dict[int, tuple[list[tuple[RecoveryFinding, tuple[datetime, int, int]
                                                 | None]], RecoveryFinding | None,
                                      set[str], list[_Ordered] | None]] = {}
        self._lost: dict[str, RecoveryFinding] = {}
        self._usage_seen: dict[str, int] = {}
        #: What `_usage` read last, per statement, and all of it as one dict.
        self._usage_parts: list[_UsagePart] = []
        self._usage_dict: dict[str, int] = {}
        self._adjust_seen: dict[str, int] = {}
        self._sql = self._warnings_sql = self._session_warnings_sql = ""  # (`_prepare`)
        self._batch_warnings_sql = ""
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
            self._findings.clear()
            self._old_warnings.clear()
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
            resolved = self._resolved(state)
            out = []
            for s in replayed.sessions:
                if s.end is None and s.started_id not in never:
                    s.end = (s.started_id, None, 0, 0, "expired", None)  # ended after the run
                    session = self._session(s, replayed, now, resolved)
                    session = dataclasses.replace(session, ended_id=None, duration=None,
                                                  ended_at=None, end_reason=None)
                else:
                    session = self._session(s, replayed, now, resolved)
                out.append(session)
            return tuple(out)

    # --- reading ----------------------------------------------------------------------------

    def _prepare(self) -> None:
        """The statements of a scan, for this database's text encoding (once)."""
        if self._sql:
            return
        col = self.store.layout.audit_json
        rows = self.store._read("PRAGMA encoding")
        utf8 = bool(rows) and str(rows[0][0]).upper() == "UTF-8"
        self._sql = _select(col, utf8=utf8)
        self._warnings_sql = _warnings_sql(col, utf8=utf8)
        self._session_warnings_sql = self._warnings_sql.replace(
            "ORDER BY", f"AND instr({col}, ?) > 0 ORDER BY")
        # ... and for many sessions at once: [after id, up to id, session id] each
        part = "json_extract(j.value, '$[{}]')"
        where = self._warnings_sql.split(" WHERE ", 1)[1].split(" ORDER BY")[0]
        where = where.replace("id > ? AND id <= ?", f"a.id > {part.format(0)} AND a.id <= "
                              f"{part.format(1)}").replace(col, "a." + col)
        self._batch_warnings_sql = (
            f"SELECT j.key, a.id, a.{col} FROM json_each(?) AS j JOIN audit_log AS a ON {where} "
            f"AND instr(a.{col}, {part.format(2)}) > 0 ORDER BY j.key, a.id")

    def _advance(self, progress: Progress | None, cancel: Callable[[], bool] | None,
                 now: datetime | None) -> RecoveryReport:
        store = self.store
        self._prepare()
        bounds = store.audit_id_range()
        top = bounds[1] if bounds is not None else 0
        state = self._state
        if state is None or top < state.last_id or state.broken:
            state = self._state = _State(self._floor(bounds), DETAIL_RUNS)
            self._findings.clear()
            self._old_warnings.clear()
        if top - state.last_id > _DETAIL_GUESS_MIN:
            state.detail_from = self._detail_from(state.floor, top)
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

    def _detail_from(self, floor: int, top: int) -> int | None:
        """An id before which no run is among the newest `DETAIL_RUNS` once the log is read
        up to `top`: the `DETAIL_RUNS`-th newest service start (each starts a run), looked
        for in at most 10 windows of ids back from `top`; None when not found there."""
        sql = (f"SELECT id FROM audit_log WHERE id > ? AND id <= ? AND "
               f"{self.store.layout.audit_json} = ?")
        found: list[int] = []
        upper = top
        for _ in range(10):
            lower = max(upper - _LOOK_BACK, floor)
            if lower >= upper:
                return None
            found += [v for _hi, rows in self.store.read_id_ranges(
                sql, lower, upper, columns=1, params=(_SVC_START,)) for (v,) in rows
                if isinstance(v, int)]
            if len(found) >= DETAIL_RUNS:
                return sorted(found)[-DETAIL_RUNS]
            upper = lower
        return None

    def _floor(self, bounds: tuple[int, int] | None) -> int:
        """The id before which nothing is read: 0, or for `since` the last service start
        before the first row of `since` (minus a day's margin for UTC offsets)."""
        if self.since is None or bounds is None:
            return 0
        col = self.store.layout.audit_json
        indexed = self.store._read("SELECT 1 FROM sqlite_master WHERE type = 'index' AND "
                                   "name = 'idx_audit_timestamp' AND tbl_name = 'audit_log'")
        if not indexed:  # (without the index this lookup would be one long statement)
            return 0
        bound = (self.since - timedelta(hours=26)).astimezone(self.since.tzinfo)
        rows = self.store._read("SELECT id FROM audit_log WHERE timestamp >= ? "
                                "ORDER BY timestamp LIMIT 1", (format_day(bound.date()),))
        if not rows:
            return bounds[1]
        first = int(rows[0][0])
        upper = first
        sql = f"SELECT max(id) FROM audit_log WHERE id > ? AND id <= ? AND {col} = ?"
        for _ in range(10):  # look back for the run's start, at most 10 windows of ids
            lower = max(upper - _LOOK_BACK, bounds[0] - 1)
            found = [v for _hi, rows in self.store.read_id_ranges(
                sql, lower, upper, columns=1, params=(_SVC_START,)) for (v,) in rows
                if isinstance(v, int)]
            if found:
                return max(found) - 1
            if lower < bounds[0]:
                return bounds[0] - 1
            upper = lower
        return first - 1

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
        try:
            if low < top and cancel is not None and cancel():
                return False
            for hi, rows in store.read_id_ranges(self._sql, low, top, columns=3):
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
        """The (id, threshold) warnings of a session: attached for runs kept in detail, read
        on demand (once) for an older run's interrupted session."""
        if s.run.sessions is not None:
            return s.warn or []
        key = (s.sid, s.started_id)
        found = self._old_warnings.get(key)
        if found is None:
            found = []
            for _hi, rows in self.store.read_id_ranges(self._session_warnings_sql,
                                                       s.started_id, self._warned_until(s),
                                                       columns=2, params=(s.sid,)):
                for rid, text in rows:
                    parsed = _parse_warning(text)
                    if parsed is not None and parsed[0] == s.sid:
                        found.append((int(rid), parsed[1]))
            self._old_warnings[key] = found
        return found

    def _warned_until(self, s: _Sess) -> int:
        """The last id that can hold a warning of `s` (of a run not kept in detail)."""
        hi = s.run.ended_id or (self._state.last_id if self._state else s.started_id)
        if s.end is not None:
            hi = min(hi, s.end[0])
        if s.cut is not None:
            hi = min(hi, s.cut[0])
        return hi

    def _prefetch_warnings(self, sessions: Iterable[_Sess]) -> None:
        """Read ahead what `_warnings` will ask for these sessions (of runs not kept in
        detail), many at once: one statement per batch of sessions whose id ranges add up
        to at most `_WARN_BATCH_IDS` (a session with a longer range is left to
        `_warnings`), instead of one statement per session."""
        todo: list[tuple[int, int, str]] = []
        keys: list[tuple[str, int]] = []
        size = 0
        for s in sessions:
            key = (s.sid, s.started_id)
            if s.run.sessions is not None or key in self._old_warnings:
                continue
            hi = self._warned_until(s)
            if hi <= s.started_id:
                self._old_warnings[key] = []
                continue
            if hi - s.started_id > _WARN_BATCH_IDS:
                continue
            if size + hi - s.started_id > _WARN_BATCH_IDS or len(todo) >= _ALIVE_BATCH:
                self._read_warning_batch(todo, keys)
                todo, keys, size = [], [], 0
            todo.append((s.started_id, hi, s.sid))
            keys.append(key)
            size += hi - s.started_id
        if todo:
            self._read_warning_batch(todo, keys)

    def _read_warning_batch(self, todo: list[tuple[int, int, str]],
                            keys: list[tuple[str, int]]) -> None:
        found: list[list[tuple[int, int]]] = [[] for _ in todo]
        for index, rid, text in self.store._read(self._batch_warnings_sql, (json.dumps(todo),),
                                                 "read the audit log of"):
            parsed = _parse_warning(text)
            if parsed is not None and parsed[0] == todo[index][2]:
                found[index].append((int(rid), parsed[1]))
        self._old_warnings.update(zip(keys, found, strict=True))

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
        self._read_side_overrides(state)
        resolved = self._resolved(state)
        seen_before = self._usage_dict
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
            self._by_run = {}
        frozen = self._frozen
        dirty = set(range(len(frozen), len(state.runs)))
        frozen.extend([None] * (len(state.runs) - len(frozen)))
        dirty.update(run.index for run in state.changed)
        state.changed.clear()
        if resolved != self._resolved_seen:  # a repair: its session's run reads anew
            dirty.update(s.run.index for s in never_ended)
            dirty.update(run.index for run in flagged)
            self._resolved_seen = dict(resolved)
        if open_run is not None:
            dirty.add(open_run.index)
        for i in dirty:
            frozen[i] = self._freeze(state.runs[i], now, resolved)
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
        if usage is self._usage_seen:
            changed_usage: set[str] = set()
        elif seen_before is self._usage_seen:
            changed_usage = changed
        else:
            changed_usage = {k for k, _v in usage.items() ^ self._usage_seen.items()}
        findings: list[_Ordered] = []
        shown = [run for run in sorted(flagged, key=_FIRST_ID)
                 if since is None or run is open_run or _after(run, since)]
        self._prefetch_warnings(s for run in shown if run.sessions is None
                                for s in run.never_ended)
        for run in shown:
            findings += self._run_findings(
                run, now, resolved, usage, cooldowns, changed_usage=changed_usage,
                fresh=run is open_run or run.index in dirty)
        findings += [(_order(f), f) for f in self._usage_findings(state, usage, since,
                                                                   changed_usage)]
        findings.sort(key=_ORDER_KEY)  # (stable: as listed when the order is the same)
        notes = describe_notes(state, self.store)
        if open_run is not None:
            notes += tuple(self._running_note(s, open_run) for s in open_run.never_ended
                           if _status(s, open_run, now) == "running")
        return RecoveryReport(runs, tuple(f for _key, f in findings), notes, state.last_id,
                              complete, now)

    def _running_note(self, s: _Sess, run: _Run) -> str:
        deadline = _deadline(s)
        return (f"{self._label(s)} (session {s.sid[:8]}, row {s.started_id}) is running since "
                f"{_local(_parse_ts(s.started_ts))}"
                + (f", allowed until {_local(deadline)}" if deadline is not None else
                   ", with no time limit")
                + f"; the service has written nothing since {_local(run.alive[1])}. If the "
                "service is not running, it stopped without a trace and this session was "
                "interrupted: recovery shows it so once the service starts again"
                + (" or its deadline is past." if deadline is not None else "."))

    def _read_side_overrides(self, state: _State) -> None:
        """Rust layout: new rows of `inspector_overrides` (the seed layout's are log rows)."""
        store = self.store
        if store.layout is not Layout.RUST:
            return
        exists = store._read("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                             "AND name = 'inspector_overrides'")
        if not exists:
            return
        top = store._read("SELECT max(id) FROM inspector_overrides")[0][0]
        if not isinstance(top, int) or top <= state.side_last:
            return
        for _hi, rows in store.read_id_ranges(
                "SELECT id, timestamp, event_json FROM inspector_overrides "
                "WHERE id > ? AND id <= ? ORDER BY id", state.side_last, top, columns=3,
                action="read the manual changes of"):
            for rid, _ts, text in rows:
                state.side_last = int(rid)
                event = decode_event(text)
                if isinstance(event, ManualOverride):
                    state.overrides.append((-int(rid), event))  # negative: not a log id

    def _resolved(self, state: _State) -> dict[str, int]:
        """Sessions a repair was recorded for -> the seconds it credited."""
        out: dict[str, int] = {}
        for _rid, change in state.overrides:
            if change.what != REPAIR_WHAT or not change.new:
                continue
            data = _json_object(change.new)
            added = data.get("added_secs")
            sid = data.get("session_id")
            sids = [sid] if isinstance(sid, str) else _UUID_IN_TEXT.findall(change.new)
            for one in sids:
                out[one] = added if isinstance(added, int) and _uint(added) else 0
        return out

    def _adjustments(self, state: _State) -> dict[str, int]:
        """Seconds added (or removed) by hand per (entry, day): manual usage changes, and the
    repairs of interrupted sessions (play no `session_ended` holds); not the repairs of
    `usage_lost`, which restore what the ended sessions hold."""
        out: dict[str, int] = {}
        for _rid, change in state.overrides:
            if change.what != "usage" or not change.new or not change.entry_id:
                continue
            data = _json_object(change.new)
            if data.get("repair") == "usage_lost":
                continue  # it restored the ended sessions' usage: no change by hand
            day, added = data.get("day"), data.get("added_secs")
            if isinstance(day, str) and isinstance(added, int) and not isinstance(added, bool):
                key = change.entry_id + _SEP + day
                out[key] = out.get(key, 0) + added
        return out

    def _usage(self) -> tuple[dict[str, int], set[str]]:
        """Stored usage by key (`entry + _SEP + day`), rows the service can read, and the
        keys whose value may differ from the previous call's (a superset).

        Read in rowid order as keyset statements of a bounded number of rows, each
        returning its rows as two texts joined in SQLite (two Python objects per statement
        instead of three per row: an update reads the whole table). Texts the same as at
        the previous call are not split again, and when only the seconds changed (the
        service adds to a day), only the changed ones are looked at. Texts that cannot be
        split back exactly (a key holding the separator, NULL or text that is not UTF-8)
        are read again row by row."""
        store = self.store
        old = self._usage_parts
        parts: list[_UsagePart] = []
        changed: set[str] = set()
        if store._has("usage"):
            # (sized as the store's keyset walks: at most `ROW_CHUNK` rows a statement)
            sizes = ChunkSizer(store_module.ROW_START, store_module.ROW_LOWEST,
                               store_module.ROW_CHUNK)
            lo = _ROWID_MIN
            while True:
                want = sizes.size
                rows, held = store._statement(_USAGE_SQL, (lo, want), "read", columns=5)
                texts: tuple[Any, ...] = rows[0]
                count, last = texts[0], texts[2]
                sizes.record(count, held)
                before = old[len(parts)] if len(parts) < len(old) else None
                if before is not None and before.lo != lo:
                    before = None
                parts.append(self._usage_part(lo, texts, before, changed))
                if count < want or last >= _ROWID_MAX:
                    break
                lo = last + 1
        for gone in old[len(parts):]:
            changed.update(gone.rows)
        self._usage_parts = parts
        if changed or len(old) != len(parts):
            self._usage_dict = {}
            for part in parts:
                self._usage_dict.update(part.rows)
        return self._usage_dict, changed

    def _usage_part(self, lo: int, texts: tuple[Any, ...], before: _UsagePart | None,
                    changed: set[str]) -> _UsagePart:
        """The usage rows of one `_usage` statement, `texts`, from rowid `lo` on; the keys
        that differ from `before` (the same statement's at the previous call) are added to
        `changed`."""
        count, named, last, keys, values = texts
        if before is not None and before.texts is not None:
            if texts == before.texts:
                return before
            if before.keys is not None and texts[:4] == before.texts[:4]:
                nums = values.split(",")  # the same keys (each once): look at the seconds
                if len(nums) == count:
                    rows = dict(before.rows)
                    for i in itertools.compress(range(count), map(operator.ne, nums,
                                                                  before.nums)):
                        rows[before.keys[i]] = int(nums[i])
                        changed.add(before.keys[i])
                    return _UsagePart(lo, texts, rows, before.keys, nums)
        part = _UsagePart(lo, texts, {}, None, [])
        if count:
            split = keys.split(_USAGE_SEP) if isinstance(keys, str) else []
            nums = values.split(",") if isinstance(values, str) else []
            if named == count == len(split) == len(nums) and "\ufffd" not in keys:
                part.rows = dict(zip(split, map(int, nums), strict=True))
                if len(part.rows) == count:
                    part.keys, part.nums = split, nums
            else:  # (read apart from `texts`: never taken as unchanged)
                part.rows = dict(self.store._read(_USAGE_ROWS_SQL, (lo, last)))
                part.texts = None
        old_rows = before.rows if before is not None else {}
        changed.update(k for k, v in part.rows.items() if old_rows.get(k, v) != v)
        changed.update(part.rows.keys() ^ old_rows.keys())
        return part

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
            s.sid, s.entry, self._label(s), s.started_id, started, _deadline(s), s.ended_id,
            ended_at, duration, _reason_words(*s.end[4:]) if s.end is not None else None,
            tuple(t for _i, t in warn), tuple(i for i, _t in warn),
            tuple(i for i, _d in s.ext or []), last_seen, status,
            status == "interrupted" and s.sid in resolved)

    def _label(self, s: _Sess) -> str:
        if self.policy is not None and (name := self.policy.label(s.entry)):
            return name
        return s.label or s.entry

    def _run_findings(self, run: _Run, now: datetime, resolved: dict[str, int],
                      usage: dict[str, int], cooldowns: dict[str, datetime | None], *,
                      fresh: bool, changed_usage: set[str]) -> list[_Ordered]:
        """A run's findings (with their `_order` keys): made anew when the run, a repair or
        the usage they show changed (or for the open run); otherwise only the cooldowns are
        looked at again."""
        cached = None if fresh else self._by_run.get(run.index)
        if cached is not None and changed_usage and not cached[2].isdisjoint(changed_usage):
            cached = None
        if cached is None:
            items: list[tuple[RecoveryFinding, tuple[datetime, int, int] | None]] = []
            keys: set[str] = set()
            for s in run.never_ended:
                if _status(s, run, now) != "interrupted":
                    continue
                finding = self._interrupted(s, run, resolved, usage)
                if finding.day is not None:
                    keys.add(s.entry + _SEP + format_day(finding.day))
                items.append((finding, self._cooldown_target(s, run, resolved)))
            unclean = self._unclean(run) if run.end == "unclean" and not run.never_ended \
                else None
            fixed = None if any(target is not None for _f, target in items) else [
                (_order(f), f) for f in [*(f for f, _t in items), unclean] if f is not None]
            cached = (items, unclean, keys, fixed)
            self._by_run[run.index] = cached
        if cached[3] is not None:
            return cached[3]
        out: list[_Ordered] = []
        for finding, target in cached[0]:
            out.append((_order(finding), finding))
            if target is not None:
                cd = self._cooldown_missing(finding, target, now, cooldowns)
                if cd is not None:
                    out.append((_order(cd), cd))
        if cached[1] is not None:
            out.append((_order(cached[1]), cached[1]))
        return out

    def _interrupted(self, s: _Sess, run: _Run, resolved: dict[str, int],
                     usage: dict[str, int]) -> RecoveryFinding:
        b = _Bounds(s, run, self._warnings(s))
        day = b.day(b.low)
        recorded = usage.get(s.entry + _SEP + format_day(day), 0) if day is not None else None
        done = s.sid in resolved
        label = self._label(s)
        evidence = tuple(sorted({s.started_id, *(i for i, _t in b.warn),
                                 *(i for i, _d in s.ext or []),
                                 *(x for x in (b.alive_id, run.ended_id,
                                               s.cut[0] if s.cut else None)
                                   if x is not None)}))
        # Everything the finding is made of (a cache hit must be the same finding).
        key = ("interrupted", s.sid, s.started_id, done, resolved.get(s.sid), recorded,
               run.end, run.ended_id, run.ended_at, b.alive_id, b.alive_at, b.deadline,
               b.upper, b.low, b.high, day, b.observed, evidence, label)
        cached = self._findings.get(key)
        if cached is not None:
            return cached
        title = (f"{label}'s interrupted play was recorded" if done else
                 f"{label}'s interrupted play was never counted")
        explanation = b.story(label)
        if done:
            action = (f"Nothing more to do: {resolved[s.sid]} s were added to the usage of "
                      "that day.")
        elif b.start is None:
            action = "Its start time cannot be read; add its time to usage by hand if needed."
        else:
            span = (f"between {_secs(b.low)} and {_secs(b.high)}" if b.high is not None
                    and b.high != b.low else _secs(b.low) if b.high is not None
                    else f"at least {_secs(b.low)}")
            action = (f"Record the play the service missed: add {span} to {label}'s usage of "
                      f"{format_day(day) if day else 'its day'} (at least {_secs(b.low)} is "
                      f"certain). Command line: shepherd-store recovery fix {s.sid}.")
        finding = RecoveryFinding(
            "interrupted_session", "problem", title, explanation, action, evidence, s.sid,
            s.entry, label, b.low, b.high, day, done, b.start, recorded,
            None, None if done or b.start is None else "repair", b.observed)
        self._findings[key] = finding
        return finding

    def _cooldown_target(self, s: _Sess, run: _Run, resolved: dict[str, int]
                         ) -> tuple[datetime, int, int] | None:
        """(until, credited seconds, cooldown) of the cooldown the service would have set
        after an interrupted session (None when the policy gives the entry none)."""
        policy = self.policy
        entry = policy.entries.get(s.entry) if policy is not None else None
        if entry is None or not entry.cooldown_seconds:
            return None
        b = _Bounds(s, run, self._warnings(s))
        if b.start is None:
            return None
        credited = resolved.get(s.sid, b.low)
        return (b.start + timedelta(seconds=credited + entry.cooldown_seconds), credited,
                entry.cooldown_seconds)

    def _cooldown_missing(self, f: RecoveryFinding, target: tuple[datetime, int, int],
                          now: datetime, cooldowns: dict[str, datetime | None]
                          ) -> RecoveryFinding | None:
        until, credited, cooldown = target
        entry_id = f.entry_id or ""
        stored = cooldowns.get(entry_id)
        if until <= now or (stored is not None and stored >= until) or f.started_at is None:
            return None
        label = f.label or entry_id
        return RecoveryFinding(
            "cooldown_missing", "warning", f"{label} should be resting until "
            f"{format_local(until)}",
            f"{label}'s interrupted session started at {format_local(f.started_at)}. Had it "
            f"ended after {_secs(credited)}, the service would have set {label}'s cooldown of "
            f"{format_duration(cooldown)} until {format_local(until)}; the stored cooldown "
            + (f"ends earlier, at {format_local(stored)}." if stored is not None else
               "is missing."),
            f"Set {label}'s cooldown until {format_local(until)} (the repair can do it with "
            "its cooldown option, or: shepherd-store cooldown set).",
            (f.evidence[0],) if f.evidence else (), f.session_id, entry_id, label, None, None,
            None, False, f.started_at, None, until, "set_cooldown")

    def _unclean(self, run: _Run) -> RecoveryFinding:
        last_id, last_at = run.last
        key = ("unclean", run.started_id, run.first_id, run.ended_id, last_id)
        cached = self._findings.get(key)
        if cached is not None:
            return cached
        when = (f"after {format_local(last_at)} (its last row, id {last_id})"
                if last_at is not None else "at an unknown time")
        finding = RecoveryFinding(
            "unclean_shutdown", "info", "The service stopped without a trace",
            f"The service that started at {_local(run.started_at)} stopped {when} without "
            "writing service_stopped (a crash, a forced kill or a power loss), and started "
            f"again at {_local(run.ended_at)}. No session was running, so nothing was lost.",
            "Nothing to do; if it happens often, look at the service's own logs.",
            tuple(x for x in (run.started_id, last_id, run.ended_id) if x is not None),
            None, None, None, None, None, None, False)
        self._findings[key] = finding
        return finding

    def _usage_findings(self, state: _State, usage: dict[str, int], since: datetime | None,
                        changed_usage: set[str]) -> list[RecoveryFinding]:
        """`usage_lost` findings: the days whose stored usage is below what the ended
        sessions (and changes by hand) add up to. Only the days whose sums, stored usage or
        changes by hand changed since the previous report are compared again."""
        adjust = self._adjustments(state)
        if self._lost_for is not state:
            self._lost_for, self._lost = state, {}
            keys: Iterable[str] = state.sums
            state.track = True
        else:
            keys = set(state.dirty_sums)
            keys.update(changed_usage)
            if adjust != self._adjust_seen:
                keys.update(k for k, _v in adjust.items() ^ self._adjust_seen.items())
        state.dirty_sums.clear()
        self._usage_seen, self._adjust_seen = usage, adjust
        lost = self._lost
        for key in keys:
            item = state.sums.get(key)
            if item is None:
                lost.pop(key, None)
                continue
            secs, ids = item
            expected = secs + adjust.get(key, 0)
            stored = usage.get(key, 0)
            if stored >= expected:
                lost.pop(key, None)
            else:
                lost[key] = self._lost_usage(key, secs, ids, stored, expected, adjust.get(key))
        first_day = format_day(since.date()) if since is not None else ""
        return [f for key, f in lost.items() if key[-10:] >= first_day]

    def _lost_usage(self, key: str, secs: int, ids: list[int], stored: int, expected: int,
                    adjusted: int | None) -> RecoveryFinding:
        entry, day_text = key[:-11], key[-10:]
        missing = expected - stored
        label = (self.policy.label(entry) if self.policy is not None else None) or entry
        return RecoveryFinding(
            "usage_lost", "problem", f"{label}: {_secs(missing)} missing from the usage of "
            f"{day_text}",
            f"The log shows {len(ids) if len(ids) < 50 else 'many'} session"
            f"{'s' if len(ids) != 1 else ''} of {label} ending on {day_text}, "
            f"{_secs(secs)} in all"
            + (f" (and {adjusted:+d} s changed by hand)" if adjusted else "")
            + f", but only {_secs(stored)} are stored for that day. The service "
            "ignores a failed usage write, so the difference never reached the quota.",
            f"Add the missing {_secs(missing)} to {label}'s usage of {day_text}.",
            tuple(ids), None, entry, label, missing, missing, parse_day(day_text),
            False, None, stored, None, "add_lost_usage")

#: A finding with the key of its place in a report (`_order`).
_Ordered = tuple[tuple[bool, int, int, int], RecoveryFinding]
_ORDER_KEY = operator.itemgetter(0)


def _order(f: RecoveryFinding) -> tuple[bool, int, int, int]:
    """Where a finding goes in a report: unresolved first, the most serious first, then by
    kind, the newest first."""
    return (f.resolved, _SEVERITY_ORDER[f.severity], _KIND_ORDER[f.kind],
            -(f.evidence[0] if f.evidence else 0))


class _Bounds:
    """The unrecorded play of an interrupted session (see the module's rules)."""

    def __init__(self, s: _Sess, run: _Run, warn: list[tuple[int, int]]) -> None:
        self.s = s
        self.run = run
        self.warn = warn
        self.start = start = _parse_ts(s.started_ts)
        self.deadline = _deadline(s)
        original = _parse_ts(s.deadline_raw) if s.deadline_raw is not None else None
        alive_id, alive_at = run.alive
        cut_at = _parse_ts(s.cut[1]) if s.cut is not None else None
        if s.cut is not None:  # its last sign of life: the last row before the next start
            alive_id, alive_at = s.cut[2], s.cut[3]
        # A warning T was issued at (original deadline - T) or later.
        if original is not None and warn:
            least = min(t for _i, t in warn)
            proof = original - timedelta(seconds=least)
            if alive_at is None or proof > alive_at:
                alive_id, alive_at = next(i for i, t in warn if t == least), proof
        self.alive_id, self.alive_at = alive_id, alive_at
        self.observed = tuple(t for t in (start, run.alive[1], cut_at,
                                          run.ended_at if run.end != "open" else None)
                              if t is not None)
        ends: list[tuple[datetime, str]] = []
        if run.end != "open" and run.ended_at is not None:
            ends.append((run.ended_at, "unclean" if run.end == "unclean" else "clean"))
        if cut_at is not None:
            ends.append((cut_at, "cut"))
        if self.deadline is not None:
            ends.append((self.deadline, "deadline"))
        self.upper = min(ends, key=lambda e: e[0]) if ends else None
        self.low = 0
        self.high: int | None = None
        if start is not None:
            if alive_at is not None:
                self.low = max(math.floor((alive_at - start).total_seconds()), 0)
            if self.upper is not None:
                self.high = max(math.ceil((self.upper[0] - start).total_seconds()), self.low)

    def day(self, seconds: int) -> date | None:
        """The day the session would have ended after `seconds` (see `credited_day`)."""
        return _credited_day(self.start, self.observed, seconds)

    def story(self, label: str) -> str:
        s, run = self.s, self.run
        start = self.start
        last_row = run.alive[1]
        text = (f"{label} started at {_local(start)} (session {s.sid[:8]}, row {s.started_id}) "
                "and its end was never written")
        if s.cut is not None:
            text += (f": another session started at {_local(_parse_ts(s.cut[1]))} in the "
                     "same run, so it had stopped by then")
        elif run.end == "unclean":
            text += (f": the service stopped without a trace after {_local(last_row)} (its "
                     f"last row) and started again at {_local(run.ended_at)}")
        elif run.end == "clean":
            text += (f": the service shut down at {_local(run.ended_at)} while it ran (a "
                     "shutdown stops the game without ending its session)")
        else:
            text += (f": its deadline, {_local(self.deadline)}, is long past and the service "
                     f"has written nothing since {_local(last_row)}, so it stopped without a "
                     "trace and has not started again")
        text += (". The service adds a session's play to the day's usage only when the "
                 "session ends, so ")
        if start is None:
            return text + "its play was never counted (its start time cannot be read)."
        day = self.day(self.low)
        text += (f"its play is missing from the usage of {format_day(day) if day else 'its day'}"
                 f": at least {_secs(self.low)}, until its last sign of life "
                 f"({_local(self.alive_at)})")
        if self.upper is None:
            return text + "; no upper bound, as it had no deadline and the service never came back."
        why = {"deadline": "its deadline", "unclean": "the restart", "clean": "the shutdown",
               "cut": "the next session"}[self.upper[1]]
        return text + f"; at most {_secs(self.high or 0)}, until {why} ({_local(self.upper[0])})."


def credited_day(finding: RecoveryFinding, seconds: int) -> date | None:
    """The usage day a repair of `seconds` credits for an interrupted session: the local date
    the service would have written at its end, `started_at + seconds` (see the module's
    rules: this machine's zone when the rows in `finding.observed` agree with it, else the
    offset of the latest of them at or before then)."""
    return _credited_day(finding.started_at, finding.observed, seconds)


def _credited_day(start: datetime | None, observed: tuple[datetime, ...],
                  seconds: int) -> date | None:
    if start is None:
        return None
    try:
        end = start + timedelta(seconds=seconds)
    except OverflowError:
        return None
    try:  # rows written in this machine's zone (the usual case): its offset at the end
        if all(t.utcoffset() == t.astimezone().utcoffset() for t in (start, *observed)):
            return end.astimezone().date()
    except (OverflowError, OSError, ValueError):
        pass
    zone = start.tzinfo
    latest = start
    near = end + timedelta(seconds=1)  # the bounds are whole seconds: the row may be 0.x s on
    for t in observed:
        if latest < t <= near:
            latest, zone = t, t.tzinfo
    return end.astimezone(zone).date()


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


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


def _secs(n: int) -> str:
    return f"{n} s" if n < 60 else f"{n} s ({format_duration(n)})"


def _local(value: datetime | None) -> str:
    return format_local(value) if value is not None else "an unreadable time"


# --- one-shot -------------------------------------------------------------------------------


def recover(store: SqliteStore, policy: Policy | None = None, *, since: datetime | None = None,
            now: datetime | None = None, progress: Progress | None = None,
            cancel: Callable[[], bool] | None = None) -> RecoveryReport:
    """Scan the whole log (or from `since`) once and report (see `RecoveryScanner`)."""
    return RecoveryScanner(store, policy, since=since).scan(progress, cancel, now=now)


