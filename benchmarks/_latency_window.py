"""The window's side of `bench_service_latency.py`: the real MainWindow, offscreen, in a process of
its own, running the heaviest reads a person can start (a search with no match, an export of
every event, three years of usage, the Recovery tab's full scan) while the parent measures the
service's writes. Each action reports how many times it ran and our longest statement.

    .venv/bin/python benchmarks/_latency_window.py PATH   # driven by bench_service_latency.py
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

WINDOW_ACTIONS = ("search, no match", "export, every event", "usage, three years",
                  "recovery scan")


def window_main(path: str) -> int:
    """Build the real window offscreen on `path`; run the actions the parent names on stdin
    (`<action> <seconds>`), answering `longest <JSON: the longest statement's first 80
    characters of SQL and its parameters>` then `done <iterations> <longest statement ms>
    <statements>`.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from _report import isolate_user_config

    isolate_user_config()
    from PySide6.QtCore import QEventLoop, QModelIndex
    from PySide6.QtWidgets import QApplication, QProgressDialog

    from inspector import workers
    from inspector.app import open_window
    from shepherd_store.usage import DayRange

    app = QApplication.instance() or QApplication([])
    window = open_window(path, read_only=True)
    window.resize(1280, 800)
    window.show()
    longest = [0.0, 0]
    which: list[Any] = ["", []]  # the longest statement: its SQL, its parameters
    lock = threading.Lock()

    def observe(sql: str, params: tuple[Any, ...], seconds: float) -> None:
        with lock:
            if seconds > longest[0]:
                longest[0] = seconds
                which[:] = [sql, params]
            longest[1] += 1

    def spin(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.002)

    def until(done: Callable[[], bool], deadline: float) -> bool:
        while time.monotonic() < deadline:
            if done():
                return True
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.002)
        return done()

    watched = [True]  # False: a store without `statement_observer` (code before it)

    def observed() -> None:
        store = window.db.store
        if store is None:
            return
        watched[0] = hasattr(store, "statement_observer")
        if watched[0] and store.statement_observer is not observe:
            store.statement_observer = observe

    spin(1.0)
    workers.wait_all(60_000)
    observed()
    audit, usage = window.audit, window.usage
    workdir = Path(tempfile.mkdtemp(prefix="service-latency-export-"))

    scans = [0]  # searches that read the whole log (the model's last progress is (1, 1))
    audit.model.progress.connect(
        lambda done, total: scans.__setitem__(0, scans[0] + (done == total == 1)))

    def search(deadline: float) -> int:
        window.tabs.setCurrentWidget(audit)
        audit.search.setText("nomatch")
        audit._apply_filter()
        first = scans[0]
        while time.monotonic() < deadline:
            before = scans[0]
            if not until(lambda b=before: scans[0] > b
                         and not audit.model.canFetchMore(QModelIndex()), deadline):
                break
            audit.model.reload()  # the same search again (a reload the lock turned away
            # is retried by the model itself: that is part of what is measured)
        n = scans[0] - first
        audit.clear_filters()
        return n

    def export(deadline: float) -> int:
        window.tabs.setCurrentWidget(audit)
        audit.clear_filters()
        n = 0
        while time.monotonic() < deadline:
            over = threading.Event()
            sig = audit.export(workdir / "all.csv", "csv", show_progress=False)
            sig.finished.connect(lambda _r, e=over: e.set())
            sig.failed.connect(lambda _m, e=over: e.set())
            if not until(over.is_set, deadline):
                for dialog in window.findChildren(QProgressDialog):
                    if dialog.objectName() == "auditExportProgress":
                        dialog.cancel()
                until(over.is_set, time.monotonic() + 30)
            n += 1
        return n

    def three_years(deadline: float) -> int:
        window.tabs.setCurrentWidget(usage)
        today = date.today()
        rng = DayRange.from_dates(today - timedelta(days=3 * 365), today)
        n = 0
        while time.monotonic() < deadline:
            usage.set_range(None, rng)
            until(lambda: not usage._loading, deadline)
            n += 1
        return n

    def recovery(deadline: float) -> int:
        from shepherd_store.recovery import RecoveryScanner

        window.tabs.setCurrentWidget(window.recovery)
        n = 0
        while time.monotonic() < deadline:
            store = window.db.store
            if store is None:
                break
            over = threading.Event()
            scanner = RecoveryScanner(store, window.db.policy)
            # The tab's own full scan (inspector/recovery_scan.py), in the worker pool.
            workers.start(lambda _r, s=scanner: s.scan(
                lambda _d, _t: time.monotonic() < deadline, lambda: False),
                lambda _r, e=over: e.set(), lambda _m, e=over: e.set())
            until(over.is_set, deadline + 30)
            n += 1
        return n

    actions: dict[str, Callable[[float], int]] = {
        WINDOW_ACTIONS[0]: search, WINDOW_ACTIONS[1]: export, WINDOW_ACTIONS[2]: three_years,
        WINDOW_ACTIONS[3]: recovery}
    print("ready", flush=True)
    for line in sys.stdin:
        name, _, seconds = line.strip().rpartition(" ")
        if not name:
            break
        observed()
        with lock:
            longest[0], longest[1] = 0.0, 0
            which[:] = ["", []]
        n = actions[name](time.monotonic() + float(seconds))
        workers.wait_all(60_000)
        with lock:
            ms = f"{longest[0] * 1000:.3f}" if watched[0] else "nan"
            print(f"longest {statement_text(*which)}", flush=True)
            print(f"done {n} {ms} {longest[1]}", flush=True)
    window.close()
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def statement_text(sql: str, params: Any) -> str:
    """A statement as one line of JSON: the first 80 characters of its SQL (whitespace
    runs as one space) and its parameters (long texts cut)."""
    def shown(value: Any) -> Any:
        value = repr(value) if isinstance(value, bytes) else value
        return value[:40] + "..." if isinstance(value, str) and len(value) > 40 else value

    return json.dumps([" ".join(sql.split())[:80], [shown(p) for p in params]])


class WindowChild:
    """The window's process, driven one action at a time over its stdin."""

    def __init__(self, path: Path) -> None:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)
        self._expect("ready")

    def _expect(self, word: str) -> list[str]:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(word):
                return line.split()[1:]
        raise RuntimeError(f"the window process ended (status {self.proc.wait()})")

    def run(self, action: str, seconds: float) -> tuple[int, float, int, str]:
        """(iterations, longest statement ms, statements, the longest one as JSON)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{action} {seconds}\n")
        self.proc.stdin.flush()
        which = " ".join(self._expect("longest"))
        n, ms, count = self._expect("done")
        return int(n), float(ms), int(count), which

    def close(self) -> None:
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    sys.exit(window_main(sys.argv[1]))
