"""The window beside a live service: how fast a committed event shows up (goal: p95 <= 25
ms), and that the service's lock and the window's own background work never hold up the GUI
thread.

Commit to visible: a separate writer process appends events at random intervals and prints
the wall-clock time right after each commit returns; the window (offscreen, its event loop
running) notes when each id is inserted into the table model. Run for a WAL (seed) and a
rollback-journal (Rust) database.

Under the service's lock (each figure pins a defect the soak found; tests/test_soak.py checks
the same scenes for correctness only, since timing goals flake on a shared machine): the
GUI thread's longest stall while an edit waits for the lock; the time the window's own reads
spend on the GUI thread while a writer holds it; how often a flood of commits refreshes the
views; the repaint while an export runs; how long an edit and a worker's read wait for the
lock of a service writing flat out.

    .venv/bin/python benchmarks/bench_live.py [--events N] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _gen import ensure_db
from _report import Report, isolate_user_config
from PySide6.QtCore import QEventLoop, QModelIndex, QTimer
from PySide6.QtWidgets import QApplication
from soak import Heartbeat, run_events, wait_until

from inspector import workers
from inspector.app import open_window
from inspector.audit_model import COL_SUMMARY
from inspector.main_window import MainWindow
from shepherd_store import AuditEvent, LockedError, PolicyLoaded, ServiceStarted, SqliteStore
from shepherd_store.simulate import create_rust_database

WRITER = r"""
import random, sys, time, uuid
from shepherd_store import AuditEvent, SessionStarted, SqliteStore
path, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(3)
with SqliteStore.open(path) as store:
    time.sleep(0.5)
    for i in range(n):
        ev = AuditEvent.new(SessionStarted(str(uuid.uuid4()), "bench", "Bench", None))
        store.append_audit(ev)
        print(ev.id, time.time(), flush=True)
        time.sleep(rng.uniform(0.01, 0.09))
"""


def measure(path: Path, n: int) -> list[float]:
    """Milliseconds from each of `n` commits of a writer process to its row in the table."""
    window = open_window(path)
    window.show()
    model = window.audit.model
    seen: dict[int, float] = {}

    def on_rows(_parent: QModelIndex, first: int, last: int) -> None:
        now = time.time()
        for row in range(first, last + 1):
            event = model.event_at(row)
            if event is not None:
                seen.setdefault(event.id, now)

    model.rowsInserted.connect(on_rows)
    repo = Path(__file__).resolve().parent.parent
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(n)], cwd=repo,
                              stdout=subprocess.PIPE, text=True)
    # A loop of its own, not app.exec() and app.quit(): after those, the nested loop of the
    # next scene's edit (waiting for its worker) returned at once, again and again, forever.
    loop = QEventLoop()
    done = QTimer()
    done.setInterval(50)
    done.timeout.connect(lambda: writer.poll() is not None and len(seen) >= n and loop.quit())
    give_up = QTimer()
    give_up.setSingleShot(True)
    give_up.timeout.connect(loop.quit)
    done.start()
    give_up.start(60_000)
    loop.exec()
    done.stop()
    give_up.stop()
    out, _ = writer.communicate(timeout=30)
    committed = {int(a): float(b) for a, b in (line.split() for line in out.splitlines())}
    window.close()
    window.db.close()
    return [(seen[i] - t) * 1000 for i, t in committed.items() if i in seen]


def percentile(sorted_ms: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank below) of sorted values; None when there are none."""
    return sorted_ms[int(q * (len(sorted_ms) - 1))] if sorted_ms else None


# --- under the service's lock ----------------------------------------------------------------

#: A service writing flat out (argv: path, seconds, statement that takes the lock): it holds
#: the lock 20 ms at a time, with 1 ms gaps; prints "ready" once connected.
HOGGER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=5)
print("ready", flush=True)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:  # a service writing flat out: the lock, with short gaps
    conn.execute(sys.argv[3] if len(sys.argv) > 3 else "BEGIN IMMEDIATE")
    time.sleep(0.02)
    conn.execute("COMMIT")
    time.sleep(0.001)
"""
EDIT_ENTRY = "bench-edit"
#: Events in the lock scenes' database (the rows a window has read before the lock).
LOCK_EVENTS = 23


def hold_write_lock(path: Path, seconds: float) -> threading.Thread:
    """Another connection holds the write lock for `seconds`, as a busy service does."""
    ready = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        ready.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    ready.wait(5)
    return thread


def start_hogger(path: Path, statement: str = "BEGIN IMMEDIATE") -> subprocess.Popen[str]:
    """`HOGGER` for up to 20 s, connected (the caller kills it when done)."""
    hogger = subprocess.Popen([sys.executable, "-c", HOGGER, str(path), "20", statement],
                              stdout=subprocess.PIPE, text=True)
    assert hogger.stdout is not None and hogger.stdout.readline().strip() == "ready"
    return hogger


def lock_scene_db(path: Path) -> Path:
    """A Rust-layout database as shepherdd ships it: some events, a cooldown to edit."""
    create_rust_database(path, "delete")
    with SqliteStore.open(path) as store:
        for i in range(LOCK_EVENTS):
            store.append_audit(AuditEvent.new(PolicyLoaded(i)))
        store.set_cooldown_until(EDIT_ENTRY, datetime(2030, 1, 1, tzinfo=UTC))
    return path


def done_with(window: MainWindow) -> None:
    window.close()
    workers.wait_all(30_000)
    window.db.close()
    window.deleteLater()


def edit_stall_ms(app: QApplication, path: Path) -> float | None:
    """The GUI thread's longest stall while a cooldown edit waits 0.6 s for the lock."""
    window = open_window(path)
    tab = window.cooldowns
    wait_until(app, lambda: tab.model.row_of(EDIT_ENTRY) is not None, 10)
    tab.confirm = lambda _text: True  # type: ignore[method-assign]
    tab.select_entries([EDIT_ENTRY])
    beat = Heartbeat()
    beat.start()
    run_events(app, 0.03)
    holder = hold_write_lock(path, 0.6)
    try:
        tab.extend_selected(timedelta(minutes=5))
        run_events(app, 0.03)  # the next tick measures how long the GUI thread was away
    finally:
        holder.join()
        beat.stop()
    done_with(window)
    with SqliteStore.open(path, read_only=True) as store:
        written = [o.change.entry_id for o in store.list_overrides()] == [EDIT_ENTRY]
    return beat.max_gap_ms if written else None


def reads_under_lock_ms(app: QApplication, path: Path) -> float | None:
    """Time on the GUI thread of the window's own reads (change token, a reload, 20 rows)
    while a writer holds the lock for 0.8 s: they must give up at once and try again."""
    window = open_window(path, read_only=True)
    window.show()
    model = window.audit.model
    wait_until(app, lambda: model.rowCount() == LOCK_EVENTS, 10)
    with SqliteStore.open(path) as store:
        for i in range(5):
            store.append_audit(AuditEvent.new(PolicyLoaded(i)))
    holder = hold_write_lock(path, 0.8)
    try:
        started = time.perf_counter()
        window.db.check_now()
        model.reload()
        model._blocks.clear()  # the rows must be read again, under the lock
        for row in range(20):
            model.index(row, COL_SUMMARY).data()
        elapsed = (time.perf_counter() - started) * 1000
    finally:
        holder.join()
    caught_up = wait_until(app, lambda: model.rowCount() == LOCK_EVENTS + 5, 5)
    done_with(window)
    return elapsed if caught_up else None


def flood_refreshes(app: QApplication, path: Path) -> tuple[int, float | None, int]:
    """(refreshes, shortest gap between two in ms, commits) while another connection
    commits flat out for 1.5 s and a view's refresh costs 20 ms."""
    SqliteStore.open(path).close()
    window = open_window(path, read_only=True)
    changes: list[float] = []

    def slow_view() -> None:
        changes.append(time.perf_counter())
        time.sleep(0.02)

    window.db.changed.connect(slow_view)
    stop = threading.Event()
    written: list[int] = []

    def flood() -> None:
        with SqliteStore.open(path) as store:
            while not stop.is_set():
                event = AuditEvent.new(PolicyLoaded(len(written)))
                store.append_audit(event)
                written.append(event.id)

    writer = threading.Thread(target=flood)
    writer.start()
    try:
        run_events(app, 1.5)
    finally:
        stop.set()
        writer.join()
    caught_up = wait_until(app, lambda: window.audit.model.rowCount() == len(written), 5)
    done_with(window)
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(changes)]
    return len(changes), (min(gaps) if gaps and caught_up else None), len(written)


def median_paint_ms(app: QApplication, window: MainWindow, times: int = 9) -> float:
    """How long the event loop takes to repaint the window (as it does on its own)."""
    spent = []
    for _ in range(times):
        window.update()
        window.audit.table.viewport().update()
        started = time.perf_counter()
        app.processEvents()
        spent.append((time.perf_counter() - started) * 1000)
    return sorted(spent)[times // 2]


def paint_during_export_ms(app: QApplication, path: Path, out: Path
                           ) -> tuple[float, float | None]:
    """(idle, during a JSON export of the whole log) median repaint of the event log."""
    window = open_window(path, read_only=True)
    window.tabs.setCurrentWidget(window.audit)
    window.audit.show_events()
    window.resize(1280, 800)
    window.show()
    model = window.audit.model
    wait_until(app, lambda: model.rowCount() > 0 and not model.loading, 10)
    run_events(app, 0.1)
    idle = median_paint_ms(app, window)
    sig = window.audit.export(out, "json", show_progress=False)
    finished: list[object] = []
    sig.finished.connect(finished.append)
    run_events(app, 0.1)  # the export is under way
    busy = median_paint_ms(app, window)
    during = not finished  # else the paints measured nothing of the export
    wait_until(app, lambda: bool(finished), 60)
    done_with(window)
    return idle, (busy if during and finished else None)


def edit_lock_waits_s(path: Path) -> list[float]:
    """How long each of 10 edits (each in a new store, as the CLI makes them) waited for
    the write lock of a service writing flat out (rollback journal: short gaps only)."""
    waits = []
    hogger = start_hogger(path)
    try:
        for i in range(10):
            started = time.monotonic()
            with SqliteStore.open(path) as store:
                store.set_cooldown_until(EDIT_ENTRY, datetime(2031, 1, 1, tzinfo=UTC)
                                         + timedelta(minutes=i))
            waits.append(time.monotonic() - started)
    finally:
        hogger.kill()
        hogger.wait()
    return waits


def worker_read_waits_s(path: Path) -> list[float | None]:
    """How long each of 10 reads in a worker thread (the window's 0.75 s busy timeout)
    waited for a service writing flat out, with exclusive locks; None: gave up "locked"."""
    store = SqliteStore.open(path, read_only=True, busy_timeout=0.75)
    waits: list[float | None] = []

    def worker() -> None:
        for _ in range(10):
            started = time.monotonic()
            try:
                store.usage_between()
                waits.append(time.monotonic() - started)
            except LockedError:
                waits.append(None)

    hogger = start_hogger(path, "BEGIN EXCLUSIVE")
    try:
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    finally:
        hogger.kill()
        hogger.wait()
        store.close()
    return waits


def under_the_lock(app: QApplication, report: Report, tmp: Path) -> None:
    """The figures of the scenes under the service's lock."""
    print("the window under the service's lock (defects the soak found)")
    report.check("edit waiting 0.6 s for the lock: longest GUI stall",
                 edit_stall_ms(app, lock_scene_db(tmp / "edit.db")), "ms", at_most=100)
    report.check("window's reads while a writer holds the lock: time on the GUI thread",
                 reads_under_lock_ms(app, lock_scene_db(tmp / "reads.db")), "ms", at_most=15,
                 note="they give up at once and try again")
    refreshes, shortest, commits = flood_refreshes(app, tmp / "flood.db")
    report.check("commit flood, 1.5 s: commits written", commits, "commits", at_least=100,
                 note="fewer prove nothing about the refreshes")
    report.check("commit flood, 1.5 s: views refreshed", refreshes, "times", at_most=25)
    report.check("commit flood: shortest time between two refreshes", shortest, "ms",
                 at_least=75)
    idle, busy = paint_during_export_ms(app, ensure_db("seed", 30_000), tmp / "export.json")
    report.info("event log repaint, idle (median of 9)", idle, "ms")
    report.check("event log repaint during a JSON export (median of 9)", busy, "ms",
                 at_most=4 * idle + 10, note="4 × idle + 10 ms")
    waits = edit_lock_waits_s(lock_scene_db(tmp / "hogged.db"))
    report.check("edit's wait for the lock of a service writing flat out, max of 10",
                 max(waits), "s", at_most=0.25)
    reads = worker_read_waits_s(lock_scene_db(tmp / "hogged-read.db"))
    report.check("worker read's wait while a service writes flat out, max of 10",
                 None if None in reads else max(r for r in reads if r is not None), "s",
                 at_most=0.25, note="not measured if a read gave up (locked)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=150)
    parser.add_argument("--quick", action="store_true", help="a test-sized run: 20 events")
    args = parser.parse_args()
    if args.quick:
        args.events = 20
    isolate_user_config()
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    report = Report("bench_live")
    print(f"commit → visible in the table, {args.events} events per mode (goal p95 <= 25 ms)")
    with tempfile.TemporaryDirectory() as tmp:
        wal = Path(tmp) / "wal.db"
        SqliteStore.open(wal).close()
        rollback = Path(tmp) / "rollback.db"
        create_rust_database(rollback, "delete")
        for name, path in (("WAL (seed layout)", wal), ("rollback journal (Rust)", rollback)):
            with SqliteStore.open(path) as store:  # not empty: every new event is an insert
                store.append_audit(AuditEvent.new(ServiceStarted()))
            lat = sorted(measure(path, args.events))
            report.check(f"{name}: committed events seen in the table", len(lat), "events",
                         at_least=args.events)
            report.info(f"{name}: commit to visible, p50", percentile(lat, 0.5), "ms")
            report.check(f"{name}: commit to visible, p95", percentile(lat, 0.95), "ms",
                         at_most=25)
            report.info(f"{name}: commit to visible, max", lat[-1] if lat else None, "ms")
        under_the_lock(app, report, Path(tmp))
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
