"""The audit view on a large log: open, memory, scroll and filters (issue "the window").

Each measurement runs in a fresh child process per database so memory and caches of one do
not flatter another. Goals are printed beside each figure:
- open_window → first page painted: <= 100 ms at 1,000,000 events, and the ratio to the
  1,000-event figure <= 1.5 (opening does not grow with the log);
- process RSS at 1,000,000 events <= 150 MB and within 30 MB of the 1,000-event figure;
- scroll to the end <= 50 ms;
- each filter to its first page: indexed (seed layout) <= 20 ms; scans (Rust layout)
  <= 1 s, and never on the GUI thread (the longest GUI-thread stall is printed).

    .venv/bin/python benchmarks/bench_inspector.py [--events N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(path: str) -> None:
    """Measure one database in this process and print a JSON line."""
    from PySide6.QtCore import QElapsedTimer, QEvent, QObject, QTimer
    from PySide6.QtGui import QPaintEvent
    from PySide6.QtWidgets import QApplication

    from inspector import workers
    from inspector.app import open_window

    app = QApplication([])
    # Qt's first-window costs (fonts, styles, plugins) are paid once per process whatever
    # the log's size: pay them on a tiny database first, then measure the real one.
    warm = open_window(str(Path(path).with_name("bench-warmup.db")))
    warm.show()
    app.processEvents()
    warm.close()
    warm.db.close()
    painted: dict[str, float] = {}

    class FirstPaint(QObject):
        """Notes when the table's viewport has finished its first paint with rows in it."""

        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and window.audit.model.rowCount():
                obj.removeEventFilter(self)
                QApplication.sendEvent(obj, QPaintEvent(obj.rect()))  # paint now, then time it
                painted["t"] = time.perf_counter()
                return True
            return False

    start = time.perf_counter()
    window = open_window(path)
    spy = FirstPaint()
    window.audit.table.viewport().installEventFilter(spy)
    window.resize(1280, 800)
    window.show()
    while "t" not in painted and time.perf_counter() - start < 10:
        app.processEvents()
    first_paint = (painted.get("t", float("nan")) - start) * 1000
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
    for name, apply in (
        ("type session_ended", lambda: tab.type_actions["session_ended"].setChecked(True)),
        ("entry minecraft", lambda: tab.entry_combo.setCurrentIndex(
            max(tab.entry_combo.findData("minecraft"), 0))),
        ("two types", lambda: (tab.type_actions["warning_issued"].setChecked(True),
                               tab.type_actions["launch_denied"].setChecked(True))),
        ("text 'QuotaExhausted'", lambda: (tab.search.setText("QuotaExhausted"),
                                           tab._apply_filter())),
    ):
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
    window.close()
    window.db.close()
    print(json.dumps(out))


def run_child(path: Path) -> dict[str, object]:
    from _gen import ensure_db

    warm = path.with_name("bench-warmup.db")
    if not warm.exists():
        warm.symlink_to(ensure_db("seed", 1000))
    proc = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True,
                          text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    from _gen import ensure_db

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--child")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    for layout in ("seed", "rust"):
        small, large = ensure_db(layout, 1000), ensure_db(layout, args.events)
        res_small = [run_child(small) for _ in range(args.runs)]
        res_large = [run_child(large) for _ in range(args.runs)]

        def med(res: list[dict[str, object]], key: str) -> float:
            return statistics.median(float(r[key]) for r in res)  # type: ignore[arg-type]

        fp_s, fp_l = med(res_small, "first_paint_ms"), med(res_large, "first_paint_ms")
        rss_s, rss_l = med(res_small, "rss_mb"), med(res_large, "rss_mb")
        scroll = med(res_large, "scroll_end_ms")
        ok = lambda cond: "ok" if cond else "MISSED"  # noqa: E731
        print(f"\n== {layout} layout: {args.events:,} vs 1,000 events "
              f"(median of {args.runs} fresh processes)")
        print(f"first page painted   {fp_l:8.1f} ms  (1,000 events: {fp_s:.1f} ms, ratio "
              f"{fp_l / fp_s:.2f})   goal <= 100 ms, ratio <= 1.5   "
              f"{ok(fp_l <= 100 and fp_l / fp_s <= 1.5)}")
        print(f"RSS                  {rss_l:8.1f} MB  (1,000 events: {rss_s:.1f} MB, +"
              f"{rss_l - rss_s:.1f})          goal <= 150 MB, +30 MB   "
              f"{ok(rss_l <= 150 and rss_l - rss_s <= 30)}")
        print(f"scroll to the end    {scroll:8.1f} ms                                "
              f"goal <= 50 ms   {ok(scroll <= 50)}")
        goal = 20 if layout == "seed" else 1000
        for name in res_large[0]["filters"]:  # type: ignore[attr-defined]
            runs = [r["filters"][name] for r in res_large]  # type: ignore[index]
            ms = statistics.median(r["ms"] for r in runs)
            stall = max(r["stall_ms"] for r in runs)
            indexed = layout == "seed" and not name.startswith("text")
            limit = 20 if indexed else 1000
            print(f"filter {name:<22}{ms:8.1f} ms to first page, {runs[0]['rows']} rows, "
                  f"GUI stall max {stall:.0f} ms   goal <= {limit} ms   {ok(ms <= limit)}")
        del goal


if __name__ == "__main__":
    main()
