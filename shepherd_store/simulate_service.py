"""shepherdd as the simulator plays it: its state, its policy decisions and its writes.

`SimulatedService` is the daemon's side of every simulation: what it knows (the clock of its
latest write, whether it runs, today's usage per entry, the cooldowns, the running session),
what its policy answers (`_denial_reasons`, `_limit_seconds`), and how it writes: only
through the store's public calls (`append_audit`, `add_usage`, `set_cooldown_until`,
`save_snapshot`), one transaction each as the daemon does, so every value passes the
library's validation and reads back exactly like the daemon's own rows. In paced live mode
every row waits for the demo clock (`pace`) to reach its time.

`Simulator` (`simulate.py`) drives it through the scenarios; `simulate_shipped` changes how
a session's end is written (the shipped order, no snapshots) and how the service dies.
`create_rust_database` makes the empty database the Rust daemon makes.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path

from .diagnose import DEADLINE_GRACE
from .errors import StoreError
from .events import (
    AuditEvent,
    ClientConnected,
    ClientDisconnected,
    Event,
    LaunchDenied,
    LaunchFailed,
    PolicyLoaded,
    ServiceStarted,
    ServiceStopped,
    SessionEnded,
    SessionExtended,
    SessionStarted,
    WarningIssued,
)
from .schema import RUST_DDL
from .simulate_clock import DemoClock
from .simulate_model import DEFAULT_ENTRIES, EXTENSION, Plan, PlannedSession, ReachedEnd, SimEntry
from .snapshot import SessionSnapshot, StateSnapshot
from .store import Store
from .timefmt import format_timestamp, whole_seconds

__all__ = ["SimulatedService", "create_rust_database"]

_JOURNAL_MODES = ("delete", "wal", "truncate", "persist")


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


class SimulatedService:
    """The simulated daemon over `store`: state, policy decisions, writes (see the module).

    Deterministic for a given `seed`: every random choice comes from `random.Random(seed)`,
    reseeded from the newest row when the log is not empty (fresh but reproducible UUIDs).
    Timestamps are in `tz` or the machine's local time zone. Write errors raise, unless
    `on_error` is set: then they are reported to it and skipped, as the daemon does.
    `on_audit` is called after each audit event is committed.
    """

    def __init__(self, store: Store, *, seed: int = 0, entries: Sequence[SimEntry] | None = None,
                 tz: tzinfo | None = None) -> None:
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
        self.errors = 0
        self.events_written = 0
        self._rng = random.Random(seed)
        self._until: datetime | None = None
        self._running = False
        self._day: date | None = None
        self._used: dict[str, int] = {}
        self._active: PlannedSession | None = None
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

    # --- the service's policy --------------------------------------------------------------

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

    def _write_plan(self, plan: Plan) -> None:
        self._write_denials(plan)
        if plan.session is None:
            self._clock = plan.end
            return
        self._write_start(plan.session)
        self._write_finish(plan.session)

    def _write_denials(self, plan: Plan) -> None:
        for t, entry, reasons in plan.denials:
            self._append(t, LaunchDenied(entry_id=entry.id, reasons=reasons))

    def _write_start(self, s: PlannedSession) -> None:
        self._pace_session(s)
        deadline = self._local(s.deadline) if s.deadline is not None else None
        self._append(s.start, SessionStarted(session_id=s.session_id, entry_id=s.entry.id,
                                             label=s.entry.label, deadline=deadline))
        s.current_deadline = s.deadline
        self._active = s
        self._save_active(s, s.start + self._secs(0.001, 0.01))

    def _write_finish(self, s: PlannedSession) -> None:
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

    def _save_active(self, s: PlannedSession, at: datetime) -> None:
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

    def _append(self, at: datetime, event: Event) -> None:
        """Append one audit event stamped `at` (UTC, shown in the simulator's zone)."""
        if self._until is not None and at > self._until:
            raise ReachedEnd
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

    # --- paced live mode -------------------------------------------------------------------

    def _pace_to(self, at: datetime) -> None:
        """Paced live mode: wait until the demo clock reaches `at` (or stop)."""
        if self.pace is not None:
            self.pace.wait_until(at, self.stop)

    def _pace_session(self, s: PlannedSession) -> None:
        """Before a session's first row in paced mode: a session the wall clock would see
        open past its deadline waits for its end, to be written in one go."""
        if self.pace is None or s.deadline is None:
            return
        margin = DEADLINE_GRACE / 2
        if self.pace.real_time_at(s.end) > s.deadline + margin:
            self._pace_to(s.end)

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
