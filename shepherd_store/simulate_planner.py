"""The simulated child's afternoons: what it launches and when, how long it plays, how a
session ends, decided before anything is written.

`SessionPlanner` makes the plans (`simulate_model.Plan`) that the service writes: the launch
attempts the policy denies (a cooldown running, the day's quota used up), the session that
starts (its deadline the launch plus what the policy allows), its warnings, an admin's
extension now and then, its end (at the deadline, or earlier: the child stops, the game
exits, a parent stops it, the schedule closes) and how long the child waits before the next
try. It reads the service's state (`simulate_service.SimulatedService`) and draws from its
random stream, so a plan is as reproducible as the rows written from it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from .events import (
    AdminStop,
    Expired,
    LaunchFailed,
    PolicyStop,
    ProcessExited,
    SessionEndReason,
    UserStop,
)
from .simulate_model import (
    EVENING_END,
    EXTENSION,
    LAUNCH_ERRORS,
    PLAY_START,
    WARNING_THRESHOLDS,
    Plan,
    PlannedSession,
    SimEntry,
)

if TYPE_CHECKING:
    from .simulate_service import SimulatedService

__all__ = ["SessionPlanner"]


class SessionPlanner:
    """Plans the child's sessions against `service` (its state, its policy, its random
    stream). `last_played` is the game of the latest live session; `appetite` how many
    seconds of play the child wants on each day of paced live mode."""

    def __init__(self, service: SimulatedService) -> None:
        self.service = service
        self.last_played: SimEntry | None = None
        self.appetite: dict[date, float] = {}  # paced: seconds of play the child wants a day

    def afternoon(self, day: date) -> tuple[int, datetime, datetime, datetime]:
        """A day of history: (sessions the child tries, its first try, the last moment one
        may start, the last moment the availability window allows): more at weekends (from
        the morning) than on school days (from the afternoon), never past midnight."""
        sv = self.service
        rng = sv._rng
        if day.weekday() >= 5:
            n = rng.choices(range(7), weights=[0.5, 1, 2, 3, 3, 2, 1])[0]
            cursor = sv._at(day, time(9, 30)) + sv._secs(0, 7200)
        else:
            n = rng.choices(range(5), weights=[1, 3, 3, 2, 1])[0]
            cursor = sv._at(day, time(15)) + sv._secs(0, 4500)
        window_end = sv._at(day, time(20, 15))
        latest = sv._at(day + timedelta(days=1), time(0)) - timedelta(seconds=30)
        return n, cursor, window_end, latest

    def plan(self, at: datetime, *, latest: datetime, scale: float = 1.0, live: bool = False,
              force_entry: SimEntry | None = None,
              force_reason: SessionEndReason | None = None) -> Plan:
        """Decide (without writing) the denials and the session starting at or after `at`."""
        sv = self.service
        rng = sv._rng
        denials: list[tuple[datetime, SimEntry, tuple[str, ...]]] = []
        t = at
        chosen: SimEntry | None = None
        for _ in range(3):
            pool = sv.entries
            if scale < 0.2:  # time is compressed: cooldowns would deny nearly every launch
                pool = tuple(e for e in pool if not sv._denial_reasons(e, t)) or pool
            if sv.pace is not None:  # paced: nobody starts a game with seconds left
                pool = tuple(e for e in pool if not 0 < sv._quota_left(e) < 300) or pool
            entry = force_entry or rng.choices(pool, weights=[e.weight for e in pool])[0]
            reasons = () if force_entry else sv._denial_reasons(entry, t)
            if not reasons:
                chosen = entry
                break
            denials.append((t, entry, reasons))
            t += sv._secs(8 * scale, 90 * scale)
        if chosen is None or latest - t < timedelta(seconds=30):
            return Plan(denials, None, t)
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        limit = sv._limit_seconds(chosen)
        deadline = t + timedelta(seconds=limit) if limit is not None else None
        longest = 3600 if sv.pace is not None else 2700  # paced: often to the limit
        desired = rng.uniform(600, longest) * scale if live else rng.triangular(90, 5400, 1200)
        day = sv._local(t).date()
        if force_reason is None and force_entry is None and rng.random() < 0.03:
            end = t + sv._secs(0.02, 0.4)
            failed = LaunchFailed(error=rng.choice(LAUNCH_ERRORS))
            session = PlannedSession(sid, chosen, day, t, deadline, [], None, end, failed,
                                     timedelta(0))
            return Plan(denials, session, end)
        extension: tuple[datetime, datetime] | None = None
        reason: SessionEndReason
        reached = (deadline is not None and limit is not None and desired >= limit
                   and force_reason is None and deadline + timedelta(seconds=1) < latest)
        if reached:
            assert deadline is not None and limit is not None
            can_extend = (scale >= 1.0 and limit > WARNING_THRESHOLDS[0]
                          and deadline + EXTENSION + timedelta(minutes=1) < latest)
            if can_extend and rng.random() < 0.15:
                ext_at = deadline - sv._secs(15, 50)
                extension = (ext_at, deadline + EXTENSION)
                if rng.random() < 0.7:
                    end, reason = deadline + EXTENSION + sv._secs(0.005, 0.9), Expired()
                else:
                    end, reason = ext_at + sv._secs(60, 880), UserStop()
            elif rng.random() < 0.95:
                end, reason = deadline + sv._secs(0.005, 0.9), Expired()
            else:
                end, reason = deadline - sv._secs(5, 55), UserStop()
        else:
            span = timedelta(seconds=desired)
            if t + span > latest:  # the availability window closes (never past midnight)
                span = (latest - t) * rng.uniform(0.9, 1.0)
                reason = PolicyStop()
            else:
                reason = force_reason or self.early_reason()
            end = t + span
            if deadline is not None and end >= deadline:
                end = max(t, deadline - sv._secs(1, 30))
        warnings = [(th, deadline - timedelta(seconds=th) + sv._secs(0.005, 0.9))
                    for th in WARNING_THRESHOLDS
                    if deadline is not None and limit is not None and limit > th]
        warnings = [(th, wt) for th, wt in warnings if wt < end]
        session = PlannedSession(sid, chosen, day, t, deadline, warnings, extension, end,
                                 reason, end - t)
        return Plan(denials, session, end)

    def early_reason(self) -> SessionEndReason:
        """Why a session ended before its deadline (or an unlimited one ended)."""
        kind = self.service._rng.choices(range(5), weights=[42, 30, 8, 6, 6])[0]
        reasons: tuple[SessionEndReason, ...] = (
            UserStop(), ProcessExited(exit_code=0), ProcessExited(exit_code=None), AdminStop(),
            PolicyStop())
        return reasons[kind]

    def live_gap(self, scale: float) -> timedelta:
        """The pause before the next live launch: 1-10 minutes (scaled); paced, as in a
        child's afternoon: mostly 2-15 minutes, one time in five a longer break."""
        sv = self.service
        if sv.pace is None:
            return sv._secs(60 * scale, 600 * scale)
        if sv._rng.random() < 0.2:
            return sv._secs(1200, 2700)
        return sv._secs(120, 900)

    def play_resumes(self, at: datetime) -> datetime | None:
        """Paced live mode: None when the child may launch a game at `at`, else when play
        resumes: the same day's `PLAY_START` before it, the next day's after `EVENING_END`
        or once the day's appetite is met (2 to 3.5 hours of play; none on the day live
        play began, which a demo's watcher is looking at)."""
        sv = self.service
        if sv.pace is None:
            return None
        local = sv._local(at)
        day = local.date()
        if local.time() < PLAY_START:
            return sv._at(day, PLAY_START) + sv._secs(0, 3600)
        played = sum(sv._used.values()) if sv._day == day else 0
        if day not in self.appetite:  # the day live play began: until the evening
            first = not self.appetite
            self.appetite[day] = float("inf") if first else sv._rng.uniform(7200, 12600)
        if local.time() >= EVENING_END or played >= self.appetite[day]:
            return sv._at(day + timedelta(days=1), PLAY_START) + sv._secs(0, 3600)
        return None
