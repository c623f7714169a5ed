"""A deterministic simulator of shepherdd: realistic history and live sessions in a database.

It writes only through the store's public calls (`append_audit`, `add_usage`,
`set_cooldown_until`, `save_snapshot`), one transaction each as the daemon does, so every value
passes the library's validation and reads back exactly like the daemon's own rows. Content
(entries, durations, reasons, UUIDs) comes from `random.Random(seed)` alone; history is placed by
its `end` argument and live mode by the wall clock.

    python -m shepherd_store.simulate PATH [--days N] [--seed S] [--live] [--interval SECONDS]
        [--max-sessions N] [--rust] [--journal delete|wal] [--ack]
        [--crashes K] [--crash-rate P] [--down-at-end] [--truth FILE.json]

With a crash option the history is written as the shipped service writes it and crashes it
(`simulate_crash.CrashingSimulator`: no snapshots; the crashes' ground truth in `--truth`).

Paced live mode (`run_paced`, the demo's): every row is written when a `DemoClock` reaches
its time. The demo clock starts where the history ends (a few hours back), runs `speed` times
faster than real time until it catches up with the wall clock, then at real time, so nothing
is ever written with a time in the future, while a watcher sees sessions of tens of simulated
minutes start, warn and end in seconds.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sqlite3
import sys
import threading
import time as time_module
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .diagnose import DEADLINE_GRACE
from .errors import StoreError
from .events import (
    AdminStop,
    AuditEvent,
    ClientConnected,
    ClientDisconnected,
    ConfigReloaded,
    Event,
    Expired,
    LaunchDenied,
    LaunchFailed,
    PolicyLoaded,
    PolicyStop,
    ProcessExited,
    ServiceShutdown,
    ServiceStarted,
    ServiceStopped,
    SessionEnded,
    SessionEndReason,
    SessionExtended,
    SessionStarted,
    UserStop,
    WarningIssued,
)
from .schema import RUST_DDL
from .snapshot import SessionSnapshot, StateSnapshot
from .store import SqliteStore, Store
from .timefmt import format_timestamp, whole_seconds

__all__ = [
    "DEFAULT_ENTRIES", "DEMO_LEAD", "DEMO_SPEED", "LIVE_MAX_AHEAD", "DemoClock", "SimEntry",
    "SimulationStopped", "Simulator", "create_rust_database", "demo_history_end", "main",
]


@dataclass(frozen=True)
class SimEntry:
    """One policy entry (`[[entries]]` of shepherdd's config); 0 means unlimited.

    `weight` is how much the simulated child likes it (how often it is chosen).
    """

    id: str
    label: str
    daily_quota_seconds: int = 0
    cooldown_seconds: int = 0
    max_run_seconds: int = 0
    weight: float = 1.0


#: Entries after the example config (gcompris and krita unlimited, as there).
DEFAULT_ENTRIES: tuple[SimEntry, ...] = (
    SimEntry("tuxmath", "Tux Math", 2700, 900, 1800, 2.0),
    SimEntry("scummvm-puttputt", "Putt-Putt", 3600, 600, 2700, 2.0),
    SimEntry("minecraft", "Minecraft", 5400, 1800, 3600, 5.0),
    SimEntry("supertuxkart", "SuperTuxKart", 2700, 600, 1800, 3.0),
    SimEntry("gcompris", "GCompris", 0, 0, 0, 1.5),
    SimEntry("krita", "Krita", 0, 0, 0, 1.5),
)

WARNING_THRESHOLDS = (300, 60)
EXTENSION = timedelta(minutes=15)
#: How far live mode's simulated clock may run ahead of the wall clock.
LIVE_MAX_AHEAD = timedelta(hours=2)
#: Live mode jumps forward to the wall clock when it falls further behind than this.
LIVE_MAX_BEHIND = timedelta(minutes=30)
EVENING_END = time(21, 30)
#: Paced live mode: the child's first launch of a day comes at this time or within the hour.
PLAY_START = time(7)
LAUNCH_ERRORS = (
    "spawn failed: No such file or directory (os error 2)",
    "spawn failed: Permission denied (os error 13)",
    "snap run failed: exit status 1",
)

_JOURNAL_MODES = ("delete", "wal", "truncate", "persist")


def policy_toml(entries: Sequence[SimEntry] = DEFAULT_ENTRIES) -> str:
    """The service's policy file (TOML) for the simulated entries, so a demo has limits."""
    lines = ["# Policy of the simulated service (shepherd_store.simulate)", "config_version = 1",
             ""]
    for e in entries:
        lines += ["[[entries]]", f"id = {json.dumps(e.id)}", f"label = {json.dumps(e.label)}",
                  "", "[entries.limits]", f"daily_quota_seconds = {e.daily_quota_seconds}",
                  f"cooldown_seconds = {e.cooldown_seconds}",
                  f"max_run_seconds = {e.max_run_seconds}", ""]
    return "\n".join(lines)


def create_rust_database(path: str | Path, journal_mode: str = "delete") -> None:
    """Create an empty database at `path` in the exact layout the Rust daemon creates.

    Same DDL as `rust-v0.sql`, `user_version` 0, and `journal_mode` (the daemon's is
    `delete`). Refuses to touch an existing file.
    """
    p = Path(path)
    mode = journal_mode.lower()
    if mode not in _JOURNAL_MODES:
        raise ValueError(f"journal_mode must be one of {', '.join(_JOURNAL_MODES)}")
    if p.exists():
        raise FileExistsError(f"{p} already exists; create_rust_database makes new files only")
    conn = sqlite3.connect(str(p), isolation_level=None)
    try:
        conn.execute(f"PRAGMA journal_mode = {mode}")
        conn.execute("BEGIN")
        for stmt in RUST_DDL:
            conn.execute(stmt)
        conn.execute("COMMIT")
    finally:
        conn.close()


class SimulationStopped(Exception):
    """Raised inside the simulator when its `stop` event was set (caught by its own loops)."""


#: How far back the demo's history ends: the demo clock starts there and catches up.
DEMO_LEAD = timedelta(hours=3)
#: How much faster than real time the demo clock runs until it catches up (one simulated
#: minute per real second).
DEMO_SPEED = 60.0
#: The longest a paced write waits without looking at its stop event (quitting is prompt).
_PACE_POLL = 0.2
#: Opened at night, the demo's history ends in the evening before, so that the demo clock
#: catching up shows the end of a day's play rather than a sleeping household.
DEMO_EVENING = time(18, 30)


def demo_history_end(now: datetime, lead: timedelta = DEMO_LEAD,
                     tz: tzinfo | None = None) -> datetime:
    """Where the demo's history ends for a demo opened at `now` (aware): `lead` before it,
    or, at night (after `EVENING_END`, before 07:00), at the last `DEMO_EVENING` at the
    latest. The demo clock starts there and catches up with the wall clock."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    local = now.astimezone(tz)
    end = now - lead
    if local.time() >= EVENING_END or local.time() < time(7):
        day = local.date() if local.time() >= EVENING_END else local.date() - timedelta(days=1)
        naive = datetime.combine(day, DEMO_EVENING)
        evening = naive.replace(tzinfo=tz) if tz is not None else naive.astimezone()
        end = min(end, evening)
    return end.astimezone(tz)


class DemoClock:
    """The demo's simulated time: from `start` it runs `speed` times faster than real time
    until it reaches the wall clock, then with it (1x). It is never later than the wall
    clock, so rows written at its time are never in the future.

    `wall` returns the aware real "now" and `monotonic` real seconds (both injectable for
    tests; `monotonic_rate` is how many of its seconds pass in one of the machine's, for a
    test's fast reality). Thread-safe: it only reads its own fixed fields and the clocks.
    """

    def __init__(self, start: datetime, speed: float = DEMO_SPEED, *,
                 wall: Callable[[], datetime] | None = None,
                 monotonic: Callable[[], float] = time_module.monotonic,
                 monotonic_rate: float = 1.0) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("start must be an aware datetime")
        if speed < 1.0:
            raise ValueError("speed must be at least 1 (the demo clock never falls behind)")
        self._wall = wall or (lambda: datetime.now(UTC))
        self._monotonic = monotonic
        self._real0 = self._wall().astimezone(UTC)
        self._mono0 = monotonic()
        self.start = min(start.astimezone(UTC), self._real0)
        self.speed = float(speed)
        self._rate = monotonic_rate

    def now(self) -> datetime:
        """The simulated time now (aware, UTC)."""
        fast = self.start + timedelta(seconds=(self._monotonic() - self._mono0) * self.speed)
        return min(fast, self._wall().astimezone(UTC))

    @property
    def caught_up(self) -> bool:
        """Whether the demo clock has reached the wall clock (it runs at real time since)."""
        return self.now() >= self._wall().astimezone(UTC) - timedelta(milliseconds=1)

    @property
    def current_speed(self) -> float:
        return 1.0 if self.caught_up else self.speed

    @property
    def lag(self) -> timedelta:
        """How far the demo clock is behind the wall clock."""
        return max(self._wall().astimezone(UTC) - self.now(), timedelta(0))

    def real_time_at(self, instant: datetime) -> datetime:
        """The wall-clock time at which the demo clock will show `instant` (as foreseen now)."""
        t = instant.astimezone(UTC)
        if self.speed == 1.0 or self.start >= self._real0:
            return t
        catch_up = self._real0 + (self._real0 - self.start) / (self.speed - 1.0)
        if t >= catch_up:
            return t
        return self._real0 + (t - self.start) / self.speed

    def wait_until(self, instant: datetime, stop: threading.Event | None = None) -> None:
        """Return once the demo clock has reached `instant`; raise `SimulationStopped` as
        soon as `stop` is set (it is looked at every fraction of a second)."""
        t = instant.astimezone(UTC)
        while True:
            if stop is not None and stop.is_set():
                raise SimulationStopped
            left = (t - self.now()).total_seconds()
            if left <= 0:
                return
            pause = min(left / self.current_speed / self._rate, _PACE_POLL)
            if stop is not None:
                stop.wait(pause)
            else:
                time_module.sleep(pause)


class _ReachedEnd(Exception):
    """History reached its `end`: the next event would be later."""


@dataclass
class _Session:
    """A planned session: every instant is in UTC."""

    session_id: str
    entry: SimEntry
    day: date
    start: datetime
    deadline: datetime | None
    warnings: list[tuple[int, datetime]]
    extension: tuple[datetime, datetime] | None
    end: datetime
    reason: SessionEndReason
    duration: timedelta
    issued: list[int] = field(default_factory=list)
    current_deadline: datetime | None = None


@dataclass
class _Plan:
    denials: list[tuple[datetime, SimEntry, tuple[str, ...]]]
    session: _Session | None
    end: datetime


class Simulator:
    """Plays shepherdd against `store`: history days, live sessions, crashes and restarts.

    Deterministic for a given `seed` (and `end` for history). Timestamps are in `tz` (any
    tzinfo, e.g. a `ZoneInfo`, so DST days get the right offset per instant) or, by default,
    the machine's local time zone. `wall_clock` (returns an aware "now") anchors live mode.
    Write errors raise, unless `on_error` is set: then they are reported to it and skipped,
    as the daemon does. `on_audit` is called after each audit event is committed.
    """

    def __init__(self, store: Store, *, seed: int = 0, entries: Sequence[SimEntry] | None = None,
                 tz: tzinfo | None = None,
                 wall_clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.entries: tuple[SimEntry, ...] = tuple(entries or DEFAULT_ENTRIES)
        if not self.entries:
            raise ValueError("the simulator needs at least one entry")
        self.tz = tz
        self.on_audit: Callable[[AuditEvent], None] | None = None
        self.on_error: Callable[[StoreError], None] | None = None
        self.stop: threading.Event | None = None
        #: Paced live mode: each row waits until this clock reaches its time.
        self.pace: DemoClock | None = None
        self._last_played: SimEntry | None = None
        self._appetite: dict[date, float] = {}  # paced: seconds of play the child wants a day
        self.max_ahead = LIVE_MAX_AHEAD
        self.errors = 0
        self.events_written = 0
        self._rng = random.Random(seed)
        self._wall = wall_clock or (lambda: datetime.now(UTC))
        self._speed = 1.0
        self._last_denials = 0
        self._until: datetime | None = None
        self._running = False
        self._day: date | None = None
        self._used: dict[str, int] = {}
        self._active: _Session | None = None
        self._cooldowns: dict[str, datetime] = {}
        for e in self.entries:
            until = store.get_cooldown_until(e.id)
            if until is not None:
                self._cooldowns[e.id] = until.astimezone(UTC)
        recent = store.get_recent_audits(1)
        self._clock: datetime | None = None
        if recent:  # continue after the newest event, with fresh (but reproducible) UUIDs
            self._clock = recent[0].timestamp.astimezone(UTC) + timedelta(seconds=1)
            self._rng.seed(f"{seed}:{recent[0].id}:{self._clock.isoformat()}")

    # --- public state ----------------------------------------------------------------------

    @property
    def clock(self) -> datetime | None:
        """The simulated time (local, aware) of the latest write, None before the first."""
        return None if self._clock is None else self._local(self._clock)

    @property
    def service_running(self) -> bool:
        """Whether the simulated daemon is up (started and neither stopped nor crashed)."""
        return self._running

    @property
    def active_session_id(self) -> str | None:
        """The session started by `start_session` and not yet finished."""
        return self._active.session_id if self._active else None

    # --- history ---------------------------------------------------------------------------

    def write_history(self, days: int, *, end: datetime) -> int:
        """Write `days` days of history ending at `end` (aware); return the events written.

        Each day: service start, 0-6 sessions (more in afternoons and at weekends), denials,
        the odd reload, service stop. Nothing is later than `end`; on `end`'s own day the
        service is left running when its evening is not over. Stops early if `stop` is set.
        """
        if end.tzinfo is None or end.utcoffset() is None:
            raise ValueError("end must be an aware datetime")
        end_utc = end.astimezone(UTC)
        last_day = self._local(end_utc).date()
        before = self.events_written
        self._until = end_utc
        try:
            for i in range(days - 1, -1, -1):
                if self._stop_requested():
                    break
                self._history_day(last_day - timedelta(days=i))
        except (_ReachedEnd, SimulationStopped):
            pass
        finally:
            self._until = None
        return self.events_written - before

    def _history_day(self, day: date) -> None:
        rng = self._rng
        if self._running:  # left running by an earlier run: stop it before the new day
            self._stop_service(self._later(self._clock_or(day) + self._secs(1, 5)))
        weekend = day.weekday() >= 5
        self._start_service(self._at(day, time(7)) + self._secs(0, 5400))
        if weekend:
            n = rng.choices(range(7), weights=[0.5, 1, 2, 3, 3, 2, 1])[0]
            cursor = self._at(day, time(9, 30)) + self._secs(0, 7200)
        else:
            n = rng.choices(range(5), weights=[1, 3, 3, 2, 1])[0]
            cursor = self._at(day, time(15)) + self._secs(0, 4500)
        window_end = self._at(day, time(20, 15))
        latest = self._at(day + timedelta(days=1), time(0)) - timedelta(seconds=30)
        reload_before = rng.randrange(n + 1) if rng.random() < 0.06 else None
        shutdown_last = rng.random() < 0.03
        for i in range(n + 1):
            cursor = max(cursor, self._later(self._clock_or(day) + self._secs(30, 300)))
            if i == reload_before:
                self._append(cursor, ConfigReloaded(success=rng.random() < 0.9))
                cursor += self._secs(30, 600)
            if i == n or cursor > window_end:
                break
            force: SessionEndReason | None = (
                ServiceShutdown() if shutdown_last and i == n - 1 else None)
            plan = self._plan(cursor, latest=latest, force_reason=force)
            if self._until is not None and plan.end + timedelta(seconds=1) > self._until:
                raise _ReachedEnd
            if self._stop_requested():
                raise SimulationStopped
            self._write_plan(plan)
            if plan.session is not None and isinstance(plan.session.reason, ServiceShutdown):
                self._stop_service(self._later(plan.session.end + self._secs(0.05, 0.5)))
                return
            gap = self._secs(60, 480) if rng.random() < 0.3 else self._secs(600, 6000)
            cursor = self._later(self._clock_or(day)) + gap
        stop_at = max(self._later(self._clock_or(day)) + self._secs(120, 1800),
                      self._at(day, time(21)) + self._secs(0, 5400))
        stop_at = min(stop_at, latest + self._secs(0, 20))
        self._stop_service(max(stop_at, self._later(self._clock_or(day))))

    # --- live mode -------------------------------------------------------------------------

    def start_session(self, entry_id: str | None = None) -> str | None:
        """Start the next live session (denials first, if any); return its id.

        Returns None when every launch the child tried was denied. The simulated clock stays
        close to the wall clock: at most `max_ahead` ahead, shrinking sessions when it gets
        there. `entry_id` forces the entry (and skips the denial checks).
        """
        if self._active is not None:
            raise RuntimeError("a session is already running; call finish_session() first")
        forced = self._entry(entry_id) if entry_id is not None else None
        self._prepare_live()
        assert self._clock is not None
        headroom = (self._wall().astimezone(UTC) + self.max_ahead - self._clock).total_seconds()
        factor = min(1.0, max(headroom, 1.0) / (self._speed * 3600.0))
        scale = max(self._speed * factor, 1e-4)
        at = self._clock + self._live_gap(scale)
        morning = self._play_resumes(at) if forced is None else None
        if morning is not None:  # paced: the child's day is over (or not begun)
            if (self._running and self._day is not None
                    and self._local(morning).date() != self._day):
                evening = self._at(self._day, time(21)) + self._secs(0, 3600)
                self._stop_service(max(self._clock + self._secs(60, 1800), evening))
            self._clock = max(self._clock, morning)
            self._prepare_live()
            at = self._clock + self._live_gap(scale)
        retried = 0 if forced is not None else self._retry_last(at)
        if retried:
            at = max(at, self._clock + self._secs(8, 90))
        latest = self._at(self._local(self._clock).date() + timedelta(days=1), time(0))
        plan = self._plan(at, latest=latest - timedelta(seconds=30), scale=scale, live=True,
                          force_entry=forced)
        self._write_denials(plan)
        self._last_denials = len(plan.denials) + retried
        if plan.session is None:
            self._clock = plan.end
            return None
        self._last_played = plan.session.entry
        self._write_start(plan.session)
        return plan.session.session_id

    def _play_resumes(self, at: datetime) -> datetime | None:
        """Paced live mode: None when the child may launch a game at `at`, else when play
        resumes: the same day's `PLAY_START` before it, the next day's after `EVENING_END`
        or once the day's appetite is met (2 to 3.5 hours of play; none on the day live
        play began, which a demo's watcher is looking at)."""
        if self.pace is None:
            return None
        local = self._local(at)
        day = local.date()
        if local.time() < PLAY_START:
            return self._at(day, PLAY_START) + self._secs(0, 3600)
        played = sum(self._used.values()) if self._day == day else 0
        if day not in self._appetite:  # the day live play began: until the evening
            first = not self._appetite
            self._appetite[day] = float("inf") if first else self._rng.uniform(7200, 12600)
        if local.time() >= EVENING_END or played >= self._appetite[day]:
            return self._at(day + timedelta(days=1), PLAY_START) + self._secs(0, 3600)
        return None

    def _retry_last(self, at: datetime) -> int:
        """Paced live mode: now and then the child tries the game just played again soon
        after, and is denied (its cooldown runs, or its daily time is used up). Returns the
        denials written (0 or 1)."""
        last = self._last_played
        if self.pace is None or last is None or self._clock is None:
            return 0
        if self._rng.random() >= 0.4:
            return 0
        t = min(self._clock + self._secs(20, 240), at)
        reasons = self._denial_reasons(last, t)
        if not reasons:
            return 0
        self._append(t, LaunchDenied(entry_id=last.id, reasons=reasons))
        return 1

    def finish_session(self) -> str:
        """Write the rest of the session `start_session` began; return a short description."""
        s = self._active
        if s is None:
            raise RuntimeError("no session is running; call start_session() first")
        self._write_finish(s)
        return self._describe(s)

    def step(self) -> str:
        """Run one next live session (with whatever denials come first); describe it."""
        if self._active is not None:
            return self.finish_session()
        sid = self.start_session()
        if sid is None:
            when = self._local(self._clock or self._wall()).strftime("%Y-%m-%d %H:%M")
            if self._last_denials:
                return f"{when} every launch the child tried was denied ({self._last_denials})"
            return f"{when} no session: the day is over"
        return self.finish_session()

    def run_live(self, *, interval: float = 2.0, stop: threading.Event | None = None,
                 max_sessions: int | None = None, speed: float = 1.0) -> int:
        """Call `step` every `interval` real seconds until `stop` is set; return the steps run.

        `max_sessions` ends after that many steps (one launch attempt each); `speed` scales
        the simulated length of sessions and gaps (1.0: sessions of 10-45 minutes). Once the
        simulated clock is `max_ahead` ahead of the wall clock, sessions shrink so that it
        keeps pace with real time instead of running further into the future.
        """
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._speed = speed
        saved_stop = self.stop
        if stop is not None:
            self.stop = stop
        done = 0
        try:
            while max_sessions is None or done < max_sessions:
                if self._stop_requested():
                    break
                self.step()
                done += 1
                if max_sessions is not None and done >= max_sessions:
                    break
                if interval > 0 and self.stop is not None:
                    if self.stop.wait(interval):
                        break
                elif interval > 0:
                    time_module.sleep(interval)
        finally:
            self.stop = saved_stop
        return done

    def run_paced(self, clock: DemoClock, *, stop: threading.Event | None = None,
                  max_sessions: int | None = None) -> int:
        """Live sessions as a watcher would see them: every row is written when `clock`
        reaches its time; return the steps run (launch attempts) once `stop` is set.

        The clock is the planner's "now": sessions of 10-60 simulated minutes, often to
        their deadline, gaps of 2-15 minutes, now and then 20-45; the evening ends at
        `EVENING_END` with a clean stop and the service starts again the next morning.
        Nothing is written later than the clock (the planner plans ahead, the writes wait),
        so nothing is in the future. While the clock catches up, a session that would stay
        open in the log past its deadline by the wall clock (recovery would rightly call it
        interrupted) is written in one go when it ends: recovery can see it open only for
        the milliseconds between its first and last row. When stopped, the service is left
        as it is (a running session stays open): call `shutdown` to stop it cleanly.
        """
        saved = (self._wall, self.max_ahead, self.stop, self._speed)
        self._wall, self.max_ahead, self._speed = clock.now, timedelta(days=1), 1.0
        if stop is not None:
            self.stop = stop
        self.pace = clock
        done = 0
        try:
            while max_sessions is None or done < max_sessions:
                self.step()
                done += 1
                if self._clock is not None:  # a step that wrote nothing moved the clock
                    clock.wait_until(self._clock, self.stop)
        except SimulationStopped:
            pass
        finally:
            self.pace = None
            self._wall, self.max_ahead, self.stop, self._speed = saved
            if self._clock is not None:  # a shutdown afterwards is stamped about now
                self._clock = max(self._clock, clock.now() - timedelta(seconds=2))
        return done

    def _live_gap(self, scale: float) -> timedelta:
        """The pause before the next live launch: 1-10 minutes (scaled); paced, as in a
        child's afternoon: mostly 2-15 minutes, one time in five a longer break."""
        if self.pace is None:
            return self._secs(60 * scale, 600 * scale)
        if self._rng.random() < 0.2:
            return self._secs(1200, 2700)
        return self._secs(120, 900)

    def _pace_to(self, at: datetime) -> None:
        """Paced live mode: wait until the demo clock reaches `at` (or stop)."""
        if self.pace is not None:
            self.pace.wait_until(at, self.stop)

    def _pace_session(self, s: _Session) -> None:
        """Before a session's first row in paced mode: a session the wall clock would see
        open past its deadline waits for its end, to be written in one go."""
        if self.pace is None or s.deadline is None:
            return
        margin = DEADLINE_GRACE / 2
        if self.pace.real_time_at(s.end) > s.deadline + margin:
            self._pace_to(s.end)

    # --- crashes and restarts --------------------------------------------------------------

    def crash_mid_session(self, entry_id: str | None = None) -> str:
        """Start a session and stop writing as a daemon killed by SIGKILL would; return its id.

        The snapshot keeps the active session; no session_ended, usage, cooldown or
        service_stopped follows. The entry defaults to a limited one (a snapshot needs a
        deadline).
        """
        if entry_id is None:
            limited = [e for e in self.entries if e.max_run_seconds or e.daily_quota_seconds]
            if not limited:
                raise ValueError("a crash needs an entry with a limit (its snapshot needs a "
                                 "deadline)")
            entry_id = self._rng.choice(limited).id
        sid = self.start_session(entry_id)
        if sid is None or self._active is None:
            raise RuntimeError("no time is left today for a session to crash in")
        self._clock = self._active.start + self._secs(30, 600)
        self._active = None
        self._running = False
        return sid

    def restart_service(self) -> None:
        """Start the daemon again, as after a crash (service_started, policy_loaded, clients)."""
        if self._running:
            raise RuntimeError("the service is running; crash or stop it first")
        base = self._clock if self._clock is not None else self._wall().astimezone(UTC)
        self._start_service(base + self._secs(20, 180))

    def shutdown(self) -> None:
        """Stop the daemon cleanly: end a running session (service_shutdown), service_stopped."""
        s = self._active
        if s is not None:
            now = self._clock if self._clock is not None else s.start
            s.end = max(now, s.start) + self._secs(0.01, 0.5)
            s.reason, s.duration = ServiceShutdown(), s.end - s.start
            s.warnings = [(th, t) for th, t in s.warnings if t < s.end]
            if s.extension is not None and s.extension[0] >= s.end:
                s.extension = None
            self._write_finish(s)
        if self._running and self._clock is not None:
            self._stop_service(self._clock + self._secs(0.05, 1))

    # --- planning --------------------------------------------------------------------------

    def _plan(self, at: datetime, *, latest: datetime, scale: float = 1.0, live: bool = False,
              force_entry: SimEntry | None = None,
              force_reason: SessionEndReason | None = None) -> _Plan:
        """Decide (without writing) the denials and the session starting at or after `at`."""
        rng = self._rng
        denials: list[tuple[datetime, SimEntry, tuple[str, ...]]] = []
        t = at
        chosen: SimEntry | None = None
        for _ in range(3):
            pool = self.entries
            if scale < 0.2:  # time is compressed: cooldowns would deny nearly every launch
                pool = tuple(e for e in pool if not self._denial_reasons(e, t)) or pool
            if self.pace is not None:  # paced: nobody starts a game with seconds left
                pool = tuple(e for e in pool if not 0 < self._quota_left(e) < 300) or pool
            entry = force_entry or rng.choices(pool, weights=[e.weight for e in pool])[0]
            reasons = () if force_entry else self._denial_reasons(entry, t)
            if not reasons:
                chosen = entry
                break
            denials.append((t, entry, reasons))
            t += self._secs(8 * scale, 90 * scale)
        if chosen is None or latest - t < timedelta(seconds=30):
            return _Plan(denials, None, t)
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        limit = self._limit_seconds(chosen)
        deadline = t + timedelta(seconds=limit) if limit is not None else None
        longest = 3600 if self.pace is not None else 2700  # paced: often to the limit
        desired = rng.uniform(600, longest) * scale if live else rng.triangular(90, 5400, 1200)
        day = self._local(t).date()
        if force_reason is None and force_entry is None and rng.random() < 0.03:
            end = t + self._secs(0.02, 0.4)
            failed = LaunchFailed(error=rng.choice(LAUNCH_ERRORS))
            session = _Session(sid, chosen, day, t, deadline, [], None, end, failed, timedelta(0))
            return _Plan(denials, session, end)
        extension: tuple[datetime, datetime] | None = None
        reason: SessionEndReason
        reached = (deadline is not None and limit is not None and desired >= limit
                   and force_reason is None and deadline + timedelta(seconds=1) < latest)
        if reached:
            assert deadline is not None and limit is not None
            can_extend = (scale >= 1.0 and limit > WARNING_THRESHOLDS[0]
                          and deadline + EXTENSION + timedelta(minutes=1) < latest)
            if can_extend and rng.random() < 0.15:
                ext_at = deadline - self._secs(15, 50)
                extension = (ext_at, deadline + EXTENSION)
                if rng.random() < 0.7:
                    end, reason = deadline + EXTENSION + self._secs(0.005, 0.9), Expired()
                else:
                    end, reason = ext_at + self._secs(60, 880), UserStop()
            elif rng.random() < 0.95:
                end, reason = deadline + self._secs(0.005, 0.9), Expired()
            else:
                end, reason = deadline - self._secs(5, 55), UserStop()
        else:
            span = timedelta(seconds=desired)
            if t + span > latest:  # the availability window closes (never past midnight)
                span = (latest - t) * rng.uniform(0.9, 1.0)
                reason = PolicyStop()
            else:
                reason = force_reason or self._early_reason()
            end = t + span
            if deadline is not None and end >= deadline:
                end = max(t, deadline - self._secs(1, 30))
        warnings = [(th, deadline - timedelta(seconds=th) + self._secs(0.005, 0.9))
                    for th in WARNING_THRESHOLDS
                    if deadline is not None and limit is not None and limit > th]
        warnings = [(th, wt) for th, wt in warnings if wt < end]
        session = _Session(sid, chosen, day, t, deadline, warnings, extension, end, reason,
                           end - t)
        return _Plan(denials, session, end)

    def _early_reason(self) -> SessionEndReason:
        """Why a session ended before its deadline (or an unlimited one ended)."""
        kind = self._rng.choices(range(5), weights=[42, 30, 8, 6, 6])[0]
        reasons: tuple[SessionEndReason, ...] = (
            UserStop(), ProcessExited(exit_code=0), ProcessExited(exit_code=None), AdminStop(),
            PolicyStop())
        return reasons[kind]

    def _quota_left(self, entry: SimEntry) -> float:
        """Seconds of `entry`'s daily quota left today (infinite when unlimited)."""
        if not entry.daily_quota_seconds:
            return float("inf")
        return entry.daily_quota_seconds - self._used.get(entry.id, 0)

    def _limit_seconds(self, entry: SimEntry) -> int | None:
        caps = []
        if entry.max_run_seconds:
            caps.append(entry.max_run_seconds)
        if entry.daily_quota_seconds:
            caps.append(max(entry.daily_quota_seconds - self._used.get(entry.id, 0), 1))
        return min(caps) if caps else None

    def _denial_reasons(self, entry: SimEntry, at: datetime) -> tuple[str, ...]:
        """The daemon's Debug texts for why `entry` cannot start at `at` (empty: allowed)."""
        reasons = []
        used, quota = self._used.get(entry.id, 0), entry.daily_quota_seconds
        if quota and used >= quota:
            reasons.append(f"QuotaExhausted {{ used: {used}s, quota: {quota}s }}")
        until = self._cooldowns.get(entry.id)
        if until is not None and until > at:
            stamp = format_timestamp(self._local(until))
            reasons.append(f"CooldownActive {{ available_at: {stamp} }}")
        return tuple(reasons)

    # --- writing ---------------------------------------------------------------------------

    def _write_plan(self, plan: _Plan) -> None:
        self._write_denials(plan)
        if plan.session is None:
            self._clock = plan.end
            return
        self._write_start(plan.session)
        self._write_finish(plan.session)

    def _write_denials(self, plan: _Plan) -> None:
        for t, entry, reasons in plan.denials:
            self._append(t, LaunchDenied(entry_id=entry.id, reasons=reasons))

    def _write_start(self, s: _Session) -> None:
        self._pace_session(s)
        deadline = self._local(s.deadline) if s.deadline is not None else None
        self._append(s.start, SessionStarted(session_id=s.session_id, entry_id=s.entry.id,
                                             label=s.entry.label, deadline=deadline))
        s.current_deadline = s.deadline
        self._active = s
        self._save_active(s, s.start + self._secs(0.001, 0.01))

    def _write_finish(self, s: _Session) -> None:
        steps: list[tuple[datetime, int]] = [(t, th) for th, t in s.warnings]
        if s.extension is not None:
            steps.append((s.extension[0], -1))
        for t, th in sorted(steps):
            if th < 0:
                assert s.extension is not None
                s.current_deadline = s.extension[1]
                self._append(t, SessionExtended(session_id=s.session_id, extended_by=EXTENSION,
                                                new_deadline=self._local(s.extension[1])))
            else:
                s.issued.append(th)
                self._append(t, WarningIssued(session_id=s.session_id, threshold_seconds=th))
            self._save_active(s, t + self._secs(0.001, 0.01))
        self._append(s.end, SessionEnded(session_id=s.session_id, entry_id=s.entry.id,
                                         reason=s.reason, duration=s.duration))
        if not isinstance(s.reason, LaunchFailed):
            self._store_call(self.store.add_usage, s.entry.id, s.day, s.duration)
            self._used[s.entry.id] = self._used.get(s.entry.id, 0) + whole_seconds(s.duration)
            if s.entry.cooldown_seconds:
                until = s.end + timedelta(seconds=s.entry.cooldown_seconds)
                self._store_call(self.store.set_cooldown_until, s.entry.id, self._local(until))
                self._cooldowns[s.entry.id] = until
        done = s.end + self._secs(0.001, 0.01)
        self._store_call(self.store.save_snapshot, StateSnapshot(self._local(done), None))
        self._active = None
        self._clock = done

    def _save_active(self, s: _Session, at: datetime) -> None:
        """Save the snapshot with `s` running (skipped when unlimited: it needs a deadline)."""
        if s.current_deadline is None:
            return
        session = SessionSnapshot(session_id=s.session_id, entry_id=s.entry.id,
                                  started_at=self._local(s.start),
                                  deadline=self._local(s.current_deadline),
                                  warnings_issued=tuple(s.issued))
        self._store_call(self.store.save_snapshot, StateSnapshot(self._local(at), session))

    def _start_service(self, at: datetime) -> None:
        rng = self._rng
        self._day = self._local(at).date()
        self._used = {e.id: whole_seconds(self.store.get_usage(e.id, self._day))
                      for e in self.entries}
        self._append(at, ServiceStarted())
        self._running = True
        t = at + self._secs(0.1, 1.5)
        self._append(t, PolicyLoaded(entry_count=len(self.entries)))
        t += self._secs(0.5, 20)
        self._append(t, ClientConnected(client_id=self._uuid(), role="Shell", uid=1000))
        if rng.random() < 0.3:
            admin = self._uuid()
            t += self._secs(5, 900)
            self._append(t, ClientConnected(client_id=admin, role="Admin", uid=None))
            t += self._secs(20, 900)
            self._append(t, ClientDisconnected(client_id=admin))
        self._clock = t

    def _stop_service(self, at: datetime) -> None:
        self._append(at, ServiceStopped())
        self._running = False
        self._clock = at

    def _prepare_live(self) -> None:
        """Bring the simulated clock near the wall clock and the service up for today."""
        rng = self._rng
        wall = self._wall().astimezone(UTC)
        if self._clock is None:
            self._clock = wall - self._secs(60, 1200)
        elif self._clock < wall - LIVE_MAX_BEHIND:
            if self._running and self._local(wall).date() != self._day:
                assert self._day is not None
                evening = self._at(self._day, time(21)) + self._secs(0, 3600)
                self._stop_service(max(self._clock + self._secs(1, 60), evening))
            self._clock = max(self._clock, wall - self._secs(0, 600))
        if self._running and self._local(self._clock).date() != self._day:
            self._stop_service(self._clock + self._secs(0.05, 1))
        today = self._local(self._clock).date()
        if self._running and self._local(self._clock).time() >= EVENING_END:
            morning = self._at(today + timedelta(days=1), time(7)) + self._secs(0, 3600)
            if morning <= wall + self.max_ahead:
                self._stop_service(self._clock + self._secs(1, 60))
                self._clock = morning
                today = self._local(morning).date()
        midnight = self._at(today + timedelta(days=1), time(0))
        if midnight - self._clock < timedelta(minutes=15):
            if self._running:
                self._stop_service(self._clock + self._secs(0.05, 1))
            self._clock = max(self._clock, midnight) + self._secs(2, 30)
        if not self._running:
            self._start_service(self._clock + timedelta(seconds=rng.uniform(0.01, 1)))

    def _append(self, at: datetime, event: Event) -> None:
        """Append one audit event stamped `at` (UTC, shown in the simulator's zone)."""
        if self._until is not None and at > self._until:
            raise _ReachedEnd
        self._pace_to(at)
        audit = AuditEvent(0, self._local(at), event)
        self._clock = at
        if self._store_call(self.store.append_audit, audit):
            self.events_written += 1
            if self.on_audit is not None:
                self.on_audit(audit)

    def _store_call(self, fn: Callable[..., None], *args: object) -> bool:
        """Run one store write; with `on_error` set, report a failure and go on."""
        try:
            fn(*args)
        except StoreError as exc:
            if self.on_error is None:
                raise
            self.errors += 1
            self.on_error(exc)
            return False
        return True

    # --- helpers ---------------------------------------------------------------------------

    def _local(self, instant: datetime) -> datetime:
        """`instant` in the simulator's zone (its offset valid for that very instant)."""
        return instant.astimezone(self.tz) if self.tz is not None else instant.astimezone()

    def _at(self, day: date, clock: time) -> datetime:
        """The UTC instant of the local wall time `clock` on `day`."""
        naive = datetime.combine(day, clock)
        if self.tz is None:
            return naive.astimezone(UTC)  # a naive datetime is taken as system local time
        return naive.replace(tzinfo=self.tz).astimezone(UTC)

    def _secs(self, lo: float, hi: float) -> timedelta:
        """A random span from `lo` to `hi` seconds, in whole microseconds."""
        return timedelta(microseconds=round(self._rng.uniform(lo, hi) * 1e6))

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _later(self, instant: datetime) -> datetime:
        return instant + timedelta(milliseconds=1)

    def _clock_or(self, day: date) -> datetime:
        return self._clock if self._clock is not None else self._at(day, time(0))

    def _entry(self, entry_id: str) -> SimEntry:
        for e in self.entries:
            if e.id == entry_id:
                return e
        raise ValueError(f"no entry {entry_id!r}; known: {', '.join(e.id for e in self.entries)}")

    def _stop_requested(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def _describe(self, s: _Session) -> str:
        mins, secs = divmod(whole_seconds(s.duration), 60)
        extra = ", extended" if s.extension is not None else ""
        return (f"{self._local(s.start):%Y-%m-%d %H:%M} {s.entry.label}: {mins}m {secs:02d}s, "
                f"{s.reason.TYPE}{extra}")


# --- command line --------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m shepherd_store.simulate",
        description="Write simulated shepherdd history (and live sessions) into a database.")
    p.add_argument("path", help="database file (created if missing)")
    p.add_argument("--days", type=int, default=30, help="days of history (default 30)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--live", action="store_true", help="keep writing sessions after the history")
    p.add_argument("--interval", type=float, default=2.0,
                   help="real seconds between live sessions; 0 = as fast as possible")
    p.add_argument("--max-sessions", type=int, default=None, help="stop after N live steps")
    p.add_argument("--speed", type=float, default=1.0, help="scale of live session lengths")
    p.add_argument("--rust", action="store_true", help="create the Rust layout, not the seed one")
    p.add_argument("--journal", choices=("delete", "wal"), default=None,
                   help="journal mode of a new database (default: wal, or delete with --rust)")
    p.add_argument("--tz", default=None, help="IANA time zone of the timestamps (default local)")
    p.add_argument("--ack", action="store_true",
                   help="print 'ack <id>' on stdout after each committed audit event")
    crash = p.add_argument_group("crashes (as the shipped service: no snapshots, see "
                                 "shepherd_store.simulate_crash)")
    crash.add_argument("--crashes", type=int, default=0, metavar="K",
                       help="about K crashes spread over the history (mid-session or idle)")
    crash.add_argument("--crash-rate", type=_probability, default=0.0, metavar="P",
                       help="chance that each step of a run (or live step) crashes it")
    crash.add_argument("--down-at-end", action="store_true",
                       help="end the history with a crash the service never came back from")
    crash.add_argument("--truth", metavar="FILE", default=None,
                       help="write the crashes' ground truth (JSON) to FILE")
    return p


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a probability (0 to 1)")
    return value


def _open(path: Path, *, rust: bool, journal: str | None) -> SqliteStore:
    if not path.exists():
        if rust:
            create_rust_database(path, journal or "delete")
        elif journal == "delete":
            SqliteStore.open(path).close()
            conn = sqlite3.connect(str(path))
            try:
                conn.execute("PRAGMA journal_mode = delete")
            finally:
                conn.close()
    return SqliteStore.open(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator command line; exit status 0, also on SIGTERM/SIGINT."""
    args = _parser().parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    errors = 0

    def report(exc: BaseException) -> None:
        nonlocal errors
        errors += 1
        text = " ".join(str(exc).split())
        print(f"error {text}", file=sys.stderr, flush=True)

    def ack(event: AuditEvent) -> None:
        print(f"ack {event.id}", flush=True)

    try:
        tz = ZoneInfo(args.tz) if args.tz else None
        store = _open(Path(args.path), rust=args.rust, journal=args.journal)
    except (StoreError, OSError, ValueError, ZoneInfoNotFoundError, sqlite3.Error) as exc:
        report(exc)
        print(f"errors {errors}", file=sys.stderr, flush=True)
        return 1
    crasher = None
    try:
        sim: Simulator
        if args.crashes or args.crash_rate or args.down_at_end or args.truth:
            from .simulate_crash import CrashingSimulator

            sim = crasher = CrashingSimulator(store, seed=args.seed, tz=tz,
                                              crash_rate=args.crash_rate)
        else:
            sim = Simulator(store, seed=args.seed, tz=tz)
        sim.stop = stop
        sim.on_error = report
        if args.ack:
            sim.on_audit = ack
        try:
            if args.days > 0 and sim.clock is None and crasher is not None:
                crasher.write_history(args.days, end=datetime.now(UTC), crashes=args.crashes,
                                      down_at_end=args.down_at_end)
            elif args.days > 0 and sim.clock is None:
                sim.write_history(args.days, end=datetime.now(UTC))
            if args.live and not stop.is_set():
                sim.run_live(interval=args.interval, stop=stop, max_sessions=args.max_sessions,
                             speed=args.speed)
            if args.live or stop.is_set():
                sim.shutdown()
        except SimulationStopped:
            sim.shutdown()
    except StoreError as exc:
        report(exc)
    except BrokenPipeError:
        pass
    finally:
        store.close()
        if crasher is not None and args.truth:
            from .simulate_crash import crashes_json

            Path(args.truth).write_text(crashes_json(crasher.crashes), encoding="utf-8")
    print(f"errors {errors}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
