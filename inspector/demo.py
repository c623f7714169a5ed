"""The demo: a fresh database with 60 days of history and a simulated service writing live.

What it shows, and how its clock works (the status bar shows the demo clock):

* **History**: 60 days written as the shipped service writes them
  (`simulate_crash.write_demo_history`): afternoons of sessions, cooldowns, denied launches,
  and one crash during a game yesterday afternoon followed by a reboot, which the Recovery
  tab finds on open.
* **Live play at a believable pace**: sessions of 10-45 simulated minutes with gaps of a few
  minutes, warnings 5 and 1 minutes before deadlines, cooldowns after sessions, launches
  denied while a cooldown runs or a quota is used up, the service stopped in the evening.
* **The demo clock**: the history ends a few hours back (`demo_history_end`); the simulated
  service starts there and its clock runs 60x faster than real time (a simulated minute per
  second) until it has caught up with this computer's clock, then at real time. Every row is
  written when the demo clock reaches its time, so the service never writes a time in the
  future (which a support engineer would rightly read as a clock problem), and once caught
  up, what the views compute from the real clock (today's usage, a cooldown's time left,
  recovery's "deadline passed") agrees with the demo. While it catches up, a session that
  the real clock would see still open past its deadline is written in one go when it ends:
  recovery would rightly call an open session past its deadline interrupted.

The simulated service runs in a plain thread with its own store (its own connection), just
as shepherdd is a separate writer; the window only ever sees it through the file.

Nothing is left behind: `cleanup()` stops the service (every wait looks at the stop event
every fraction of a second) and removes the temporary folder; the folder is also removed at
interpreter exit should `cleanup()` never run, and `discard()` removes it at once for a
forced exit.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from datetime import datetime, timedelta
from pathlib import Path

from shepherd_store import SqliteStore
from shepherd_store.describe import format_clock, to_local
from shepherd_store.simulate import (
    DEMO_LEAD,
    DEMO_SPEED,
    DemoClock,
    demo_history_end,
    policy_toml,
)
from shepherd_store.simulate_crash import CrashingSimulator, CrashRecord, write_demo_history

DEMO_DAYS = 60
HISTORY_LEAD = DEMO_LEAD

#: The demos running in this process, by database path (the window's status bar asks).
_RUNNING: dict[Path, DemoService] = {}
_RUNNING_LOCK = threading.Lock()


def demo_clock_for(path: str | Path | None) -> DemoClock | None:
    """The demo clock of the demo writing `path` in this process, if any."""
    if path is None:
        return None
    key = Path(path).absolute()
    with _RUNNING_LOCK:
        demo = _RUNNING.get(key)
    return None if demo is None else demo.clock


def demo_clock_text(clock: DemoClock) -> tuple[str, str]:
    """The status bar's words for `clock`, and their tooltip."""
    now = to_local(clock.now())
    speed = clock.current_speed
    pace = "real time" if speed == 1.0 else f"{speed:g}× speed"
    text = f"demo clock {format_clock(now, seconds=False)}, {pace}"
    lag = clock.lag
    behind = ""
    if lag >= timedelta(minutes=1):
        minutes = int(lag.total_seconds() // 60)
        hours = f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
        catch_up = max(round(lag.total_seconds() / (clock.speed - 1.0)), 1)
        behind = (f" Now it is {hours} behind this computer's clock and catches up in about "
                  f"{catch_up} s.")
    tip = ("The demo's simulated service writes at this simulated time: nothing in the demo "
           "is a real child's play. The demo clock started where the demo's history ends, a "
           f"few hours back, and runs {clock.speed:g}× faster than real time "
           f"({clock.speed:g} simulated seconds each second) until it catches up with this "
           "computer's clock, then at real time, so the service never writes a time in the "
           f"future.{behind} Today's usage, cooldowns' time left and recovery go by this "
           "computer's clock.")
    return text, tip


class DemoService:
    """A demo database plus the live simulated service writing into it."""

    def __init__(self, directory: Path | None = None, *, days: int = DEMO_DAYS, seed: int = 7,
                 speed: float = DEMO_SPEED, crashes: int = 1) -> None:
        # A TemporaryDirectory removes itself at interpreter exit too (a last resort); errors
        # are ignored there, as the service may still hold a file open.
        self._tmp = None if directory else tempfile.TemporaryDirectory(
            prefix="shepherd-demo-", ignore_cleanup_errors=True)
        base = directory or Path(self._tmp.name)  # type: ignore[union-attr]
        self.path = base / "shepherdd-demo.db"
        self.policy_path = base / "shepherdd-demo.toml"  # limits, so quotas and cooldowns show
        self.speed = speed
        self.clock: DemoClock | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []
        self.policy_path.write_text(policy_toml(), encoding="utf-8")
        self.history_end = demo_history_end(datetime.now().astimezone())
        with SqliteStore.open(self.path) as store:
            self._sim: CrashingSimulator = write_demo_history(
                store, days, end=self.history_end, seed=seed, crashes=crashes)
        self._sim.on_error = lambda exc: self.errors.append(str(exc))  # skipped, as shepherdd

    @property
    def crashes(self) -> list[CrashRecord]:
        """The truth of the history's crashes (what the Recovery tab should find)."""
        return list(self._sim.crashes)

    def start(self) -> None:
        """Start the live service; the demo clock starts where the history ends."""
        if self._thread is not None:
            return
        self.clock = DemoClock(max(self._sim.clock or self.history_end, self.history_end),
                               self.speed)
        with _RUNNING_LOCK:
            _RUNNING[self.path.absolute()] = self
        self._thread = threading.Thread(target=self._run, name="demo-service", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self.clock is not None
        try:
            with SqliteStore.open(self.path) as store:  # the service's own connection
                self._sim.store = store
                self._sim.run_paced(self.clock, stop=self._stop)
        except Exception as exc:  # the demo must never take the window down
            self.errors.append(str(exc))

    def stop(self) -> None:
        """Stop the simulated service and wait for it (promptly: every wait of the live
        service looks at the stop event every fraction of a second)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with _RUNNING_LOCK:
            if _RUNNING.get(self.path.absolute()) is self:
                del _RUNNING[self.path.absolute()]

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
