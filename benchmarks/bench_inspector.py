"""The audit view on a large log: open, memory, scroll and filters (issue "the window").

Each measurement runs in a fresh child process per database so memory and caches of one do
not flatter another. Goals are printed beside each figure:
- open_window → first page painted: <= 100 ms at 1,000,000 events, and the ratio to the
  1,000-event figure <= 1.5 (opening does not grow with the log). "Painted" is the end of
  the first Paint event the table's viewport really receives once the model has rows; the
  audit tab is made current and the window's settings are private to the run (a saved
  Usage tab used to hide the table, so the paint never came and the figure was nan);
- process RSS at 1,000,000 events <= 150 MB and within 30 MB of the 1,000-event figure;
- the window process's peak memory after a working session (every tab shown and loaded, a
  search over the whole log, both ends, an export of every event) <= 150 MB;
- scroll to the end <= 50 ms;
- each filter to its first page: indexed (seed layout) <= 20 ms; scans (Rust layout)
  <= 1 s, and never on the GUI thread (the longest GUI-thread stall is printed).

    .venv/bin/python benchmarks/bench_inspector.py [--events N] [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _report import Report, isolate_user_config  # noqa: E402

FILTERS = ("type session_ended", "entry minecraft", "two types", "text 'QuotaExhausted'")


def rss_mb() -> float | None:
    """Resident set size of this (child) process in MB; None where /proc has none."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def peak_rss_mb() -> float | None:
    """This process's peak resident set in MB (VmHWM: per address space, so a parent's peak
    does not carry over through exec as getrusage's does); None where /proc has none."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def working_session(app: Any, window: Any) -> float | None:
    """What a person does in a sitting: every tab shown and loaded (the Recovery tab's full
    scan included), a search with no match over the whole log, both ends of the log, and an
    export of every event; then the window process's peak memory (None: it did not finish)."""
    import tempfile
    import threading

    from PySide6.QtCore import QModelIndex

    from inspector import workers

    def until(done: Callable[[], bool], seconds: float = 600) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if done():
                return True
            app.processEvents()
            time.sleep(0.002)
        return done()

    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        app.processEvents()
        workers.wait_all(600_000)
        app.processEvents()
    tab = window.audit
    window.tabs.setCurrentWidget(tab)
    tab.clear_filters()
    tab.search.setText("zz-no-such-text-zz")
    tab._apply_filter()
    if not until(lambda: not tab.model.loading and not tab.model.canFetchMore(QModelIndex())):
        return None
    tab.clear_filters()
    app.processEvents()
    tab.table.scrollToBottom()
    app.processEvents()
    tab.table.scrollToTop()
    app.processEvents()
    over = threading.Event()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        job = tab.export(Path(tmp) / "all.csv", "csv", show_progress=False)
        job.finished.connect(lambda _r: over.set())
        job.failed.connect(lambda _m: over.set())
        if not until(over.is_set):
            return None
    workers.wait_all(600_000)
    return peak_rss_mb()


def child(path: str) -> None:
    """Measure one database in this process and print a JSON line."""
    from _window import FirstPaint, warm_up
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from inspector import workers
    from inspector.app import open_window

    app = QApplication([])
    warm_up(app, Path(path).with_name("bench-warmup.db"))
    start = time.perf_counter()
    window = open_window(path)
    # The page measured is the audit log's, whatever tab was current when a window closed.
    window.tabs.setCurrentWidget(window.audit)
    window.audit.show_events()  # the event log (Sessions, the default: bench_sessions.py)
    spy = FirstPaint(lambda: window.audit.model.rowCount() > 0)
    window.audit.table.viewport().installEventFilter(spy)
    window.resize(1280, 800)
    window.show()
    while spy.painted is None and time.perf_counter() - start < 10:
        app.processEvents()
    first_paint = None if spy.painted is None else (spy.painted - start) * 1000  # None: never
    out: dict[str, object] = {"first_paint_ms": first_paint, "rows": window.audit.model.rowCount()}
    workers.wait_all()  # the other tabs' start-up reads, before timing anything else
    for _ in range(3):
        app.processEvents()
    out["rss_mb"] = rss_mb()
    table = window.audit.table
    start = time.perf_counter()
    table.scrollToBottom()
    table.viewport().repaint()
    out["scroll_end_ms"] = (time.perf_counter() - start) * 1000
    table.scrollToTop()
    app.processEvents()

    # A heartbeat measures the longest stall of the GUI thread while filters run.
    beat = QElapsedTimer()
    beat.start()
    stall = {"max": 0.0}

    def tick() -> None:
        stall["max"] = max(stall["max"], beat.restart() - 5)

    heartbeat = QTimer()
    heartbeat.setInterval(5)
    heartbeat.timeout.connect(tick)

    tab, model = window.audit, window.audit.model
    filters = {}
    appliers: dict[str, Callable[[], object]] = {
        "type session_ended": lambda: tab.type_actions["session_ended"].setChecked(True),
        "entry minecraft": lambda: tab.entry_combo.setCurrentIndex(
            max(tab.entry_combo.findData("minecraft"), 0)),
        "two types": lambda: (tab.type_actions["warning_issued"].setChecked(True),
                              tab.type_actions["launch_denied"].setChecked(True)),
        "text 'QuotaExhausted'": lambda: (tab.search.setText("QuotaExhausted"),
                                          tab._apply_filter()),
    }
    for name in FILTERS:
        apply = appliers[name]
        tab.clear_filters()
        app.processEvents()
        heartbeat.start()
        beat.restart()
        stall["max"] = 0.0
        start = time.perf_counter()
        apply()
        while model.loading or (model.rowCount() == 0 and model.canFetchMore(
                table.rootIndex())):
            app.processEvents()
            time.sleep(0.0005)
        table.viewport().repaint()
        elapsed = (time.perf_counter() - start) * 1000
        app.processEvents()
        heartbeat.stop()
        filters[name] = {"ms": elapsed, "rows": model.rowCount(), "stall_ms": stall["max"]}
    out["filters"] = filters
    out["peak_rss_mb"] = working_session(app, window)
    window.close()
    window.db.close()
    print(json.dumps(out))


def run_child(path: Path) -> dict[str, Any] | None:
    """The figures of one fresh child process on `path` (None: it failed, said on stderr)."""
    from _gen import ensure_db

    warm = path.with_name("bench-warmup.db")
    if not warm.exists():
        warm.symlink_to(ensure_db("seed", 1000))
    proc = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True,
                          text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        print(f"  !! child on {path.name} failed (status {proc.returncode}):\n"
              f"{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def med(results: list[dict[str, Any] | None], key: Callable[[dict[str, Any]], Any]
        ) -> float | None:
    """Median over the runs of `key(result)`; None if any run failed or measured nothing."""
    values = [None if r is None else key(r) for r in results]
    if not values or any(v is None for v in values):
        return None
    return statistics.median(float(v) for v in values if v is not None)


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def main() -> int:
    from _gen import ensure_db

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--child")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="a test-sized run: 2,000 events, one process each")
    args = parser.parse_args()
    isolate_user_config()
    if args.child:
        child(args.child)
        return 0
    if args.quick:
        args.events, args.runs = 2_000, 1
    report = Report("bench_inspector")
    for layout in ("seed", "rust"):
        small, large = ensure_db(layout, 1000), ensure_db(layout, args.events)
        res_small = [run_child(small) for _ in range(args.runs)]
        res_large = [run_child(large) for _ in range(args.runs)]
        print(f"\n== {layout} layout: {args.events:,} vs 1,000 events "
              f"(median of {args.runs} fresh processes)", flush=True)
        big = f"{layout}, {args.events:,} events"
        fp_s = med(res_small, lambda r: r["first_paint_ms"])
        fp_l = med(res_large, lambda r: r["first_paint_ms"])
        report.check(f"first page painted, {big}", fp_l, "ms", at_most=100)
        report.info(f"first page painted, {layout}, 1,000 events (baseline)", fp_s, "ms")
        report.check(f"first page painted, {big} / 1,000 events", ratio(fp_l, fp_s), "x",
                     at_most=1.5, note="opening does not grow with the log")
        rss_s, rss_l = med(res_small, lambda r: r["rss_mb"]), med(res_large, lambda r: r["rss_mb"])
        report.check(f"RSS of the window process, {big}", rss_l, "MB", at_most=150)
        report.check(f"RSS, {big} minus 1,000 events", None if rss_l is None or rss_s is None
                     else rss_l - rss_s, "MB", at_most=30,
                     note=f"1,000 events: {rss_s or float('nan'):.1f} MB")
        report.check(f"peak RSS of the window after a working session, {big}",
                     med(res_large, lambda r: r["peak_rss_mb"]), "MB", at_most=150,
                     note="every tab, a search over the whole log, both ends, an export")
        report.check(f"scroll to the end, {big}", med(res_large, lambda r: r["scroll_end_ms"]),
                     "ms", at_most=50)
        for name in FILTERS:
            indexed = layout == "seed" and not name.startswith("text")
            limit = 20 if indexed else 1000
            runs = [None if r is None else r["filters"].get(name) for r in res_large]
            rows = next((r["rows"] for r in runs if r is not None), "?")
            report.check(f"filter {name} to first page, {big}",
                         med(runs, lambda r: r["ms"]), "ms", at_most=limit,
                         note=f"{'indexed' if indexed else 'scan'}, {rows} rows")
            stalls = [None if r is None else r["stall_ms"] for r in runs]
            report.info(f"filter {name}: longest GUI-thread stall, {big}",
                        None if None in stalls else max(s for s in stalls if s is not None), "ms")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
