"""Noticing commits by another process, fast and cheaply (DESIGN.md, "Watching").

A WAL commit touches only `-wal`, and `-wal` changes *before* the commit is visible; a
rollback-journal commit creates and deletes `-journal` in the directory. So: watch the file,
`-wal` and the directory; after every file event re-check the change token a few times over
the next ~60 ms; and poll the token slowly as a safety net. The token (`PRAGMA
data_version` plus the newest audit id) only moves when another connection commits, so the
watcher never reacts to the inspector's own reads.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from shepherd_store import ChangeToken, LockedError, StoreError

BURST_MS = (4, 10, 20, 40, 70)  # re-checks after a file event (ms after it, cumulative)
POLL_MS = 250


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of a file, or None when it is gone: tells a replaced file apart."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


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
        self._identity = file_identity(path)
        self._last: ChangeToken | None = None
        self._fs = QFileSystemWatcher(self)
        self._fs.fileChanged.connect(self._on_fs_event)
        self._fs.directoryChanged.connect(self._on_fs_event)
        self._burst: list[int] = []
        self._burst_timer = QTimer(self)
        self._burst_timer.setSingleShot(True)
        self._burst_timer.timeout.connect(self._on_burst)
        self._poll = QTimer(self)
        self._poll.setInterval(poll_ms)
        self._poll.timeout.connect(self.check)
        self._active = True
        self._watch_paths()
        try:
            self._last = token()
        except StoreError:
            self._last = None
        self._poll.start()

    def stop(self) -> None:
        """Stop watching (before the store is closed)."""
        self._active = False
        self._poll.stop()
        self._burst_timer.stop()
        paths = self._fs.files() + self._fs.directories()
        if paths:
            self._fs.removePaths(paths)

    def _watch_paths(self) -> None:
        wanted = [str(self._path), f"{self._path}-wal", str(self._path.parent)]
        have = set(self._fs.files()) | set(self._fs.directories())
        missing = [p for p in wanted if p not in have and os.path.exists(p)]
        if missing:
            self._fs.addPaths(missing)

    def _on_fs_event(self, _path: str) -> None:
        if not self._active:
            return
        self._watch_paths()  # re-add files that were recreated (watchers drop removed ones)
        self.check()
        self._burst = [b - a for a, b in itertools.pairwise((0, *BURST_MS))]
        self._burst_timer.start(self._burst.pop(0))

    def _on_burst(self) -> None:
        self.check()
        if self._burst and self._active:
            self._burst_timer.start(self._burst.pop(0))

    def check(self) -> None:
        """Compare the file identity and the change token with the last seen ones."""
        if not self._active:
            return
        identity = file_identity(self._path)
        if identity != self._identity:
            self._active = False
            self.gone.emit()
            return
        if not os.access(self._path, os.R_OK):
            # The open connection would go on reading through its file descriptor: say it.
            self._active = False
            self.failed.emit(f"Cannot read {self._path}: permission denied (its permissions "
                             "changed while it was open). Open it as a user who may read it; "
                             "the inspector reopens it as soon as it can.")
            return
        try:
            token = self._token_fn()
        except LockedError:
            return  # a writer is mid-commit for longer than our short timeout: look again soon
        except StoreError as exc:
            self._active = False
            self.failed.emit(str(exc))
            return
        if token != self._last:
            self._last = token
            self.changed.emit()
