"""Noticing commits by another process, fast and cheaply (DESIGN.md, "Watching").

A WAL commit touches only `-wal`, and `-wal` changes *before* the commit is visible; a
rollback-journal commit creates and deletes `-journal` in the directory. So: watch the file,
`-wal` and the directory; after every file event re-check the change token a few times over
the next ~60 ms; and poll the token slowly as a safety net. The token (`PRAGMA
data_version` plus the newest audit id) only moves when another connection commits, so the
watcher never reacts to the inspector's own reads. What counts and what a look found is
decided in watcher_logic.py, without Qt; this class holds the watcher and the timers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from shepherd_store import ChangeToken, StoreError

from .watcher_logic import POLL_MS, Look, WatchState, file_identity, paths_to_add

__all__ = ["DbWatcher", "file_identity"]  # (file_identity: watcher_logic's, as before)


class DbWatcher(QObject):
    """Emits `changed` after another connection commits, `gone` when the file is replaced
    or deleted, and `failed` when the token cannot be read."""

    changed = Signal()
    gone = Signal()
    failed = Signal(str)

    def __init__(self, path: Path, token: Callable[[], ChangeToken],
                 parent: QObject | None = None, *, poll_ms: int = POLL_MS) -> None:
        super().__init__(parent)
        self._path = path
        self._token_fn = token
        identity = file_identity(path)
        self._fs = QFileSystemWatcher(self)
        self._fs.fileChanged.connect(self._on_fs_event)
        self._fs.directoryChanged.connect(self._on_fs_event)
        self._burst_timer = QTimer(self)
        self._burst_timer.setSingleShot(True)
        self._burst_timer.timeout.connect(self._on_burst)
        self._poll = QTimer(self)
        self._poll.setInterval(poll_ms)
        self._poll.timeout.connect(self.check)
        self._watch_paths()
        try:
            last: ChangeToken | None = token()
        except StoreError:
            last = None
        self._state = WatchState(path, identity, last)
        self._poll.start()

    def stop(self) -> None:
        """Stop watching (before the store is closed)."""
        self._state.stop()
        self._poll.stop()
        self._burst_timer.stop()
        paths = self._fs.files() + self._fs.directories()
        if paths:
            self._fs.removePaths(paths)

    def _watch_paths(self) -> None:
        missing = paths_to_add(self._path, set(self._fs.files()) | set(self._fs.directories()))
        if missing:
            self._fs.addPaths(missing)

    def _on_fs_event(self, _path: str) -> None:
        if not self._state.active:
            return
        self._watch_paths()  # re-add files that were recreated (watchers drop removed ones)
        self.check()
        self._burst_timer.start(self._state.file_event())

    def _on_burst(self) -> None:
        self.check()
        wait = self._state.next_recheck()
        if wait is not None:
            self._burst_timer.start(wait)

    def check(self) -> None:
        """Compare the file identity and the change token with the last seen ones."""
        if not self._state.active:
            return
        verdict = self._state.look(file_identity(self._path), os.access(self._path, os.R_OK),
                                   self._token_fn)
        if verdict.look is Look.GONE:
            self.gone.emit()
        elif verdict.look is Look.FAILED:
            self.failed.emit(verdict.message)
        elif verdict.look is Look.CHANGED:
            self.changed.emit()
