"""What the simulated shepherdd is configured with, and what the simulator plans.

The entries of its policy (`SimEntry`, `DEFAULT_ENTRIES`, `policy_toml`), the service's fixed
behaviour (warning thresholds, the extension an admin grants), the simulated child's day
(`EVENING_END`, `PLAY_START`), live mode's bounds, and the plans that `simulate_planner`
makes and `simulate_service` writes (`PlannedSession`, `Plan`). Nothing here writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from .events import SessionEndReason

__all__ = [
    "DEFAULT_ENTRIES", "EVENING_END", "EXTENSION", "LAUNCH_ERRORS", "LIVE_MAX_AHEAD",
    "LIVE_MAX_BEHIND", "PLAY_START", "WARNING_THRESHOLDS", "Plan", "PlannedSession",
    "ReachedEnd", "SimEntry", "SimulationStopped", "policy_toml",
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


class SimulationStopped(Exception):
    """Raised inside the simulator when its `stop` event was set (caught by its own loops)."""


class ReachedEnd(Exception):
    """History reached its `end`: the next event would be later."""


@dataclass
class PlannedSession:
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
class Plan:
    """What happens from a launch attempt on: the denials, then the session (None when
    every attempt was denied or no time was left), and when it is all over."""

    denials: list[tuple[datetime, SimEntry, tuple[str, ...]]]
    session: PlannedSession | None
    end: datetime
