"""What the window benchmarks share: Qt's first-window costs paid before measuring, and the
end of a table's first real paint.

Imported in the benchmarks' child processes only (it imports Qt and the window).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

from inspector import workers
from inspector.app import open_window


def warm_up(app: QApplication, path: str | Path) -> None:
    """Open, show and close a window on the small database `path`: Qt's first-window costs
    (fonts, styles, plugins) are paid once per process whatever the log's size, so they are
    paid here, not in what a benchmark measures next. Its background reads end first."""
    warm = open_window(str(path))
    warm.show()
    app.processEvents()
    workers.wait_all()
    warm.close()
    warm.db.close()


class FirstPaint(QObject):
    """Installed on a table's viewport: the moment (`time.perf_counter`) its first paint
    with rows (`ready()` true) ended, in `painted` (None until then)."""

    def __init__(self, ready: Callable[[], bool]) -> None:
        super().__init__()
        self.ready = ready
        self.painted: float | None = None

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self.ready():
            obj.removeEventFilter(self)
            QApplication.sendEvent(obj, event)  # deliver this very paint now, to time its end
            self.painted = time.perf_counter()
            return True  # (delivered above)
        return False
