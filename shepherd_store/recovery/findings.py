"""Recovery's findings: what the log shows went unrecorded, in plain words and as figures.

`_Findings` makes them (`interrupted_session` with its `cooldown_missing`, `unclean_shutdown`
per run, `usage_lost` per day) and keeps them between reports, so an update describes anew
only what changed. `_Bounds` is the unrecorded play of an interrupted session and
`credited_day` the day a repair credits (see the package's rules).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from ..describe import format_duration, format_local
from ..policy import Policy
from ..timefmt import format_day, parse_day
from .changes import adjustments
from .results import FINDING_KINDS, RecoveryFinding
from .rows import _SEP, _parse_ts
from .state import SUM_IDS, _deadline, _Run, _Sess, _State, _status

_SEVERITY_ORDER = {"problem": 0, "warning": 1, "info": 2}
_KIND_ORDER = {kind: i for i, kind in enumerate(FINDING_KINDS)}

#: A finding with the key of its place in a report (`_order`).
_Ordered = tuple[tuple[bool, int, int, int], RecoveryFinding]
_ORDER_KEY = operator.itemgetter(0)


def _order(f: RecoveryFinding) -> tuple[bool, int, int, int]:
    """Where a finding goes in a report: unresolved first, the most serious first, then by
    kind, the newest first."""
    return (f.resolved, _SEVERITY_ORDER[f.severity], _KIND_ORDER[f.kind],
            -(f.evidence[0] if f.evidence else 0))


class _Bounds:
    """The unrecorded play of an interrupted session (see the package's rules)."""

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
    the service would have written at its end, `started_at + seconds` (see the package's
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


class _Findings:
    """Makes the findings of a report, and keeps them for the next (see `run_findings`,
    `usage_findings`). `warnings` gives a session's (id, threshold) warnings."""

    def __init__(self, policy: Policy | None,
                 warnings: Callable[[_Sess], list[tuple[int, int]]]) -> None:
        self.policy = policy
        self.warnings = warnings
        #: Findings by everything they are made of (a hit is the same finding).
        self.cache: dict[tuple[Any, ...], RecoveryFinding] = {}
        #: Per run index: its findings, its unclean_shutdown, the usage keys they show, and
        #: (when none depends on the cooldowns) all of them in order, with `_order` keys.
        self.by_run: dict[int, tuple[list[tuple[RecoveryFinding, tuple[datetime, int, int]
                                                | None]], RecoveryFinding | None,
                                     set[str], list[_Ordered] | None]] = {}
        #: `usage_lost` findings by usage key, for the state `lost_for`, and the stored usage
        #: and changes by hand they were compared with.
        self.lost_for: _State | None = None
        self.lost: dict[str, RecoveryFinding] = {}
        self.usage_seen: dict[str, int] = {}
        self.adjust_seen: dict[str, int] = {}

    def run_findings(self, run: _Run, now: datetime, resolved: dict[str, int],
                     usage: dict[str, int], cooldowns: dict[str, datetime | None], *,
                     fresh: bool, changed_usage: set[str]) -> list[_Ordered]:
        """A run's findings (with their `_order` keys): made anew when the run, a repair or
        the usage they show changed (or for the open run); otherwise only the cooldowns are
        looked at again."""
        cached = None if fresh else self.by_run.get(run.index)
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
            self.by_run[run.index] = cached
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
        b = _Bounds(s, run, self.warnings(s))
        day = b.day(b.low)
        recorded = usage.get(s.entry + _SEP + format_day(day), 0) if day is not None else None
        done = s.sid in resolved
        label = _label(self.policy, s)
        evidence = tuple(sorted({s.started_id, *(i for i, _t in b.warn),
                                 *(i for i, _d in s.ext or []),
                                 *(x for x in (b.alive_id, run.ended_id,
                                               s.cut[0] if s.cut else None)
                                   if x is not None)}))
        # Everything the finding is made of (a cache hit must be the same finding).
        key = ("interrupted", s.sid, s.started_id, done, resolved.get(s.sid), recorded,
               run.end, run.ended_id, run.ended_at, b.alive_id, b.alive_at, b.deadline,
               b.upper, b.low, b.high, day, b.observed, evidence, label)
        cached = self.cache.get(key)
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
        self.cache[key] = finding
        return finding

    def _cooldown_target(self, s: _Sess, run: _Run, resolved: dict[str, int]
                         ) -> tuple[datetime, int, int] | None:
        """(until, credited seconds, cooldown) of the cooldown the service would have set
        after an interrupted session (None when the policy gives the entry none)."""
        policy = self.policy
        entry = policy.entries.get(s.entry) if policy is not None else None
        if entry is None or not entry.cooldown_seconds:
            return None
        b = _Bounds(s, run, self.warnings(s))
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
        cached = self.cache.get(key)
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
        self.cache[key] = finding
        return finding

    def usage_findings(self, state: _State, usage: dict[str, int], since: datetime | None,
                       changed_usage: set[str]) -> list[RecoveryFinding]:
        """`usage_lost` findings: the days whose stored usage is below what the ended
        sessions (and changes by hand) add up to. Only the days whose sums, stored usage or
        changes by hand changed since the previous report are compared again."""
        adjust = adjustments(state)
        if self.lost_for is not state:
            self.lost_for, self.lost = state, {}
            keys: Iterable[str] = state.sums
            state.track = True
        else:
            keys = set(state.dirty_sums)
            keys.update(changed_usage)
            if adjust != self.adjust_seen:
                keys.update(k for k, _v in adjust.items() ^ self.adjust_seen.items())
        state.dirty_sums.clear()
        self.usage_seen, self.adjust_seen = usage, adjust
        lost = self.lost
        for key in keys:
            item = state.sums.get(key)
            if item is None:
                lost.pop(key, None)
                continue
            secs, ids = item[0], item[1:]
            expected = secs + adjust.get(key, 0)
            stored = usage.get(key, 0)
            if stored >= expected:
                lost.pop(key, None)
            else:
                lost[key] = self._lost_usage(key, secs, ids, stored, expected, adjust.get(key))
        first_day = format_day(since.date()) if since is not None else ""
        return [f for key, f in lost.items() if key[-10:] >= first_day]

    def _lost_usage(self, key: str, secs: int, ids: Sequence[int], stored: int, expected: int,
                    adjusted: int | None) -> RecoveryFinding:
        entry, day_text = key[:-11], key[-10:]
        missing = expected - stored
        label = (self.policy.label(entry) if self.policy is not None else None) or entry
        return RecoveryFinding(
            "usage_lost", "problem", f"{label}: {_secs(missing)} missing from the usage of "
            f"{day_text}",
            f"The log shows {len(ids) if len(ids) < SUM_IDS else 'many'} session"
            f"{'s' if len(ids) != 1 else ''} of {label} ending on {day_text}, "
            f"{_secs(secs)} in all"
            + (f" (and {adjusted:+d} s changed by hand)" if adjusted else "")
            + f", but only {_secs(stored)} are stored for that day. The service "
            "ignores a failed usage write, so the difference never reached the quota.",
            f"Add the missing {_secs(missing)} to {label}'s usage of {day_text}.",
            tuple(ids), None, entry, label, missing, missing, parse_day(day_text),
            False, None, stored, None, "add_lost_usage")


def _label(policy: Policy | None, s: _Sess) -> str:
    if policy is not None and (name := policy.label(s.entry)):
        return name
    return s.label or s.entry


def running_note(policy: Policy | None, s: _Sess, run: _Run) -> str:
    """The note about a session of the open run that may still be running."""
    deadline = _deadline(s)
    return (f"{_label(policy, s)} (session {s.sid[:8]}, row {s.started_id}) is running since "
            f"{_local(_parse_ts(s.started_ts))}"
            + (f", allowed until {_local(deadline)}" if deadline is not None else
               ", with no time limit")
            + f"; the service has written nothing since {_local(run.alive[1])}. If the "
            "service is not running, it stopped without a trace and this session was "
            "interrupted: recovery shows it so once the service starts again"
            + (" or its deadline is past." if deadline is not None else "."))


def _secs(n: int) -> str:
    return f"{n} s" if n < 60 else f"{n} s ({format_duration(n)})"


def _local(value: datetime | None) -> str:
    return format_local(value) if value is not None else "an unreadable time"
