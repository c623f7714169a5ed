"""How the shipped shepherdd writes a session, and how it dies, with the truth of each crash.

The shipped service (aarmea/shepherd-launcher at 4446f51, `shepherdd/src/main.rs` and
`shepherd-core/src/engine.rs`) never saves a snapshot. A session writes `session_started` at
launch, `warning_issued` at each threshold it reaches (on the 100 ms tick after its moment),
and at its end `add_usage(entry, the local day it ended, whole duration)`,
`set_cooldown_until(entry, end + cooldown)` when the entry has a cooldown, then
`session_ended`. A crash (power loss, kill, out of memory) simply stops that: the run's last
rows stay the last rows, no `session_ended`, no usage, no cooldown, no `service_stopped`,
and the moment of the crash is recorded nowhere. A clean stop during a game stops the game
and writes `service_stopped`, but never ends the session either.

`ShippedSimulator` writes like that and dies like that (`boot`, `play`, `crash` and
`stop_service` script a history exactly); `ShippedPlanner` gives the plans the shipped
timing. Every crash is recorded as a `CrashRecord`: what a recovery analysis has to find,
with the figures it cannot know (the true crash time). `simulate_crash.CrashingSimulator`
crashes it at random.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
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
from .simulate import Simulator
from .simulate_model import (
    EXTENSION,
    WARNING_THRESHOLDS,
    Plan,
    PlannedSession,
    ReachedEnd,
    SimEntry,
)
from .simulate_planner import SessionPlanner
from .snapshot import StateSnapshot
from .store import Store
from .timefmt import format_timestamp, whole_seconds

__all__ = ["CrashRecord", "ShippedPlanner", "ShippedSimulator", "crashes_json"]

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


def crashes_json(records: Sequence[CrashRecord]) -> str:
    """The ground truth of `records` as JSON (one object per crash, times as stored)."""
    return json.dumps([r.to_json() for r in records], indent=1)


class ShippedPlanner(SessionPlanner):
    """`SessionPlanner` with the shipped timing: warnings on the 100 ms tick after their
    moment, and an expired game exiting 0.3-1.3 s after its deadline."""

    def plan(self, at: datetime, *, latest: datetime, scale: float = 1.0, live: bool = False,
             force_entry: SimEntry | None = None,
             force_reason: SessionEndReason | None = None) -> Plan:
        """`SessionPlanner.plan`, then the shipped timing of its session's end and warnings."""
        plan = super().plan(at, latest=latest, scale=scale, live=live, force_entry=force_entry,
                             force_reason=force_reason)
        s = plan.session
        if s is None or isinstance(s.reason, LaunchFailed):
            return plan
        if isinstance(s.reason, Expired):
            final = s.extension[1] if s.extension is not None else s.deadline
            assert final is not None
            s.end = final + self.service._secs(*EXIT_AFTER_DEADLINE)
            s.duration = s.end - s.start
        limit = (None if s.deadline is None
                 else whole_seconds(s.deadline - s.start) or 1)
        s.warnings = self.warnings(s.start, s.deadline, limit, s.end)
        return Plan(plan.denials, s, s.end)

    def warnings(self, start: datetime, deadline: datetime | None, limit: int | None,
                 end: datetime) -> list[tuple[int, datetime]]:
        """The warnings a session from `start` to `end` is given (its `limit` in seconds),
        each on the service's tick after its moment."""
        if deadline is None or limit is None:
            return []
        timed = [(th, deadline - timedelta(seconds=th) + self.service._secs(0.001, TICK))
                 for th in WARNING_THRESHOLDS if limit > th]
        return [(th, t) for th, t in timed if t < end]


class ShippedSimulator(Simulator):
    """A `Simulator` that writes like the shipped service and dies like it (see the module).

    Differences from `Simulator`: sessions end in the shipped order (usage on the day the
    session ended, cooldown, then `session_ended`), no snapshot is ever saved unless
    `snapshots` is set, the end reason `service_shutdown` is never written (upstream never
    uses it: a clean stop during a session stops the game and leaves the session open), and
    the service can die: every crash, and every clean stop during a game, is recorded in
    `crashes`.
    """

    planner: ShippedPlanner

    def __init__(self, store: Store, *, seed: int = 0, entries: Sequence[SimEntry] | None = None,
                 tz: tzinfo | None = None,
                 wall_clock: Callable[[], datetime] | None = None,
                 snapshots: bool = False) -> None:
        super().__init__(store, seed=seed, entries=entries, tz=tz, wall_clock=wall_clock)
        self.planner = ShippedPlanner(self)
        self.snapshots = snapshots
        self.crashes: list[CrashRecord] = []
        self._down: list[int] = []  # crashes waiting for the next service_started
        self._last_row: datetime | None = None
        self._clients: dict[str, list[datetime]] = {}  # play(clients_after=...)

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
        s = PlannedSession(self._uuid(), entry, self._local(t).date(), t, deadline,
                           self.planner.warnings(t, deadline, limit, end), extension, end,
                           reason, end - t)
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

    # --- writing as the shipped service ----------------------------------------------------

    def _write_finish(self, s: PlannedSession) -> None:
        self._play(s, None)

    def _play(self, s: PlannedSession, crash_at: datetime | None, how: str = "crash") -> None:
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

    def _save_active(self, s: PlannedSession, at: datetime) -> None:
        if self.snapshots:
            super()._save_active(s, at)

    def _append(self, at: datetime, event: Event) -> None:
        super()._append(at, event)
        self._last_row = at

    def _crash(self, at: datetime, s: PlannedSession | None, how: str = "crash") -> None:
        """The service dies at `at`: record the truth, write nothing. With `how` "stop" it
        is shut down cleanly instead: `service_stopped` at `at`, the session left open."""
        if self._until is not None and at > self._until:
            raise ReachedEnd
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
            raise ReachedEnd
        for k in self._down:
            self.crashes[k] = replace(self.crashes[k], restarted_at=self._stamp(at))
        self._down.clear()
        super()._start_service(at)

    def shutdown(self) -> None:
        """Stop cleanly as the shipped service does: a running game is stopped but its
        session never ended (no `session_ended`, no usage), then `service_stopped`."""
        s = self._active
        if s is None or not self._running:
            super().shutdown()
            return
        now = max(self._clock or s.start, s.start) + self._secs(0.05, 2)
        self._play(s, now, "stop")

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
