"""The demo: a fresh database with 60 days of history and a simulated service writing live.

The simulated service runs in a plain thread with its own store (its own connection), just
as shepherdd is a separate writer; the window only ever sees it through the file.

Nothing is left behind: `cleanup()` stops the service (within one simulated session, a few
milliseconds) and removes the temporary folder; the folder is also removed at interpreter
exit should `cleanup()` never run, and `discard()` removes it at once for a forced exit.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shepherd_store import SqliteStore
from shepherd_store.simulate import Simulator, policy_toml

DEMO_DAYS = 60
HISTORY_LEAD = timedelta(hours=3)
LIVE_LAG = timedelta(minutes=20)


class DemoService:
    """A demo database plus the live simulated service writing into it."""

    def __init__(self, directory: Path | None = None, *, days: int = DEMO_DAYS, seed: int = 7,
                 interval: float = 3.0) -> None:
        # A TemporaryDirectory removes itself at interpreter exit too (a last resort); errors
        # are ignored there, as the service may still hold a file open.
        self._tmp = None if directory else tempfile.TemporaryDirectory(
            prefix="shepherd-demo-", ignore_cleanup_errors=True)
        base = directory or Path(self._tmp.name)  # type: ignore[union-attr]
        self.path = base / "shepherdd-demo.db"
        self.policy_path = base / "shepherdd-demo.toml"  # limits, so quotas and cooldowns show
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []
        self.policy_path.write_text(policy_toml(), encoding="utf-8")
        with SqliteStore.open(self.path) as store:
            # History ends a while ago: the live service then catches up with the wall clock
            # at accelerated pace, and never writes a time in the future (which a support
            # engineer would rightly read as a clock problem).
            end = datetime.now().astimezone() - HISTORY_LEAD
            Simulator(store, seed=seed).write_history(days, end=end)
        self._seed = seed

    def start(self) -> None:
        """Start writing live sessions (a session every `interval` seconds)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="demo-service", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with SqliteStore.open(self.path) as store:
                # The simulator keeps its clock within `max_ahead` of its wall clock; a wall
                # clock that lags by as much keeps every session it writes in the past.
                sim = Simulator(store, seed=self._seed + 1,
                                wall_clock=lambda: datetime.now(UTC) - LIVE_LAG)
                sim.max_ahead = LIVE_LAG
                while not self._stop.wait(self.interval):
                    clock = sim.clock
                    if clock is not None and clock > datetime.now().astimezone():
                        continue  # caught up: let the wall clock pass the last session first
                    # Short simulated sessions keep the demo moving without racing ahead.
                    sim.run_live(interval=0, max_sessions=1, speed=0.25, stop=self._stop)
        except Exception as exc:  # the demo must never take the window down
            self.errors.append(str(exc))

    def stop(self) -> None:
        """Stop the simulated service and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def cleanup(self) -> None:
        """Stop the service and remove the temporary folder (a given `directory` stays)."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def discard(self) -> None:
        """Remove the temporary folder now, without waiting for the service: for a process
        about to end with `os._exit` (a second Ctrl-C), which runs no clean-up of its own."""
        self._stop.set()
        if self._tmp is not None:
            shutil.rmtree(self._tmp.name, ignore_errors=True)
