"""The Recovery tab's reads of the audit log, off the GUI thread (no Qt here).

One `shepherd_store.recovery.RecoveryScanner` per opened store and policy: its first read is
a full scan (with progress, cancelled when the database goes away), every later one an
`update()` that reads only the rows committed since. `DatabaseTab`'s Reloader runs the jobs
one at a time, so the scanner is never used by two threads at once.

A database on another computer is scanned there (`RemoteStore.recover`: one request, no
progress), each read a whole report again (`RemoteScanner`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shepherd_store import SqliteStore
from shepherd_store.policy import Policy
from shepherd_store.recovery import RecoveredSession, RecoveryReport, RecoveryScanner, Run
from shepherd_store.remote import RemoteStore

from .recovery_logic import RunKey


@dataclass(frozen=True)
class RecoveryState:
    """One read: the scanner's report and the cooldowns (for the repair's question)."""

    report: RecoveryReport
    cooldowns: dict[str, datetime | None]


class RemoteScanner:
    """`RecoveryScanner`'s calls for a remote database: the scan runs there."""

    def __init__(self, store: RemoteStore, policy: Policy | None) -> None:
        self.store = store
        self.policy = policy

    def scan(self, _progress: object = None, _cancel: object = None) -> RecoveryReport:
        return self.store.recover(self.policy)

    def update(self) -> RecoveryReport:
        return self.store.recover(self.policy)

    def run_sessions(self, run: Run) -> tuple[RecoveredSession, ...]:
        """(Runs the report keeps no detail of show no sessions.)"""
        return run.sessions


class Scans:
    """The scanner of the open store, its progress and cancellation, and the sessions of
    old runs read on demand."""

    def __init__(self) -> None:
        self.scanner: RecoveryScanner | None = None
        #: (ids read, ids to read) of the running full scan, None when none runs. Written by
        #: the worker, read by a GUI timer: no signal per chunk.
        self.progress: tuple[int, int] | None = None
        self._cancelled = threading.Event()
        #: Sessions of runs the report does not list in detail (`run_sessions`), and the
        #: runs whose read is under way.
        self.old_sessions: dict[RunKey, tuple[RecoveredSession, ...]] = {}
        self.reading: set[RunKey] = set()

    def stop(self) -> None:
        """Forget the scanner; a full scan still running stops at its next chunk."""
        self._cancelled.set()
        self.scanner = None
        self.progress = None
        self.old_sessions.clear()
        self.reading.clear()

    def job(self, store: SqliteStore, policy: Policy | None
            ) -> tuple[Callable[[], RecoveryState], bool]:
        """What to run in the pool now, and whether it is a full scan."""
        scanner = self.scanner
        full = scanner is None or scanner.store is not store or scanner.policy is not policy
        if full:
            self.stop()
            self._cancelled = threading.Event()
            scanner = self.scanner = (
                RemoteScanner(store, policy) if isinstance(store, RemoteStore)  # type: ignore[assignment]
                else RecoveryScanner(store, policy))
            self.progress = (0, 0)
        assert scanner is not None
        cancelled = self._cancelled

        def progress(done: int, total: int) -> bool:
            self.progress = (done, total)
            return not cancelled.is_set()

        def run() -> RecoveryState:
            report = scanner.scan(progress, cancelled.is_set) if full else scanner.update()
            cooldowns = {c.entry_id: c.until for c in store.all_cooldowns()}
            return RecoveryState(report, cooldowns)

        return run, full
