"""Crashes as the shipped shepherdd has them, with the ground truth of each one.

The shipped service (aarmea/shepherd-launcher at 4446f51, `shepherdd/src/main.rs` and
`shepherd-core/src/engine.rs`) never saves a snapshot. A session writes `session_started` at
launch, `warning_issued` at each threshold it reaches, and at its end `add_usage(entry, the
local day it ended, whole duration)`, `set_cooldown_until(entry, end + cooldown)` when the
entry has a cooldown, then `session_ended`. A crash (power loss, kill, out of memory) simply
stops that: the run's last rows stay the last rows, no `session_ended`, no usage, no cooldown,
no `service_stopped`, and the moment of the crash is recorded nowhere. The next boot (minutes
or hours later, or never) appends `service_started`, `policy_loaded`, clients ... as usual.

`CrashingSimulator` writes such histories: `crash_rate` (per run step) or `crashes=K` in
`write_history` crash runs at random, mid-session or idle, and reboot after a random downtime
(or never, with `down_at_end`); `boot`, `play`, `crash` and `stop_service` script a history exactly.
Every crash is recorded in `crashes` as a `CrashRecord`: what a recovery analysis has to
find, with the figures it cannot know (the true crash time).
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

from .events import (
    ClientConnected,
    ClientDisconnected,
    Event,
    Expired,
    LaunchFailed,
    ProcessExited,
    ServiceStopped,
    SessionEnded,
    SessionEndReason,
    SessionExtended,
    WarningIssued,
)
from .simulate import (
    EXTENSION,
    WARNING_THRESHOLDS,
    SimEntry,
    SimulationStopped,
    Simulator,
    _Plan,
    _ReachedEnd,
    _Session,
)
from .snapshot import StateSnapshot
from .store import Store
from .timefmt import format_timestamp, whole_seconds

__all__ = ["CrashRecord", "CrashingSimulator", "crashes_json", "write_demo_history"]

#: How long the game takes to exit after the deadline killed it (the shipped service).
EXIT_AFTER_DEADLINE = (0.3, 1.3)
#: The service checks warnings every 100 ms.
TICK = 0.1


@dataclass(frozen=True)
class CrashRecord:
    """The ground truth of one crash; times carry the offset the service writes (the
    simulator's zone's offset at each instant, as a fixed offset).

    `session_id` .. `deadline` describe the session that was running (all None for a crash
    with no session running); `deadline` is the one in force at the crash (after any
    extension), None for an unlimited entry. `last_row_at` is the last row the crashed run
    wrote before the crash; `restarted_at` the next `service_started`, None when the service
    never came back.

    `how` is "crash", or "stop": the service was shut down cleanly while the session ran
    (SIGTERM, the computer powering off). The shipped service then stops the game and writes
    `service_stopped` (at `crashed_at`), but never ends the session: no `session_ended`, no
    usage, no cooldown, as after a crash (upstream `main.rs`).
    """

    crashed_at: datetime
    last_row_at: datetime | None
    restarted_at: datetime | None = None
    session_id: str | None = None
    entry_id: str | None = None
    started_at: datetime | None = None
    deadline: datetime | None = None
    how: str = "crash"

    @property
    def lost(self) -> timedelta:
        """The play time the crash took out of `usage` (zero with no session)."""
        return timedelta(0) if self.started_at is None else self.crashed_at - self.started_at

    @property
    def lost_seconds(self) -> float:
        return self.lost.total_seconds()

    @property
    def day(self) -> date | None:
        """The day the service would have credited had the session ended at the crash."""
        return None if self.started_at is None else self.crashed_at.date()

    def to_json(self) -> dict[str, Any]:
        def stamp(value: datetime | None) -> str | None:
            return None if value is None else format_timestamp(value)

        return {"session_id": self.session_id, "entry_id": self.entry_id,
                "started_at": stamp(self.started_at), "deadline": stamp(self.deadline),
                "crashed_at": stamp(self.crashed_at), "last_row_at": stamp(self.last_row_at),
                "restarted_at": stamp(self.restarted_at),
                "lost_seconds": round(self.lost_seconds, 6), "how": self.how,
                "day": None if self.day is None else self.day.isoformat()}


class CrashingSimulator(Simulator):
    """A `Simulator` that writes like the shipped service and crashes like it.

    Differences from `Simulator`: sessions end in the shipped order (usage on the day the
    session ended, cooldown, then `session_ended`), no snapshot is ever saved unless
    `snapshots` is set, the end reason `service_shutdown` is never written (upstream never
    uses it: a clean stop during a session stops the game and leaves the session open), and
    runs crash: `crash_rate` is the chance that each step of a run (before a session, or
    the end of the day) crashes it; about three crashes in four hit a running session.
    `stop_in_session_rate` is the chance that a day's clean stop comes while a game runs
    (recorded in `crashes` with `how` "stop"). `late_night_rate` is the share of days whose
    sessions run from the evening into the small hours (across midnight, and DST changes).
    """

    def __init__(self, store: Store, *, seed: int = 0, entries: Sequence[SimEntry] | None = None,
                 tz: tzinfo | None = None,
                 wall_clock: Callable[[], datetime] | None = None, crash_rate: float = 0.0,
                 late_night_rate: float = 0.05, stop_in_session_rate: float = 0.02,
                 snapshots: bool = False) -> None:
        super().__init__(store, seed=seed, entries=entries, tz=tz, wall_clock=wall_clock)
        if not all(0.0 <= p <= 1.0 for p in (crash_rate, late_night_rate, stop_in_session_rate)):
            raise ValueError("crash_rate, late_night_rate and stop_in_session_rate are "
                             "probabilities (0 to 1)")
        self.crash_rate = crash_rate
        self.stop_in_session_rate = stop_in_session_rate
        self.late_night_rate = late_night_rate
        self.snapshots = snapshots
        #: A crash point always cuts a game short when one can run then (the session begun
        #: before it is moved later or made longer so that the point falls inside it), the
        #: computer is rebooted within minutes (40 s to 15 min) and the child plays on.
        self.crash_in_session = False
        self.crashes: list[CrashRecord] = []
        self._down: list[int] = []  # crashes waiting for the next service_started
        self._planned: dict[date, int] = {}
        self._points: list[datetime] = []  # crash points (UTC) still ahead
        self.skipped_points: list[datetime] = []
        self._last_row: datetime | None = None
        self._clients: dict[str, list[datetime]] = {}  # play(clients_after=...)
        self._rng_crash = random.Random(f"crash:{seed}")

    # --- scripted histories ----------------------------------------------------------------

    def boot(self, at: datetime) -> None:
        """Start the service at `at` (aware): service_started, policy_loaded, clients."""
        if self._running:
            raise RuntimeError("the service is running; crash or stop it first")
        self._start_service(self._instant(at))

    def stop_service(self, at: datetime) -> None:
        """Stop the service cleanly at `at` (no session may be running)."""
        if not self._running or self._active is not None:
            raise RuntimeError("stop needs a running service with no session")
        self._stop_service(self._instant(at))

    def play(self, entry_id: str, at: datetime, *, seconds: float | None = None,
             crash_after: float | None = None, extend_after: float | None = None,
             clients_after: Sequence[float] = (), stop_after: float | None = None) -> str:
        """Play a session of `entry_id` launched at `at`; return its id.

        It lasts `seconds` (default: until its deadline, then the game exits 0.3-1.3 s after
        it, or 30 minutes when unlimited; never past the deadline's exit), or the service
        crashes `crash_after` seconds after the launch (which must come before the end).
        `extend_after`: an admin extends it by 15 minutes that many seconds after the launch.
        `clients_after`: the HUD's short connections (`client_connected`,
        `client_disconnected`) that many seconds after the launch, rows that show the service
        alive while the session runs. `stop_after`: instead of a crash, the service is shut
        down cleanly that many seconds after the launch (`service_stopped`, the session left
        open, as the shipped service does).
        """
        if crash_after is not None and stop_after is not None:
            raise ValueError("crash_after or stop_after, not both")
        how = "crash" if stop_after is None else "stop"
        crash_after = crash_after if stop_after is None else stop_after
        if not self._running or self._active is not None:
            raise RuntimeError("play needs a running service with no session")
        entry = self._entry(entry_id)
        t = self._instant(at)
        self._refresh_used(t)
        limit = self._limit_seconds(entry)
        deadline = None if limit is None else t + timedelta(seconds=limit)
        extension = None
        final = deadline
        if extend_after is not None and deadline is not None:
            ext_at = t + timedelta(seconds=extend_after)
            extension = (ext_at, deadline + EXTENSION)
            final = deadline + EXTENSION
        if seconds is None:
            end = (final + self._secs(*EXIT_AFTER_DEADLINE) if final is not None
                   else t + timedelta(minutes=30))
        else:
            end = t + timedelta(seconds=seconds)
        reason: SessionEndReason
        if final is not None and end >= final:
            end = min(end, final + timedelta(seconds=EXIT_AFTER_DEADLINE[1]))
            reason = Expired()
        else:
            reason = ProcessExited(exit_code=0)
        s = _Session(self._uuid(), entry, self._local(t).date(), t, deadline,
                     self._warnings(t, deadline, limit, end), extension, end, reason, end - t)
        crash_at = None if crash_after is None else t + timedelta(seconds=crash_after)
        if crash_at is not None and crash_at >= end:
            raise ValueError(f"the session ends {(end - t).total_seconds()} s after its launch, "
                             f"before crash_after={crash_after}: give a longer `seconds`")
        self._clients[s.session_id] = [t + timedelta(seconds=x) for x in clients_after]
        self._write_start(s)
        self._play(s, crash_at, how)
        return s.session_id

    def crash(self, at: datetime) -> None:
        """Crash the idle service at `at` (to crash a session use `play(crash_after=...)`)."""
        if not self._running or self._active is not None:
            raise RuntimeError("crash needs a running service with no session")
        self._crash(self._instant(at), None)

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
            weekend = day.weekday() >= 5
            if weekend:
                n = rng.choices(range(7), weights=[0.5, 1, 2, 3, 3, 2, 1])[0]
                cursor = self._at(day, time(9, 30)) + self._secs(0, 7200)
            else:
                n = rng.choices(range(5), weights=[1, 3, 3, 2, 1])[0]
                cursor = self._at(day, time(15)) + self._secs(0, 4500)
            window_end = self._at(day, time(20, 15))
            latest = self._at(nxt, time(0)) - timedelta(seconds=30)
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
            plan: _Plan | None
            crash_at = idle_at = None
            if point is not None:  # crash at the point: in a session begun shortly before
                crash = True
                self._points.remove(point)
                cursor = max(cursor, point - self._secs(120, 2700))
                plan = None if cursor >= point else self._plan(self._refreshed(cursor),
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
                plan = self._plan(self._refreshed(cursor), latest=latest)
                s = plan.session
                if (crash and s is not None and not isinstance(s.reason, LaunchFailed)
                        and self._rng_crash.random() < 0.75):
                    crash_at = s.start + (s.end - s.start) * self._rng_crash.uniform(0.02, 0.999)
            horizon = crash_at or idle_at or (plan.end if plan is not None else cursor)
            if self._until is not None and horizon + timedelta(seconds=1) > self._until:
                raise _ReachedEnd
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

    def _reaching(self, plan: _Plan, point: datetime) -> _Plan:
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
                    warnings=self._warnings(s.start, s.deadline, limit, s.end))
        return _Plan(plan.denials, s, s.end)

    def _stop_in_session(self, cursor: datetime, latest: datetime) -> None:
        """The evening's shutdown comes while a game runs (the session is left open)."""
        plan = self._plan(self._refreshed(cursor), latest=latest + timedelta(hours=2))
        s = plan.session
        if s is None or isinstance(s.reason, LaunchFailed):
            self._write_denials(plan)
            self._stop_service(self._later(plan.end) + self._secs(60, 600))
            return
        stop_at = s.start + (s.end - s.start) * self._rng_crash.uniform(0.02, 0.98)
        if self._until is not None and stop_at + timedelta(seconds=1) > self._until:
            raise _ReachedEnd
        self._write_denials(plan)
        self._write_start(s)
        self._play(s, stop_at, "stop")

    def shutdown(self) -> None:
        """Stop cleanly as the shipped service does: a running game is stopped but its
        session never ended (no `session_ended`, no usage), then `service_stopped`."""
        s = self._active
        if s is None or not self._running:
            super().shutdown()
            return
        now = max(self._clock or s.start, s.start) + self._secs(0.05, 2)
        self._play(s, now, "stop")

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
            plan = self._plan(self._refreshed(self._clock + self._secs(1, max(room / 4, 2))),
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
        except _ReachedEnd:
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

    # --- planning and writing --------------------------------------------------------------

    def _plan(self, at: datetime, *, latest: datetime, scale: float = 1.0, live: bool = False,
              force_entry: SimEntry | None = None,
              force_reason: SessionEndReason | None = None) -> _Plan:
        """`Simulator._plan` with the shipped timing: warnings on the 100 ms tick after their
        moment, and an expired game exiting 0.3-1.3 s after its deadline."""
        plan = super()._plan(at, latest=latest, scale=scale, live=live, force_entry=force_entry,
                             force_reason=force_reason)
        s = plan.session
        if s is None or isinstance(s.reason, LaunchFailed):
            return plan
        if isinstance(s.reason, Expired):
            final = s.extension[1] if s.extension is not None else s.deadline
            assert final is not None
            s.end = final + self._secs(*EXIT_AFTER_DEADLINE)
            s.duration = s.end - s.start
        limit = (None if s.deadline is None
                 else whole_seconds(s.deadline - s.start) or 1)
        s.warnings = self._warnings(s.start, s.deadline, limit, s.end)
        return _Plan(plan.denials, s, s.end)


    def _write_finish(self, s: _Session) -> None:
        self._play(s, None)

    def _play(self, s: _Session, crash_at: datetime | None, how: str = "crash") -> None:
        """The rest of session `s` from its start, as the shipped service writes it, or up to
        `crash_at` and nothing more (with `how` "stop": then `service_stopped`)."""
        steps: list[tuple[datetime, int]] = [(t, th) for th, t in s.warnings]
        if s.extension is not None:
            steps.append((s.extension[0], -1))
        steps += [(t, -2) for t in self._clients.pop(s.session_id, ()) if t < s.end]
        for t, th in sorted(steps):
            if crash_at is not None and t >= crash_at:
                break
            if self._last_row is not None and s.start < t <= self._last_row:
                continue  # written before paced live mode was stopped (see `shutdown`)
            if th == -2:
                client = self._uuid()
                self._append(t, ClientConnected(client_id=client, role="Admin", uid=1000))
                self._append(t + timedelta(milliseconds=3),
                             ClientDisconnected(client_id=client))
                continue
            if th < 0:
                assert s.extension is not None
                s.current_deadline = s.extension[1]
                self._append(t, SessionExtended(session_id=s.session_id, extended_by=EXTENSION,
                                                new_deadline=self._local(s.extension[1])))
            else:
                s.issued.append(th)
                self._append(t, WarningIssued(session_id=s.session_id, threshold_seconds=th))
            self._save_active(s, t + self._secs(0.001, 0.01))
        if crash_at is not None:
            self._crash(crash_at, s, how)
            return
        self._pace_to(s.end)  # paced live mode: the usage is written when the session ends
        if not isinstance(s.reason, LaunchFailed):  # usage first, on the day it ended
            self._store_call(self.store.add_usage, s.entry.id, self._local(s.end).date(),
                             s.duration)
            if self._local(s.end).date() == self._day:
                self._used[s.entry.id] = self._used.get(s.entry.id, 0) + whole_seconds(s.duration)
            if s.entry.cooldown_seconds:
                until = s.end + timedelta(seconds=s.entry.cooldown_seconds)
                self._store_call(self.store.set_cooldown_until, s.entry.id, self._local(until))
                self._cooldowns[s.entry.id] = until
        self._append(s.end, SessionEnded(session_id=s.session_id, entry_id=s.entry.id,
                                         reason=s.reason, duration=s.duration))
        if self.snapshots:
            done = s.end + self._secs(0.001, 0.01)
            self._store_call(self.store.save_snapshot, StateSnapshot(self._local(done), None))
        self._active = None

    def _save_active(self, s: _Session, at: datetime) -> None:
        if self.snapshots:
            super()._save_active(s, at)

    def _append(self, at: datetime, event: Event) -> None:
        super()._append(at, event)
        self._last_row = at

    def _crash(self, at: datetime, s: _Session | None, how: str = "crash") -> None:
        """The service dies at `at`: record the truth, write nothing. With `how` "stop" it
        is shut down cleanly instead: `service_stopped` at `at`, the session left open."""
        if self._until is not None and at > self._until:
            raise _ReachedEnd
        last = None if self._last_row is None else self._stamp(self._last_row)
        if how == "stop":
            self._append(at, ServiceStopped())
        record = CrashRecord(crashed_at=self._stamp(at), last_row_at=last, how=how)
        if s is not None:
            deadline = s.current_deadline if s.current_deadline is not None else s.deadline
            record = replace(record, session_id=s.session_id, entry_id=s.entry.id,
                             started_at=self._stamp(s.start),
                             deadline=None if deadline is None else self._stamp(deadline))
        self._down.append(len(self.crashes))
        self.crashes.append(record)
        self._running = False
        self._active = None
        self._clock = at

    def _start_service(self, at: datetime) -> None:
        if self._until is not None and at > self._until:
            raise _ReachedEnd
        for k in self._down:
            self.crashes[k] = replace(self.crashes[k], restarted_at=self._stamp(at))
        self._down.clear()
        super()._start_service(at)

    # --- helpers ---------------------------------------------------------------------------

    def _stamp(self, instant: datetime) -> datetime:
        """`instant` with the fixed offset the service writes for it (the zone's offset at
        that instant): compares equal to what the store reads back, also in a DST fold."""
        local = self._local(instant)
        offset = local.utcoffset()
        assert offset is not None
        return local.replace(tzinfo=timezone(offset))

    def _instant(self, at: datetime) -> datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("times must be aware datetimes")
        instant = at.astimezone(UTC)
        if self._clock is not None and instant < self._clock:
            raise ValueError(f"{at} is before the simulator's clock {self.clock}")
        return instant

    def _refreshed(self, t: datetime) -> datetime:
        self._refresh_used(t)
        return t

    def _refresh_used(self, t: datetime) -> None:
        """The service reads each day's usage from the store (a session may cross midnight)."""
        self._day = self._local(t).date()
        self._used = {e.id: whole_seconds(self.store.get_usage(e.id, self._day))
                      for e in self.entries}

    def _warnings(self, start: datetime, deadline: datetime | None, limit: int | None,
                  end: datetime) -> list[tuple[int, datetime]]:
        if deadline is None or limit is None:
            return []
        timed = [(th, deadline - timedelta(seconds=th) + self._secs(0.001, TICK))
                 for th in WARNING_THRESHOLDS if limit > th]
        return [(th, t) for th, t in timed if t < end]

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


def crashes_json(records: Sequence[CrashRecord]) -> str:
    """The ground truth of `records` as JSON (one object per crash, times as stored)."""
    return json.dumps([r.to_json() for r in records], indent=1)



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
