"""Crashes as the shipped shepherdd has them, with the ground truth of each one.

The shipped service (`simulate_shipped`: how it writes a session, how it dies) never saves a
snapshot. A crash (power loss, kill, out of memory) simply stops its writes: the run's last
rows stay the last rows, no `session_ended`, no usage, no cooldown, no `service_stopped`,
and the moment of the crash is recorded nowhere. The next boot (minutes or hours later, or
never) appends `service_started`, `policy_loaded`, clients ... as usual.

`CrashingSimulator` writes such histories: `crash_rate` (per run step) or `crashes=K` in
`write_history` crash runs at random, mid-session or idle, and reboot after a random downtime
(or never, with `down_at_end`); `boot`, `play`, `crash` and `stop_service` script a history
exactly. Every crash is recorded in `crashes` as a `CrashRecord`: what a recovery analysis
has to find, with the figures it cannot know (the true crash time). `write_demo_history`
writes the demo's history.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from .events import LaunchFailed, ProcessExited
from .simulate_model import Plan, ReachedEnd, SimEntry, SimulationStopped
from .simulate_shipped import CrashRecord, ShippedSimulator, crashes_json
from .store import Store
from .timefmt import whole_seconds

__all__ = ["CrashRecord", "CrashingSimulator", "crashes_json", "write_demo_history"]


class CrashingSimulator(ShippedSimulator):
    """A `ShippedSimulator` whose runs crash at random (see the module).

    `crash_rate` is the chance that each step of a run (before a session, or the end of the
    day) crashes it; about three crashes in four hit a running session.
    `stop_in_session_rate` is the chance that a day's clean stop comes while a game runs
    (recorded in `crashes` with `how` "stop"). `late_night_rate` is the share of days whose
    sessions run from the evening into the small hours (across midnight, and DST changes).
    """

    def __init__(self, store: Store, *, seed: int = 0, entries: Sequence[SimEntry] | None = None,
                 tz: tzinfo | None = None,
                 wall_clock: Callable[[], datetime] | None = None, crash_rate: float = 0.0,
                 late_night_rate: float = 0.05, stop_in_session_rate: float = 0.02,
                 snapshots: bool = False) -> None:
        super().__init__(store, seed=seed, entries=entries, tz=tz, wall_clock=wall_clock,
                         snapshots=snapshots)
        if not all(0.0 <= p <= 1.0 for p in (crash_rate, late_night_rate, stop_in_session_rate)):
            raise ValueError("crash_rate, late_night_rate and stop_in_session_rate are "
                             "probabilities (0 to 1)")
        self.crash_rate = crash_rate
        self.stop_in_session_rate = stop_in_session_rate
        self.late_night_rate = late_night_rate
        #: A crash point always cuts a game short when one can run then (the session begun
        #: before it is moved later or made longer so that the point falls inside it), the
        #: computer is rebooted within minutes (40 s to 15 min) and the child plays on.
        self.crash_in_session = False
        self._planned: dict[date, int] = {}
        self._points: list[datetime] = []  # crash points (UTC) still ahead
        self.skipped_points: list[datetime] = []
        self._rng_crash = random.Random(f"crash:{seed}")

    # --- history ---------------------------------------------------------------------------

    def write_history(self, days: int, *, end: datetime, crashes: int = 0,
                      down_at_end: bool = False,
                      crash_points: Sequence[datetime] = ()) -> int:
        """Write `days` days ending at `end`, with crashes; return the events written.

        `crashes`: about that many crashes (besides `crash_rate`'s), spread over the days at
        random, several on one day at times (crash, reboot, crash again); fewer when the
        history reaches `end` first. `crash_points` (aware): the service crashes at each of
        these instants, in a session begun 2-45 minutes before when one fits (else idle); a
        point at night makes that evening run into it; a point the service is down at (or
        that the history passed) goes to `skipped_points`. `down_at_end`: the history ends
        with a crash after which the service never came back.
        """
        if end.tzinfo is None or end.utcoffset() is None:
            raise ValueError("end must be an aware datetime")
        if any(p.tzinfo is None or p.utcoffset() is None for p in crash_points):
            raise ValueError("crash points must be aware datetimes")
        self._points = sorted(p.astimezone(UTC) for p in crash_points)
        last_day = self._local(end.astimezone(UTC)).date()
        for _ in range(max(crashes, 0)):
            day = last_day - timedelta(days=self._rng_crash.randrange(max(days, 1)))
            self._planned[day] = self._planned.get(day, 0) + 1
        written = super().write_history(days, end=end)
        if down_at_end and not self._stop_requested():
            before = self.events_written
            self._crash_before(end.astimezone(UTC))
            written += self.events_written - before
        self._planned.clear()
        self.skipped_points += [self._stamp(p) for p in self._points]
        self._points = []
        return written

    def _history_day(self, day: date) -> None:
        """One day of history with its crashes: planned ones, `crash_rate`'s, crash points,
        a late evening now and then, a clean stop during a game now and then."""
        rng = self._rng
        if self._running:  # left running by an earlier run: stop it before the new day
            self._stop_service(self._later(self._clock_or(day) + self._secs(1, 5)))
        morning = self._at(day, time(7)) + self._secs(0, 5400)
        self._start_service(max(morning, self._later(self._clock_or(day)) + self._secs(60, 900)))
        nxt = day + timedelta(days=1)
        late = rng.random() < self.late_night_rate
        if any(self._at(day, time(20)) < p <= self._at(nxt, time(3, 45)) for p in self._points):
            late = True  # a crash point at night: this evening runs into it
        if late:  # an evening that runs into the small hours (across midnight, DST changes)
            n = rng.randint(2, 4)
            cursor = self._at(day, time(21, 0)) + self._secs(0, 9000)
            window_end = self._at(nxt, time(2, 45))
            latest = self._at(nxt, time(3, 45))
        else:
            n, cursor, window_end, latest = self.planner.afternoon(day)
        planned = self._planned.pop(day, 0)
        i = 0
        while True:
            cursor = max(cursor, self._later(self._clock_or(day) + self._secs(30, 300)))
            point = self._due_point(latest - timedelta(minutes=1))
            last = (i >= n or cursor > window_end) and point is None
            crash = False
            if point is None:
                steps_left = 1 if last else n - i + 1
                crash = self._rng_crash.random() < self.crash_rate
                if planned and self._rng_crash.random() < planned / steps_left:
                    crash, planned = True, planned - 1
            if last:
                stop_at = max(self._later(self._clock_or(day)) + self._secs(120, 1800),
                              min(self._at(day, time(21)) + self._secs(0, 5400), latest))
                count = int(crash) + planned  # several: a crash loop before the day ends
                for k in range(count):
                    self._crash(self._idle_crash_time(stop_at), None)
                    if k == count - 1:
                        return  # down until the next day's boot
                    assert self._clock is not None
                    self._start_service(self._clock + self._secs(40, 600))
                    stop_at = self._clock + self._secs(60, 1800)
                if self._rng_crash.random() < self.stop_in_session_rate:
                    self._stop_in_session(cursor, latest)
                    return
                self._stop_service(stop_at)
                return
            i += 1
            plan: Plan | None
            crash_at = idle_at = None
            if point is not None:  # crash at the point: in a session begun shortly before
                crash = True
                self._points.remove(point)
                cursor = max(cursor, point - self._secs(120, 2700))
                plan = None if cursor >= point else self.planner.plan(self._refreshed(cursor),
                                                               latest=latest)
                if plan is not None and self.crash_in_session:
                    plan = self._reaching(plan, point)
                    n = max(n, i + 1)  # after the reboot the child plays on
                s = None if plan is None else plan.session
                if (s is not None and s.start < point < s.end
                        and not isinstance(s.reason, LaunchFailed)):
                    crash_at = point
                else:
                    idle_at = point
                    if plan is not None and plan.end >= point:
                        plan = s = None  # it would have started after the crash
            else:
                plan = self.planner.plan(self._refreshed(cursor), latest=latest)
                s = plan.session
                if (crash and s is not None and not isinstance(s.reason, LaunchFailed)
                        and self._rng_crash.random() < 0.75):
                    crash_at = s.start + (s.end - s.start) * self._rng_crash.uniform(0.02, 0.999)
            horizon = crash_at or idle_at or (plan.end if plan is not None else cursor)
            if self._until is not None and horizon + timedelta(seconds=1) > self._until:
                raise ReachedEnd
            if self._stop_requested():
                raise SimulationStopped
            if plan is not None:
                self._write_denials(plan)
                if s is None:
                    self._clock = plan.end
                else:
                    self._write_start(s)
                    self._play(s, crash_at)
            if idle_at is not None:
                self._crash(idle_at, None)
            elif crash and crash_at is None:  # idle: after the session, before the next one
                self._crash(self._idle_crash_time(self._clock_or(day) + self._secs(30, 3600)),
                            None)
            if crash:
                assert self._clock is not None
                reboot = point is not None and self.crash_in_session
                back = self._clock + (self._secs(40, 900) if reboot else self._downtime())
                if back > window_end and self._due_point(latest) is None:
                    return  # down for the rest of the day
                self._start_service(back)
            gap = self._secs(60, 480) if rng.random() < 0.3 else self._secs(600, 6000)
            cursor = self._later(self._clock_or(day)) + gap

    def _reaching(self, plan: Plan, point: datetime) -> Plan:
        """`plan`'s session moved later (a limit that ends before `point`: `point` falls
        30-90 % into it) and made longer if need be, so that `point` falls inside it."""
        s = plan.session
        if s is None or isinstance(s.reason, LaunchFailed) or s.start >= point:
            return plan
        if s.deadline is not None and s.deadline <= point + timedelta(minutes=1):
            shift = point - (s.deadline - s.start) * self._rng_crash.uniform(0.3, 0.9) - s.start
            if shift > timedelta(0):
                start = s.start + shift
                s = replace(s, start=start, deadline=s.deadline + shift, end=s.end + shift,
                            day=self._local(start).date())
        if s.deadline is not None and s.deadline <= point:
            return plan  # too short a limit: the crash comes between two games
        if s.end <= point:
            end = point + self._secs(60, 1200)
            if s.deadline is not None:
                end = min(end, s.deadline - timedelta(seconds=30))
            s = replace(s, end=end, reason=ProcessExited(exit_code=0))
        limit = None if s.deadline is None else whole_seconds(s.deadline - s.start) or 1
        s = replace(s, extension=None, duration=s.end - s.start, issued=[],
                    warnings=self.planner.warnings(s.start, s.deadline, limit, s.end))
        return Plan(plan.denials, s, s.end)

    def _stop_in_session(self, cursor: datetime, latest: datetime) -> None:
        """The evening's shutdown comes while a game runs (the session is left open)."""
        plan = self.planner.plan(self._refreshed(cursor), latest=latest + timedelta(hours=2))
        s = plan.session
        if s is None or isinstance(s.reason, LaunchFailed):
            self._write_denials(plan)
            self._stop_service(self._later(plan.end) + self._secs(60, 600))
            return
        stop_at = s.start + (s.end - s.start) * self._rng_crash.uniform(0.02, 0.98)
        if self._until is not None and stop_at + timedelta(seconds=1) > self._until:
            raise ReachedEnd
        self._write_denials(plan)
        self._write_start(s)
        self._play(s, stop_at, "stop")

    def _due_point(self, limit: datetime) -> datetime | None:
        """The next crash point, if it comes before `limit`; points that went by while the
        service was down (or before the clock) are dropped into `skipped_points`."""
        while self._points and self._clock is not None and self._points[0] <= self._clock:
            self.skipped_points.append(self._stamp(self._points.pop(0)))
        return self._points[0] if self._points and self._points[0] <= limit else None

    def _crash_before(self, end: datetime) -> None:
        """End the history in a crash the service never came back from (nothing after `end`)."""
        self._until = end
        try:
            if not self._running:
                self._start_service(self._clock_or(end.date()) + self._secs(60, 600))
            assert self._clock is not None
            room = (end - self._clock).total_seconds()
            plan = self.planner.plan(self._refreshed(self._clock + self._secs(1, max(room / 4, 2))),
                              latest=end + timedelta(hours=6))
            s = plan.session
            if s is not None and not isinstance(s.reason, LaunchFailed) and s.start < end:
                crash_at = min(s.end, end)
                crash_at = s.start + (crash_at - s.start) * self._rng_crash.uniform(0.1, 0.999)
                self._write_denials(plan)
                self._write_start(s)
                self._play(s, crash_at)
            else:
                self._crash(self._clock + (end - self._clock) * self._rng_crash.random(), None)
        except ReachedEnd:
            if self._running and self._active is None and self._clock is not None:
                self._crash(min(self._clock + self._secs(1, 60), end), None)
        finally:
            self._until = None

    # --- live mode -------------------------------------------------------------------------

    def step(self) -> str:
        """One live step; with `crash_rate`, a step may crash the service (mid-session or
        idle). The next step boots it again."""
        if (self._active is None and self._running
                and self._rng_crash.random() < self.crash_rate):
            sid = self.start_session()
            s = self._active
            if sid is None or s is None:
                assert self._clock is not None
                self._crash(self._clock + self._secs(1, 60), None)
                self._clock += self._downtime()
                return f"{self._local(self._clock):%Y-%m-%d %H:%M} the service crashed (idle)"
            self._play(s, s.start + (s.end - s.start) * self._rng_crash.uniform(0.05, 0.95))
            self._clock = (self._clock or s.start) + self._downtime()
            return f"{self._describe(s)}: the service crashed during it"
        return super().step()

    # --- helpers ---------------------------------------------------------------------------

    def _idle_crash_time(self, before: datetime) -> datetime:
        """A moment after the last row and before `before` (nothing was running)."""
        assert self._clock is not None
        span = max((before - self._clock).total_seconds(), 2.0)
        return self._clock + timedelta(seconds=self._rng_crash.uniform(1.0, span))

    def _downtime(self) -> timedelta:
        """How long the service stays down: a reboot, a while, or hours."""
        roll = self._rng_crash.random()
        if roll < 0.55:
            return self._secs(40, 900)
        if roll < 0.85:
            return self._secs(900, 7200)
        return self._secs(7200, 6 * 3600)


def write_demo_history(store: Store, days: int, *, end: datetime, seed: int = 0,
                       crashes: int = 1, tz: tzinfo | None = None,
                       stop: threading.Event | None = None) -> CrashingSimulator:
    """The demo's history (the inspector's `--demo` and `shepherd-store demo`): `days` days
    ending at `end`, written as the shipped service writes, with `crashes` crashes. The
    first is recent, so that a recovery has something to show: the day before `end`'s (or
    `end`'s own day when it is the only one), in a session begun shortly before a moment
    between 16:30 and 18:00; the others fall at random over the history. No late nights
    and no clean stop during a game: a child's afternoons, and one story of a crash.

    Returns the simulator, to continue live (`run_paced`) and with the crashes' truth.
    Stops early when `stop` is set.
    """
    sim = CrashingSimulator(store, seed=seed, tz=tz, late_night_rate=0.0,
                            stop_in_session_rate=0.0)
    sim.stop = stop
    sim.crash_in_session = True
    points: list[datetime] = []
    if crashes > 0 and days > 0:
        rng = random.Random(f"demo-crash:{seed}")
        local_end = end.astimezone(tz)
        day = local_end.date() - timedelta(days=1 if days >= 2 else 0)
        naive = datetime.combine(day, time(16, 30)) + timedelta(seconds=rng.uniform(0, 5400))
        point = naive.replace(tzinfo=tz) if tz is not None else naive.astimezone()
        if point + timedelta(hours=1) <= end:
            points.append(point)
    sim.write_history(days, end=end, crashes=max(crashes - len(points), 0),
                      crash_points=points)
    return sim
