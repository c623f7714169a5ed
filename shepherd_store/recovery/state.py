"""The service's runs and sessions rebuilt from the log's rows, as they are read.

`ingest` feeds a chunk of rows (oldest first) to a `_State`: the runs (`_Run`), their
sessions (`_Sess`, raw texts parsed when a report needs them), the sums of ended sessions per
usage day, manual changes and the counters of the notes. What happened is what the package's
rules (`shepherd_store.recovery`) say; the last row before a restart (a sign of life) is left
in `_State.pending` for the scanner to look up once per chunk.
"""

from __future__ import annotations

from array import array
from collections.abc import MutableSequence, Sequence
from datetime import datetime
from sys import intern
from typing import Any

from ..diagnose import CLOCK_TOLERANCE, DEADLINE_GRACE
from ..events import ManualOverride
from ..timefmt import MAX_DURATION_SECS, parse_day
from .notes import _Notes
from .results import RunEnd, SessionStatus
from .rows import (
    _END_HEAD,
    _FAST_END,
    _FAST_END_TAIL,
    _FAST_EXT,
    _FAST_START,
    _I32,
    _PAIR_END_TAIL,
    _SEP,
    _SVC_START,
    _SVC_STOP,
    _parse_ts,
    _Parsed,
    _slow_parse,
)
from .sids import SessionIds

#: How many ids of the ended sessions of a usage day a scan keeps (`_State.sums`): the
#: evidence of a `usage_lost` finding.
SUM_IDS = 50
#: What a pending sign of life sets: a session's cut, a run's `alive`, or both its `last`
#: and `alive`.
_CUT, _ALIVE, _LAST_AND_ALIVE = 0, 1, 2


class _Sess:
    """A session while scanning (raw texts; parsed when a report needs them)."""

    __slots__ = ("cut", "deadline_raw", "end", "entry", "ext", "label", "run", "sid",
                 "started_id", "started_ts", "warn")

    def __init__(self, sid: str, entry: str, label: str, run: _Run, started_id: int,
                 started_ts: object, deadline_raw: str | None) -> None:
        self.sid = sid
        self.entry = entry
        self.label = label
        self.run = run
        self.started_id = started_id
        self.started_ts = started_ts
        self.deadline_raw = deadline_raw
        self.warn: list[tuple[int, int]] | None = None  # (id, threshold)
        self.ext: list[tuple[int, str]] | None = None  # (id, new deadline)
        #: (id, time, secs, micros, reason tag, reason detail) of its end
        self.end: tuple[int, object, int, int, str, object] | None = None
        #: (id, time) of a later session's start in its run, and (id, time) of the last row
        #: before it: the service runs one session at a time, so this one had stopped then.
        self.cut: tuple[int, object, int | None, datetime | None] | None = None

    @property
    def ended_id(self) -> int | None:
        return None if self.end is None else self.end[0]


class _Run:
    """A run of the service while scanning. A long log has tens of thousands: its fields are
    flat slots (no tuple per run), and `unended` stays None while no session is open."""

    __slots__ = ("alive_at", "alive_id", "count", "end", "ended_at", "ended_id", "first_id",
                 "index", "last_at", "last_id", "sessions", "started_at", "started_id",
                 "unended")

    def __init__(self, started_id: int | None, started_at: datetime | None,
                 first_id: int) -> None:
        self.started_id = started_id
        self.started_at = started_at
        self.first_id = first_id
        self.end: RunEnd = "open"
        self.ended_id: int | None = None
        self.ended_at: datetime | None = None
        #: the run's last row, and its last sign of life before its end (`last`, `alive`)
        self.last_id: int | None = None
        self.last_at: datetime | None = None
        self.alive_id: int | None = None
        self.alive_at: datetime | None = None
        self.sessions: list[_Sess] | None = []
        #: its sessions not (yet) ended, None for none (`never_ended`)
        self.unended: list[_Sess] | None = None
        self.count = 0
        self.index = 0  # in `_State.runs`

    @property
    def last(self) -> tuple[int | None, datetime | None]:
        """(id, time) of the run's last row."""
        return self.last_id, self.last_at

    @last.setter
    def last(self, seen: tuple[int | None, datetime | None]) -> None:
        self.last_id, self.last_at = seen

    @property
    def alive(self) -> tuple[int | None, datetime | None]:
        """(id, time) of its last sign of life before its end."""
        return self.alive_id, self.alive_at

    @alive.setter
    def alive(self, seen: tuple[int | None, datetime | None]) -> None:
        self.alive_id, self.alive_at = seen

    @property
    def never_ended(self) -> Sequence[_Sess]:
        """Its sessions not (yet) ended, oldest first."""
        return self.unended or ()

    def add_unended(self, s: _Sess) -> None:
        if self.unended is None:
            self.unended = [s]
        else:
            self.unended.append(s)

    def ended(self, s: _Sess) -> None:
        """`s`, one of `never_ended`, has ended."""
        unended = self.unended
        assert unended is not None
        unended.remove(s)
        if not unended:
            self.unended = None


class _State:
    """Everything learnt from the rows read so far (ids up to `last_id`)."""

    def __init__(self, floor: int, detail_runs: int) -> None:
        self.floor = floor  # ids <= floor are not read (`since`)
        #: Runs kept in detail (their sessions listed): the newest `detail_runs`.
        self.detail_runs = detail_runs
        self.last_id = floor
        self.first_seen: int | None = None
        self.runs: list[_Run] = []
        self.current: _Run | None = None
        self.open: dict[str, _Sess] = {}  # sessions not ended, by id (the latest of an id)
        self.started = SessionIds()  # every session id started (compact: sids.py)
        #: usage key (`entry + _SEP + day`, interned: the stored usage's are the same
        #: objects) -> the seconds of its ended sessions, then the ids of the first
        #: `SUM_IDS` of them: one `array` (a third of the memory of a list holding an int
        #: and an array), a list once the seconds pass int64 (no end row can say so many,
        #: but their sum can)
        self.sums: dict[str, MutableSequence[int]] = {}
        self.overrides: list[tuple[int, ManualOverride]] = []
        self.notes = _Notes()
        self.prev_ts: object = None
        self.prev_suffix: object = None
        self.prev_id = 0
        self.days: dict[str, bool] = {}
        self.unclean: list[_Run] = []
        self.orphans: list[_Sess] = []  # never ended, and their id was started again
        self.side_last = 0  # newest inspector_overrides id read (Rust layout)
        self.warn_last = floor  # warnings are attached up to this id
        self.changed: set[_Run] = set()  # runs to describe anew (not the current one)
        self.dirty_sums: set[str] = set()  # usage keys whose ended sessions changed
        self.track = False  # whether `dirty_sums` is kept (after the first report)
        self.broken = False  # a chunk was read in part (an error): not to be continued
        #: Runs that start before this id are not kept in detail (see `_detail_from`).
        self.detail_from: int | None = None
        #: Signs of life to look up at the end of the chunk being read: (what to set (`_CUT`,
        #: `_ALIVE`, `_LAST_AND_ALIVE`), its session or run, before which id, from which id).
        self.pending: list[tuple[int, Any, int, int]] = []

    def check_clock(self, prev_id: int, prev_ts: object, rid: int, ts: str) -> None:
        before, after = _parse_ts(prev_ts), _parse_ts(ts)
        if after is None:
            self.notes.add("bad_time", rid)
        elif before is not None and before - after > CLOCK_TOLERANCE:
            self.notes.add("clock", rid, (prev_id, before - after))

    def _run_for_session(self, rid: int) -> _Run:
        run = self.current
        if run is None:  # no service_started before it: the log's beginning, or after a stop
            run = _Run(None, None, rid)
            if self.runs:
                self.notes.add("while_stopped", rid)
            self._append_run(run)
            self.current = run
        return run

    def _append_run(self, run: _Run) -> None:
        run.index = len(self.runs)
        self.runs.append(run)
        if self.detail_from is not None and run.first_id < self.detail_from:
            run.sessions = None  # (the runs read after it push it out of the detail window)
        if len(self.runs) > self.detail_runs:
            old = self.runs[-self.detail_runs - 1]
            if old.sessions is not None:
                old.sessions = None
                self.changed.add(old)

    def session_started(self, rid: int, ts: object, parsed: _Parsed) -> None:
        _kind, sid, entry, label, deadline = parsed
        run = self._run_for_session(rid)
        if sid in self.started:
            self.notes.add("duplicate", rid, sid)
            earlier = self.open.get(sid)
            if earlier is not None:
                self.orphans.append(earlier)
        for other in run.never_ended:
            if other.cut is None:
                other.cut = (rid, ts, None, None)  # its last sign of life: at the chunk's end
                self.pending.append((_CUT, other, rid, run.first_id))
                self.notes.add("overlap", rid)
        s = _Sess(sid, entry, label, run, rid, ts, deadline)
        self.started.add(sid)
        self.open[sid] = s
        run.add_unended(s)
        run.count += 1
        if run.sessions is not None:
            run.sessions.append(s)
        self.changed.add(run)

    def session_ended(self, rid: int, ts: object, parsed: _Parsed) -> None:
        _kind, sid, entry, rtag, extra, secs, micros = parsed
        s = self.open.pop(sid, None)
        if s is None:
            if sid in self.started:
                self.notes.add("ended_twice", rid, sid)
                return  # a session ends once: the service added its usage once
            self.notes.add("no_start", rid, sid)
        else:
            s.end = (rid, ts, secs, micros, rtag, extra)
            run = s.run
            run.ended(s)
            self.changed.add(run)
            if run is not self.current:
                self.notes.add("late_end", rid, sid)
        day = ts[:10] if isinstance(ts, str) else ""
        ok = self.days.get(day)
        if ok is None:
            try:
                parse_day(day)
                ok = True
            except ValueError:
                ok = False
            self.days[day] = ok
        if not ok:
            self.notes.add("bad_time", rid)
            return
        key = entry + _SEP + day
        self.dirty_sums.add(key)
        item = self.sums.get(key)
        if item is None:
            self.sums[intern(key)] = array("q", (secs, rid))
        else:
            try:
                item[0] += secs
            except OverflowError:  # (past int64: this sum goes on in a list)
                item = self.sums[key] = [item[0] + secs, *item[1:]]
            if len(item) <= SUM_IDS:
                item.append(rid)

    def service_started(self, rid: int, ts: object) -> None:
        run = self.current
        at = _parse_ts(ts)
        if run is not None:  # it never stopped: unclean
            run.end, run.ended_id, run.ended_at = "unclean", rid, at
            self.pending.append((_LAST_AND_ALIVE, run, rid, run.first_id))
            self.changed.add(run)
            self.unclean.append(run)
        if at is None:
            self.notes.add("bad_time", rid)
        new = _Run(rid, at, rid)
        new.last_id, new.last_at = rid, at
        self._append_run(new)
        self.current = new

    def service_stopped(self, rid: int, ts: object) -> None:
        run = self.current
        at = _parse_ts(ts)
        if run is None:
            self.notes.add("stop_alone", rid)
            return
        run.end, run.ended_id, run.ended_at = "clean", rid, at
        run.last_id = run.alive_id = rid
        run.last_at = run.alive_at = at
        if run.unended:
            self.pending.append((_ALIVE, run, rid, run.first_id))
        self.changed.add(run)
        self.current = None


def _status(s: _Sess, run: _Run, now: datetime) -> SessionStatus:
    """`ended`, `running` or `interrupted` at `now` (see the package's rules)."""
    if s.ended_id is not None:
        return "ended"
    if run.end != "open" or s.cut is not None:
        return "interrupted"
    deadline = _deadline(s)
    if deadline is not None and now > deadline + DEADLINE_GRACE:
        return "interrupted"
    return "running"


def _after(run: _Run, since: datetime) -> bool:
    """Whether a run was active at or after `since`."""
    for when in (run.ended_at, run.last_at, run.started_at):
        if when is not None:
            try:
                return when >= since
            except (TypeError, OverflowError):
                return True
    return True


def _deadline(s: _Sess) -> datetime | None:
    raw = s.ext[-1][1] if s.ext else s.deadline_raw
    return _parse_ts(raw) if raw is not None else None


def ingest(state: _State, rows: list[Any]) -> None:
    """Feed rows (oldest first) to the state: the per-row work of a scan.

    The usual rows (a session starting in the current run, a running session ending)
    take an inlined fast path; anything else goes through `_slow_parse` and the general
    handlers, which give the same results. The clock is checked at every row but the
    fast-path ends (a jump shows at the next start or service row). The last rows
    before a restart (signs of life) are left in `state.pending`: the scanner looks them up
    for the whole chunk at its end (`RecoveryScanner._resolve_alive`).
    """
    fast_start, fast_end, fast_ext = (_FAST_START.fullmatch, _FAST_END.fullmatch,
                                      _FAST_EXT.fullmatch)
    fast_tail = _FAST_END_TAIL.fullmatch
    pair_tail = _PAIR_END_TAIL.fullmatch
    notes = state.notes
    open_ = state.open
    open_get = open_.get
    started = state.started
    # The compact id set's parts, to test and add the usual ids here (sids.py); None: small.
    hot = started.hot_parts()
    bits, id_buckets, id_mask = hot if hot is not None else (None, {}, 0)
    id_bucket = id_buckets.get
    fromhex = bytes.fromhex
    sums = state.sums
    sums_get = sums.get
    sum_ids = SUM_IDS
    # (a fresh state's first report compares every sum: no need to track changes yet)
    dirty_add = state.dirty_sums.add if state.track else None
    days_get = state.days.get
    max_secs = MAX_DURATION_SECS
    i32_lo, i32_hi = _I32
    cur = state.current
    prev_ts: Any = state.prev_ts
    prev_suffix, prev_id = state.prev_suffix, state.prev_id
    if not rows:
        return
    if state.first_seen is None:
        state.first_seen = rows[0][0]
    following: list[Any] = rows[1:]
    following.append(None)  # (each row with the one after it, for the pairs below)
    skip: Any = None
    for row, after in zip(rows, following, strict=True):
        if row is skip:
            continue
        rid, ts, text = row
        parsed: _Parsed | None = None
        if text.__class__ is str and ts.__class__ is str:
            key = text[9:20]
            if key == "session_end":
                # the usual end: of a session running in the current run (its id was
                # checked at its start), on a day already seen
                s = open_get(text[38:74])
                if s is not None and s.run is cur and text[:38] == _END_HEAD:
                    m = fast_tail(text, 74)
                    if m is not None:
                        entry, rtag, code, error, secs_text, nanos_text = m.groups()
                        day = ts[:10]
                        if len(nanos_text) <= 9 and days_get(day):  # nanos < 1e9
                            secs = int(secs_text)
                            extra: object = None
                            ok = True
                            if rtag == "process_exited":
                                if code is not None and code != "null":
                                    exit_code = int(code)
                                    extra = exit_code
                                    ok = i32_lo <= exit_code <= i32_hi
                            elif rtag == "launch_failed":
                                extra = error
                                ok = error is not None
                            if ok and secs <= max_secs:
                                del open_[s.sid]
                                s.end = (rid, ts, secs, int(nanos_text) // 1000, rtag, extra)
                                s.run.ended(s)
                                sum_key = entry + _SEP + day
                                if dirty_add is not None:
                                    dirty_add(sum_key)
                                item = sums_get(sum_key)
                                if item is None:
                                    sums[intern(sum_key)] = array("q", (secs, rid))
                                else:
                                    try:
                                        item[0] += secs
                                    except OverflowError:  # (see `_State.sums`)
                                        item = sums[sum_key] = [item[0] + secs, *item[1:]]
                                    if len(item) <= sum_ids:
                                        item.append(rid)
                                continue
                m = fast_end(text)
                if m is not None:
                    secs = int(m[6])
                    nanos = int(m[7])
                    rtag = m[3]
                    extra = None
                    if rtag == "process_exited":
                        code = m[4]
                        extra = None if code is None or code == "null" else int(code)
                    elif rtag == "launch_failed":
                        extra = m[5]
                    if (nanos < 1_000_000_000 and secs <= max_secs
                            and (rtag != "launch_failed" or extra is not None)
                            and (not isinstance(extra, int)
                                 or i32_lo <= extra <= i32_hi)):
                        parsed = ("end", m[1], m[2], rtag, extra, secs, nanos // 1000)
            # Clock: text comparison is exact for the same offset suffix; else parse.
            suffix = ts[-6:]
            if prev_ts is not None and (suffix != prev_suffix or ts < prev_ts):
                state.check_clock(prev_id, prev_ts, rid, ts)
            prev_ts, prev_suffix, prev_id = ts, suffix, rid
            if key == "session_sta":
                m = fast_start(text)
                if m is not None:
                    sid = text[40:76]  # (m[1])
                    if bits is None:
                        fresh = sid not in started
                    else:  # (a clear bit: never started; a set one: perhaps)
                        h = hash(sid) & id_mask
                        fresh = not bits[h >> 3] >> (h & 7) & 1 or sid not in started
                    if cur is not None and cur.unended is None and fresh:
                        if bits is None:
                            started.add(sid)
                        else:  # (`SessionIds.hot_parts` says how)
                            bits[h >> 3] |= 1 << (h & 7)
                            bucket = id_bucket(sid[:2])
                            if bucket is None or not sid.islower():
                                started.add(sid)
                            else:
                                bucket += fromhex(sid.replace("-", ""))
                        if cur.sessions is None and after is not None:
                            # In a run not kept in detail, a session whose end is the
                            # next row read (in a form the fast path below takes) is
                            # only counted: nothing can ever ask for it again.
                            e_ts, e_text = after[1], after[2]
                            if (e_text.__class__ is str and e_ts.__class__ is str
                                    and e_text.startswith(sid, 38)
                                    and e_text.startswith(_END_HEAD)):
                                e_m = pair_tail(e_text, 74)
                                day = e_ts[:10]
                                if e_m is not None and days_get(day):
                                    e_entry, code, secs_text = e_m.groups()
                                    secs = int(secs_text)
                                    if secs <= max_secs and (
                                            code is None or code == "null"
                                            or i32_lo <= int(code) <= i32_hi):
                                        cur.count += 1
                                        sum_key = e_entry + _SEP + day
                                        if dirty_add is not None:
                                            dirty_add(sum_key)
                                        item = sums_get(sum_key)
                                        if item is None:
                                            sums[intern(sum_key)] = array(
                                                "q", (secs, after[0]))
                                        else:
                                            try:
                                                item[0] += secs
                                            except OverflowError:  # (see `_State.sums`)
                                                item = sums[sum_key] = [item[0] + secs,
                                                                        *item[1:]]
                                            if len(item) <= sum_ids:
                                                item.append(after[0])
                                        skip = after
                                        continue
                        sid, entry, label, deadline = m.groups()
                        s = _Sess(sid, entry, label, cur, rid, ts, deadline)
                        open_[sid] = s
                        cur.add_unended(s)
                        cur.count += 1
                        if cur.sessions is not None:
                            cur.sessions.append(s)
                        continue  # (the current run's report is always made anew)
                    parsed = ("start", *m.groups())
            elif key == "session_ext":
                m = fast_ext(text)
                if m is not None and int(m[3]) < 1_000_000_000 \
                        and int(m[2]) <= max_secs:
                    parsed = ("ext", m[1], m[4])
            elif text == _SVC_START:
                state.service_started(rid, ts)
                cur = state.current
                continue
            elif text == _SVC_STOP:
                state.service_stopped(rid, ts)
                cur = state.current
                continue
        elif ts.__class__ is str:
            suffix = ts[-6:]
            if prev_ts is not None and (suffix != prev_suffix or ts < prev_ts):
                state.check_clock(prev_id, prev_ts, rid, ts)
            prev_ts, prev_suffix, prev_id = ts, suffix, rid
        else:
            notes.add("bad_time", rid)
            prev_ts = prev_suffix = None
        if parsed is None:
            parsed = _slow_parse(text)
        kind = parsed[0]
        if kind == "end":
            state.session_ended(rid, ts, parsed)
        elif kind == "start":
            state.session_started(rid, ts, parsed)
            cur = state.current
        elif kind == "ext":
            s = open_get(parsed[1])
            if s is None:
                notes.add("stray", rid)
            else:
                if s.ext is None:
                    s.ext = []
                s.ext.append((rid, parsed[2]))
                state.changed.add(s.run)
        elif kind == "svc_start":
            state.service_started(rid, ts)
            cur = state.current
        elif kind == "svc_stop":
            state.service_stopped(rid, ts)
            cur = state.current
        elif kind == "override":
            state.overrides.append((rid, parsed[1]))
        elif kind == "malformed":
            notes.add("malformed", rid, parsed[1])
        elif kind == "unknown":
            notes.add("unknown", rid, parsed[1])
    state.prev_ts, state.prev_suffix, state.prev_id = prev_ts, prev_suffix, prev_id
