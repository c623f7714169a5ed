"""Ctrl-C (SIGINT) and SIGTERM quit the inspector the way Ctrl+Q does, from Qt's event loop.

Python runs a signal handler only when the interpreter next gets control. While Qt's loop
waits in C++ that can take long, and the default SIGINT handler then raises
KeyboardInterrupt inside whichever Qt callback runs next (a traceback from a timer slot, and
the window goes on). So the Python-level handler here does nothing: `signal.set_wakeup_fd`
makes the C-level handler write the signal's number to a socket, and a thread of ours waits
on that socket. It passes the first quit signal to the GUI thread (a queued Qt signal, which
wakes the event loop): every window closes through its normal path (settings saved, the
database closed, a running export cancelled) and the loop ends. A second one ends the
process at once, even while the GUI thread is stuck: the last-resort clean-ups run
(`at_forced_exit`: the demo's folder) and then `os._exit`.

Exit status: 128 + the signal's number, as a shell reports a process a signal ended: 130
after SIGINT, 143 after SIGTERM; Ctrl+Q and closing the window give 0. (A second signal that
comes once Python is finalizing, when everything is cleaned up and Python has put back the
default handlers, ends the process by that signal: a shell shows 130 or 143 all the same.)
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtWidgets import QApplication

QUIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_STOP = 0  # written by `uninstall()` to end the thread: no signal has the number 0


def exit_status(signum: int) -> int:
    """The exit status after quitting on `signum` (the shell's 128 + number)."""
    return 128 + signum


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    """The Python-level handler: the C-level one has already written to the socket."""


class SignalQuit(QObject):
    """While it is installed, SIGINT and SIGTERM close the windows and end the event loop.

    Create it on the main thread (`set_wakeup_fd` demands it) once the QApplication exists;
    run the loop with `exec()`, and `close()` it when done.
    """

    _received = Signal(int)  # emitted by the watching thread, delivered in the GUI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.signum: int | None = None  # the quit signal that ended the event loop
        self._last_resort: list[Callable[[], Any]] = []
        self._read, self._write = socket.socketpair()
        for sock in (self._read, self._write):
            sock.setblocking(False)
        self._received.connect(self._quit, Qt.ConnectionType.QueuedConnection)
        self._previous_fd = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        self._previous = {s: signal.signal(s, _ignore) for s in QUIT_SIGNALS}
        self._thread = threading.Thread(target=self._watch, name="quit-signals", daemon=True)
        self._thread.start()
        self._installed = True

    def at_forced_exit(self, fn: Callable[[], Any]) -> None:
        """Call `fn` (quickly, from the watching thread) before a second signal ends the
        process: what must not be left behind even then."""
        self._last_resort.append(fn)

    def exec(self, app: QCoreApplication) -> int:
        """Run `app`'s event loop; the exit status (see the module's docstring)."""
        if self.signum is None:
            status = int(app.exec())
        else:  # a signal ended a dialog's loop before the main loop began
            self._close_windows()
            status = 0
        return status if self.signum is None else exit_status(self.signum)

    def close(self) -> None:
        """`uninstall()`, unless a quit signal ended the loop: then the handlers and the
        thread stay, as the process is on its way out and a second signal during its last
        moments must still force the exit, not meet the default handler's traceback."""
        if self.signum is None:
            self.uninstall()

    def uninstall(self) -> None:
        """Put back the previous handlers and wakeup fd, and end the watching thread."""
        if not self._installed:
            return
        self._installed = False
        signal.set_wakeup_fd(self._previous_fd)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        with contextlib.suppress(OSError):
            self._write.send(bytes([_STOP]))
        self._thread.join(timeout=5)
        self._read.close()
        self._write.close()

    # --- inside ----------------------------------------------------------------------------

    def _watch(self) -> None:
        """The watching thread: the first quit signal to the GUI thread, a second one ends
        the process."""
        first = True
        while True:
            select.select([self._read], [], [])
            try:
                data = self._read.recv(256)
            except (BlockingIOError, InterruptedError):
                continue
            for signum in data:
                if signum == _STOP:
                    return
                if signum not in QUIT_SIGNALS:
                    continue
                if first:
                    first = False
                    with contextlib.suppress(RuntimeError):  # the window's side is gone
                        self._received.emit(signum)
                else:
                    self._force(signum)

    def _quit(self, signum: int) -> None:
        """In the GUI thread: quit as Ctrl+Q does."""
        self.signum = signum
        self._close_windows()
        QCoreApplication.exit(exit_status(signum))

    @staticmethod
    def _close_windows() -> None:
        """Close each visible window (a modal dialog first), each by its own close path."""
        if not isinstance(QCoreApplication.instance(), QApplication):
            return
        modal = QApplication.activeModalWidget()
        windows = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
        for widget in sorted(windows, key=lambda w: w is not modal):
            widget.close()

    def _force(self, signum: int) -> None:
        """Run the last-resort clean-ups and end the process with `signum`'s status."""
        for fn in self._last_resort:
            with contextlib.suppress(Exception):
                fn()
        os._exit(exit_status(signum))
