"""The server's watcher: notices commits of other connections (the service's, an edit's) and
tells the client, without the client asking.

A thread of its own polls the store's change token (`PRAGMA data_version` and the newest
audit id: microseconds) every `POLL_S`, and the size, mtime and inode of the file, its
`-wal` and its `-journal` (a rollback-journal commit creates and deletes `-journal`; a WAL
commit touches only `-wal`, before the commit is visible). When those move but the token
has not yet, it looks again every few milliseconds for `BURST_S`, so a commit reaches the
client about a round trip after it, not a poll interval later.

The token is per connection (`data_version` counts the commits *other* connections made
since this one opened), so the server's `change_token` answers come from this thread's
connection too (`token_now`), and two of them compare as the client expects.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from ..errors import StoreError
from ..store import ChangeToken, SqliteStore

__all__ = ["ChangeWatcher"]

POLL_S = 0.1  # how often the token is read when nothing moves
BURST_S = 0.05  # how long it is re-read after the files moved
BURST_STEP_S = 0.004
#: The watcher's own reads wait at most this long for a writer's lock (it tries again soon).
WATCH_BUSY_TIMEOUT_S = 0.05

FileStat = tuple[int, int, int] | None


class ChangeWatcher:
    """Calls `changed(token)` after another connection commits, `gone()` when the file went
    away (once, until it is back). Both run on the watcher's thread."""

    def __init__(self, store: SqliteStore, path: str,
                 changed: Callable[[ChangeToken], None], gone: Callable[[], None]) -> None:
        self.store = store
        self.path = Path(path).expanduser()
        self._changed = changed
        self._gone = gone
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._primed = threading.Event()
        self._asks: queue.SimpleQueue[Future[ChangeToken]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="shepherd-remote-watcher",
                                        daemon=True)

    def start(self) -> None:
        """Start watching; returns once the state to compare with is read, so that every
        commit after the return is noticed."""
        self._thread.start()
        self._primed.wait(10)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)
        self._answer_asks(None)

    def token_now(self, timeout: float = 10.0) -> ChangeToken:
        """The change token read now on the watcher's connection (see the module's docstring)."""
        if self._stop.is_set() or not self._thread.is_alive():
            return self.store.change_token()
        ask: Future[ChangeToken] = Future()
        self._asks.put(ask)
        self._wake.set()
        return ask.result(timeout)

    # --- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        self.store.set_busy_timeout(WATCH_BUSY_TIMEOUT_S)  # (this thread's connection)
        token = self._token()
        stats = self._stats()
        self._primed.set()
        missing = False
        burst_until = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            self._wake.wait(BURST_STEP_S if now < burst_until else POLL_S)
            self._wake.clear()
            if self._stop.is_set():
                break
            new_stats = self._stats()
            if new_stats != stats:
                stats = new_stats
                burst_until = time.monotonic() + BURST_S
            if stats[0] is None:
                if not missing:
                    missing = True
                    self._gone()
                self._answer_asks(None)
                continue
            missing = False
            new = self._token()
            self._answer_asks(new)
            if new is not None and new != token:
                token = new
                self._changed(new)

    def _token(self) -> ChangeToken | None:
        try:
            return self.store.change_token()
        except StoreError:
            return None  # locked out for now, or gone: looked at again in a moment

    def _answer_asks(self, token: ChangeToken | None) -> None:
        while True:
            try:
                ask = self._asks.get_nowait()
            except queue.Empty:
                return
            if token is not None:
                ask.set_result(token)
                continue
            try:  # (this thread could not read it: a lock, or stopping: read it directly)
                ask.set_result(self.store.change_token())
            except StoreError as exc:
                ask.set_exception(exc)

    def _stats(self) -> tuple[FileStat, FileStat, FileStat]:
        return (_stat(self.path), _stat(Path(f"{self.path}-wal")),
                _stat(Path(f"{self.path}-journal")))


def _stat(path: Path) -> FileStat:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
