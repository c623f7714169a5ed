"""Exporting the event log's matching events to CSV or JSON, off the GUI thread.

The rows are written by a child process (`shepherd_store.export_job`) into `<file>.part`,
renamed over the file when complete; a progress dialog counts them and can cancel, and
closing the window cancels too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog, QWidget

from shepherd_store import AuditFilter, SqliteStore
from shepherd_store.export import iter_events, write_csv, write_json
from shepherd_store.export_job import PROGRESS_ROWS, export_in_child
from shepherd_store.remote import RemoteStore

from . import workers


class _CancelOnClose(QObject):
    """Calls `cancel` when `window` closes: an export's child process must not outlive the
    window (quitting then waits for the pool, so for the child to be killed)."""

    def __init__(self, window: QWidget, cancel: Callable[[], None]) -> None:
        super().__init__(window)
        self._window = window
        self._cancel = cancel
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close:
            self._cancel()
        return False

    def release(self) -> None:
        """Stop watching (the export has ended)."""
        self._window.removeEventFilter(self)
        self.deleteLater()


def ask_export_path(parent: QWidget, fmt: str) -> Path | None:
    """The file to export to in `fmt` (`csv` or `json`), as the person chose it."""
    suffix = "csv" if fmt == "csv" else "json"
    path, _ = QFileDialog.getSaveFileName(
        parent, f"Export events as {fmt.upper()}", f"shepherd-audit.{suffix}",
        f"{fmt.upper()} files (*.{suffix});;All files (*)")
    return Path(path) if path else None


def export_events(parent: QWidget, store: SqliteStore | None, flt: AuditFilter, path: Path,
                  fmt: str, *, show_progress: bool,
                  exported: Callable[[int], None]) -> workers.TaskSignals:
    """Write every event of `store` matching `flt` to `path`, off the GUI thread.

    Returns the task's signals (`finished(count)` / `failed(message)`); `exported(count)`
    is called when the file is complete. A progress dialog over `parent` shows the count
    and can cancel (with `show_progress` off it never appears, nor does a failure's
    message), and closing `parent`'s window cancels too.
    """
    state = {"cancel": False}
    on_close = _CancelOnClose(parent.window(), lambda: state.update(cancel=True))
    dialog = QProgressDialog("Exporting events…", "Cancel", 0, 0, parent)
    dialog.setObjectName("auditExportProgress")
    dialog.setWindowTitle("Export")
    dialog.setMinimumDuration(400)
    dialog.canceled.connect(lambda: state.update(cancel=True))

    def run(report: Any) -> int:
        if store is None:
            raise OSError("no database is open")
        tmp = path.with_name(path.name + ".part")
        # In a process of its own: written here, the rows' Python work kept the GUI
        # thread waiting for the GIL (stalls of 100-140 ms in the soak).
        try:
            if isinstance(store, RemoteStore):
                n = export_remote(store, flt, fmt, tmp, report=lambda done: report(done, 0),
                                  cancelled=lambda: state["cancel"])
            else:
                n = export_in_child(store.path, flt, fmt, tmp,
                                    report=lambda done: report(done, 0),
                                    cancelled=lambda: state["cancel"])
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if n is None:
            tmp.unlink(missing_ok=True)
            return -1
        tmp.replace(path)
        return n

    def progress(n: int, _total: int) -> None:
        dialog.setLabelText(f"Exporting events… {n:,} written")

    def done(n: object) -> None:
        on_close.release()
        dialog.reset()
        dialog.deleteLater()
        if isinstance(n, int) and n >= 0:
            exported(n)

    def failed(message: str) -> None:
        on_close.release()
        dialog.reset()
        dialog.deleteLater()
        if show_progress:
            QMessageBox.warning(parent, "Export failed", message)

    if not show_progress:
        dialog.setMinimumDuration(10**9)
    return workers.start(run, done, failed, progress)


def export_remote(store: RemoteStore, flt: AuditFilter, fmt: str, out: Path, *,
                  report: Callable[[int], None], cancelled: Callable[[], bool]) -> int | None:
    """`export_in_child`'s job for a database on another computer: pages of events over
    the link, written here (in the worker; the link, not Python, is the slow part)."""
    def on_row(n: int) -> bool:
        if n % PROGRESS_ROWS == 0:
            report(n)
        return not cancelled()

    with out.open("w", encoding="utf-8", newline="") as handle:
        events = iter_events(store, flt, page=2000)  # type: ignore[arg-type]
        n = (write_csv(events, handle, on_row) if fmt == "csv"
             else write_json(events, handle, on_row=on_row))
    return None if cancelled() else n
