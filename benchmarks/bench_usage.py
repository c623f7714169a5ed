"""Usage chart performance: 365 days × 30 entries, each figure printed beside its goal.

- build and paint the chart from data already read (goal ≤ 80 ms);
- update after one new usage row, end to end: the watcher's check, the tab's re-read of
  yesterday and today, the in-place item updates, and a repaint (goal ≤ 25 ms);
- process RSS after 50 such updates (plus a full reconciling re-read every tenth) against
  before (goal: growth ≤ 10 MB; items are updated in place, never rebuilt).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_usage.py [--days N] [--entries N]
        [--runs N] [--updates N] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import Report, isolate_user_config
from PySide6.QtWidgets import QApplication

from inspector import workers
from inspector.database import Database
from inspector.formatting import entry_colors
from inspector.usage_chart import UsageChart
from inspector.usage_tab import UsageTab, read_usage
from shepherd_store import SqliteStore
from shepherd_store.usage import Bucket, DayRange, Preset


def rss_mb() -> float | None:
    """Resident set size of this process, in MB (Linux)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    """Milliseconds of `runs` calls of `fn`."""
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def record(report: Report, what: str, values: list[float] | float | None, goal: float | None,
           unit: str = "ms") -> None:
    """A figure: the median of `values` (the worst in the note), checked against `goal`."""
    if isinstance(values, list):
        value: float | None = statistics.median(values) if values else None
        note = f"median of {len(values)}, worst {max(values):.1f} {unit}" if values else ""
    else:
        value, note = values, ""
    if goal is None:
        report.info(what, value, unit, note=note)
    else:
        report.check(what, value, unit, at_most=goal, note=note)


def build_db(path: Path, days: int, entries: int, today: date) -> None:
    """Every entry used on every day (the most bars), as the daemon writes them."""
    rnd = random.Random(365)
    with SqliteStore.open(path) as store:
        for i in range(days):
            day = today - timedelta(days=days - 1 - i)
            for k in range(entries):
                store.add_usage(f"entry-{k:02d}", day, timedelta(seconds=rnd.randint(1, 5400)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--entries", type=int, default=30)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--updates", type=int, default=50)
    ap.add_argument("--quick", action="store_true",
                    help="a test-sized run: 365 days × 2 entries, 3 runs, 20 updates")
    args = ap.parse_args()
    if args.quick:
        args.days, args.entries, args.runs, args.updates = 365, 2, 3, 20
    isolate_user_config()
    report = Report("bench_usage")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    today = date.today()
    with tempfile.TemporaryDirectory(prefix="bench-usage-") as tmp:
        path = Path(tmp) / "usage.db"
        t0 = time.perf_counter()
        build_db(path, args.days, args.entries, today)
        print(f"{args.days} days × {args.entries} entries written in "
              f"{time.perf_counter() - t0:.1f} s; Python {sys.version.split()[0]}\n")

        with SqliteStore.open(path, read_only=True) as store:
            rng = DayRange.from_dates(today - timedelta(days=args.days - 1), today)
            reads = timed(lambda: read_usage(store, None, rng, today), args.runs)
            loaded = read_usage(store, None, rng, today)
        record(report, "read the range (worker thread in the app)", reads, None)
        bars = loaded.daily.bucketed(Bucket.DAY)
        colors = entry_colors(loaded.known)

        def build_and_paint() -> None:
            chart = UsageChart()
            chart.resize(760, 640)
            chart.show()
            chart.set_data(bars, loaded.daily.range, colors=colors, labels={}, quotas={},
                           hits={})
            chart.fit()
            chart.repaint()
            chart.close()
            chart.deleteLater()

        build_and_paint()  # warm-up: first use of fonts, pens and shaders
        app.processEvents()
        record(report, "build and paint the chart (day bars)", timed(build_and_paint, args.runs),
               80)
        app.processEvents()

        db = Database(poll_ms=3_600_000)
        tab = UsageTab(db, today=lambda: today)
        tab.resize(1280, 800)
        tab.show()
        tab.range_combo.blockSignals(True)
        tab.range_combo.setCurrentIndex(tab.range_combo.findData(Preset.YEAR))
        tab.range_combo.blockSignals(False)
        tab.bucket_combo.setCurrentIndex(tab.bucket_combo.findData(Bucket.DAY))
        db.open(path)
        t0 = time.perf_counter()
        tab.reload(wait=True)
        tab.repaint()
        record(report, "open the whole tab (read, chart, table, paint)",
             (time.perf_counter() - t0) * 1000, None)
        assert tab.daily is not None and tab.daily.range.days == args.days
        workers.wait_all()
        app.processEvents()

        writer = SqliteStore.open(path)
        rnd = random.Random(50)

        def one_update() -> None:
            db.check_now()  # what the watcher does after the service's commit
            tab.repaint()

        def write_row() -> None:
            writer.add_usage(f"entry-{rnd.randrange(args.entries):02d}", today,
                             timedelta(seconds=rnd.randint(1, 120)))

        update_ms = []
        for _ in range(10):  # warm-up of the update path
            write_row()
            one_update()
        app.processEvents()
        gc.collect()
        before = rss_mb()
        for i in range(args.updates):
            write_row()
            t0 = time.perf_counter()
            one_update()
            update_ms.append((time.perf_counter() - t0) * 1000)
            if i % 10 == 9:  # the reconciling full re-read the tab does after changes settle
                tab.reload(wait=True, keep_view=True)
            app.processEvents()
        gc.collect()
        after = rss_mb()
        shown = sum(tab.daily.get(e, today) for e in tab.daily.entries) if tab.daily else -1
        stored = sum(r.seconds for r in writer.usage_between(today, today))
        assert shown == stored, f"the chart shows {shown} s for today, the database {stored} s"
        record(report, "update after one new usage row (incl. repaint)", update_ms, 25)
        record(report, "full reconciling re-read (worker thread in app)",
             timed(lambda: tab.reload(wait=True, keep_view=True), 3), None)
        record(report, f"RSS growth over {args.updates} updates", None if before is None
               or after is None else after - before, 10, "MB")
        record(report, f"RSS after {args.updates} updates", after, None, "MB")
        writer.close()
        workers.wait_all()
        db.close()
        tab.close()
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
