"""A deterministic simulator of shepherdd: realistic history and live sessions in a database.

It writes only through the store's public calls, one transaction each as the daemon does
(`simulate_service`), so every value passes the library's validation and reads back exactly
like the daemon's own rows. Content (entries, durations, reasons, UUIDs) comes from
`random.Random(seed)` alone; history is placed by its `end` argument and live mode by the
wall clock.

    python -m shepherd_store.simulate PATH [--days N] [--seed S] [--live] [--interval SECONDS]
        [--max-sessions N] [--rust] [--journal delete|wal] [--ack]
        [--crashes K] [--crash-rate P] [--down-at-end] [--truth FILE.json]

With a crash option the history is written as the shipped service writes it and crashes it
(`simulate_crash.CrashingSimulator`: no snapshots; the crashes' ground truth in `--truth`).

Paced live mode (`run_paced`, the demo's): every row is written when a `DemoClock`
(`simulate_clock`) reaches its time, so nothing is ever written with a time in the future,
while a watcher sees sessions of tens of simulated minutes start, warn and end in seconds.

The pieces: `simulate_model` (the entries, the service's constants, the plans),
`simulate_planner` (the child's choices), `simulate_service` (the daemon's state and writes),
`simulate_clock` (the demo clock); this module plays them through the scenarios (history
days, live sessions, crashes and restarts) and holds the command line.
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import sys
import threading
import time as time_module
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import StoreError
from .events import (
    AuditEvent,
    ConfigReloaded,
    LaunchDenied,
    ServiceShutdown,
    SessionEndReason,
)
from .simulate_clock import DEMO_EVENING as DEMO_EVENING
from .simulate_clock import DEMO_LEAD, DEMO_SPEED, DemoClock, demo_history_end
from .simulate_model import (
    DEFAULT_ENTRIES,
    EVENING_END,
    LIVE_MAX_AHEAD,
    LIVE_MAX_BEHIND,
    PlannedSession,
    ReachedEnd,
    SimEntry,
    SimulationStopped,
)
from .simulate_model import EXTENSION as EXTENSION
from .simulate_model import LAUNCH_ERRORS as LAUNCH_ERRORS
from .simulate_model import PLAY_START as PLAY_START
from .simulate_model import WARNING_THRESHOLDS as WARNING_THRESHOLDS
from .simulate_model import policy_toml as policy_toml
from .simulate_planner import SessionPlanner
from .simulate_service import SimulatedService, create_rust_database
from .store import SqliteStore, Store
from .timefmt import whole_seconds

__all__ = [
    "DEFAULT_ENTRIES", "DEMO_LEAD", "DEMO_SPEED", "LIVE_MAX_AHEAD", "DemoClock", "SimEntry",
    "SimulationStopped", "Simulator", "create_rust_database", "demo_history_end", "main",
]
# Imported `as` themselves above: the pieces' other names, importable from here as before the
# split (`policy_toml`, `EXTENSION`, `WARNING_THRESHOLDS`, ...).


class Simulator(SimulatedService):
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
        super().__init__(store, seed=seed, entries=entries, tz=tz)
        #: The child's side: what it launches, when, for how long.
        self.planner = SessionPlanner(self)
        self.max_ahead = LIVE_MAX_AHEAD
        self._wall = wall_clock or (lambda: datetime.now(UTC))
        self._speed = 1.0
        self._last_denials = 0

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
        except (ReachedEnd, SimulationStopped):
            pass
        finally:
            self._until = None
        return self.events_written - before

    def _history_day(self, day: date) -> None:
        """One day of history: the service's day around the child's afternoon."""
        rng = self._rng
        if self._running:  # left running by an earlier run: stop it before the new day
            self._stop_service(self._later(self._clock_or(day) + self._secs(1, 5)))
        self._start_service(self._at(day, time(7)) + self._secs(0, 5400))
        n, cursor, window_end, latest = self.planner.afternoon(day)
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
            plan = self.planner.plan(cursor, latest=latest, force_reason=force)
            if self._until is not None and plan.end + timedelta(seconds=1) > self._until:
                raise ReachedEnd
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
        at = self._clock + self.planner.live_gap(scale)
        morning = self.planner.play_resumes(at) if forced is None else None
        if morning is not None:  # paced: the child's day is over (or not begun)
            if (self._running and self._day is not None
                    and self._local(morning).date() != self._day):
                evening = self._at(self._day, time(21)) + self._secs(0, 3600)
                self._stop_service(max(self._clock + self._secs(60, 1800), evening))
            self._clock = max(self._clock, morning)
            self._prepare_live()
            at = self._clock + self.planner.live_gap(scale)
        retried = 0 if forced is not None else self._retry_last(at)
        if retried:
            at = max(at, self._clock + self._secs(8, 90))
        latest = self._at(self._local(self._clock).date() + timedelta(days=1), time(0))
        plan = self.planner.plan(at, latest=latest - timedelta(seconds=30), scale=scale,
                                 live=True, force_entry=forced)
        self._write_denials(plan)
        self._last_denials = len(plan.denials) + retried
        if plan.session is None:
            self._clock = plan.end
            return None
        self.planner.last_played = plan.session.entry
        self._write_start(plan.session)
        return plan.session.session_id

    def _retry_last(self, at: datetime) -> int:
        """Paced live mode: now and then the child tries the game just played again soon
        after, and is denied (its cooldown runs, or its daily time is used up). Returns the
        denials written (0 or 1)."""
        last = self.planner.last_played
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

    # --- helpers ---------------------------------------------------------------------------

    def _describe(self, s: PlannedSession) -> str:
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
