"""The watcher's decisions, without Qt (DESIGN.md, "Watching"); tested directly in
tests/test_watcher_logic.py.

- `watched_paths`/`paths_to_add`: which file changes count. A WAL commit touches only
  `-wal` (and `-wal` changes *before* the commit is visible); a rollback-journal commit
  creates and deletes `-journal` beside the file, which the directory's watch reports.
- `WatchState`: what a look at the file finds (changed, replaced or gone, unreadable, or
  nothing), and the re-checks over the next ~70 ms after a file event. A new event during
  them starts them over (one schedule, however many events); the slow poll is the safety
  net and looks on its own clock while the watch is active.
- `ChangePacer`: when a change is passed on to the views. A commit after a quiet spell at
  once; during a burst of commits, so that refreshing takes at most `CHANGE_SHARE` of the
  GUI thread and never later than `MAX_CHANGE_DELAY_S`; a refresh a lock turned away again
  soon.

`DbWatcher` (watcher.py) and `Database` (database.py) own the Qt file watcher and timers
and do what these say. Nothing here imports Qt.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from shepherd_store import ChangeToken, LockedError, StoreError

BURST_MS = (4, 10, 20, 40, 70)  # re-checks after a file event (ms after it, cumulative)
POLL_MS = 250
# Views refresh after each commit, but a service writing flat out commits hundreds of times
# a second: changes are passed on so that refreshing takes at most this share of the GUI
# thread (a commit after a quiet spell is passed on at once), and never later than the cap.
CHANGE_SHARE = 0.25
MAX_CHANGE_DELAY_S = 0.5
LOCKED_RETRY_MS = 50  # a refresh a writer's lock turned away is repeated this soon at the earliest

FileIdentity = tuple[int, int]


def file_identity(path: Path) -> FileIdentity | None:
    """(device, inode) of a file, or None when it is gone: tells a replaced file apart."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def watched_paths(path: Path) -> list[str]:
    """What to watch for commits to the database at `path`: the file, its `-wal`, and its
    directory (where a rollback-journal commit creates and deletes `-journal`)."""
    return [str(path), f"{path}-wal", str(path.parent)]


def paths_to_add(path: Path, watching: set[str],
                 exists: Callable[[str], bool] = os.path.exists) -> list[str]:
    """The `watched_paths` not watched yet that exist (a file watcher drops a removed file,
    so one recreated, as `-wal` is, is added again after the next event)."""
    return [p for p in watched_paths(path) if p not in watching and exists(p)]


def burst_steps(burst_ms: tuple[int, ...] = BURST_MS) -> list[int]:
    """The waits between the re-checks after a file event (`burst_ms` are cumulative)."""
    return [b - a for a, b in itertools.pairwise((0, *burst_ms))]


class Look(Enum):
    """What a look at the database found (`Verdict.look`)."""

    NOTHING = "nothing"  # no commit since the last look (or the watch has stopped)
    CHANGED = "changed"  # another connection committed
    GONE = "gone"  # the file was replaced or deleted: the watch stops
    FAILED = "failed"  # the file cannot be read (`Verdict.message`): the watch stops


@dataclass(frozen=True)
class Verdict:
    look: Look
    message: str = ""


class WatchState:
    """The watch of one database file: its identity, the last change token seen, whether
    it is still active, and the re-checks due after a file event."""

    def __init__(self, path: Path, identity: FileIdentity | None, token: ChangeToken | None,
                 *, burst_ms: tuple[int, ...] = BURST_MS) -> None:
        self.path = path
        self.identity = identity
        self.last = token
        self.active = True
        self._burst_ms = burst_ms
        self._burst: list[int] = []

    def stop(self) -> None:
        self.active = False

    def file_event(self) -> int:
        """A watched path changed: look now, and again after the wait this returns (the
        re-checks start over: events in a burst coalesce into one schedule)."""
        self._burst = burst_steps(self._burst_ms)
        return self._burst.pop(0)

    def next_recheck(self) -> int | None:
        """After a re-check: the wait before the next one, None when they are over (or the
        watch stopped)."""
        if self._burst and self.active:
            return self._burst.pop(0)
        return None

    def look(self, identity: FileIdentity | None, readable: bool,
             token: Callable[[], ChangeToken]) -> Verdict:
        """Judge a look at the file: its `identity` now, whether this user may still read
        it, and its change token (read only when the file is still the one opened)."""
        if not self.active:
            return Verdict(Look.NOTHING)
        if identity != self.identity:
            self.active = False
            return Verdict(Look.GONE)
        if not readable:
            # The open connection would go on reading through its file descriptor: say it.
            self.active = False
            return Verdict(Look.FAILED, f"Cannot read {self.path}: permission denied (its "
                           "permissions changed while it was open). Open it as a user who may "
                           "read it; the inspector reopens it as soon as it can.")
        try:
            now = token()
        except LockedError:
            # A writer is mid-commit for longer than our short timeout: look again soon.
            return Verdict(Look.NOTHING)
        except StoreError as exc:
            self.active = False
            return Verdict(Look.FAILED, str(exc))
        if now != self.last:
            self.last = now
            return Verdict(Look.CHANGED)
        return Verdict(Look.NOTHING)


class ChangePacer:
    """When the views hear of a commit: `commit` decides, `passed_on` and `locked_out`
    learn from each time it was passed on. Times are `time.monotonic()` seconds."""

    def __init__(self, *, share: float = CHANGE_SHARE,
                 max_delay_s: float = MAX_CHANGE_DELAY_S,
                 locked_retry_ms: int = LOCKED_RETRY_MS) -> None:
        self.share = share
        self.max_delay_s = max_delay_s
        self.locked_retry_ms = locked_retry_ms
        self.next_change = 0.0  # monotonic time before which changes are held back
        # The due pass repeats a refresh a lock turned away; nothing new was committed.
        self.only_retry = False

    def commit(self, now: float, *, immediate: bool, pending: bool) -> int | None:
        """Another connection committed at `now`: pass it on at once (None) or after the
        returned milliseconds. -1: a pass already `pending` will see this commit too."""
        self.only_retry = False
        if immediate:
            return None
        if pending:
            return -1
        wait = self.next_change - now
        return math.ceil(wait * 1000) if wait > 0 else None

    def passed_on(self, spent: float, now: float) -> None:
        """Passing a change on took the views `spent` seconds, ending at `now`: hold the
        next one back so that refreshing takes at most `share` of the time."""
        self.next_change = now + min(spent * (1 / self.share - 1), self.max_delay_s)

    def locked_out(self, now: float) -> int:
        """A view's read gave up on the service's lock while the change was passed on: pass
        it on again after the returned milliseconds (or the last commit of a burst could
        stay unseen until the next one)."""
        self.only_retry = True
        return max(math.ceil((self.next_change - now) * 1000), self.locked_retry_ms)
