"""The demo's clock: simulated time that catches up with the wall clock, never ahead of it.

Paced live mode (`Simulator.run_paced`, the demo's) writes every row when a `DemoClock`
reaches its time. The clock starts where the history ends (`demo_history_end`: a few hours
back), runs `speed` times faster than real time until it catches up with the wall clock, then
at real time, so nothing is ever written with a time in the future, while a watcher sees
sessions of tens of simulated minutes start, warn and end in seconds.
"""

from __future__ import annotations

import threading
import time as time_module
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta, tzinfo

from .simulate_model import EVENING_END, SimulationStopped

__all__ = ["DEMO_EVENING", "DEMO_LEAD", "DEMO_SPEED", "DemoClock", "demo_history_end"]

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
