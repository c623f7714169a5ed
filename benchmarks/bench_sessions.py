"""The Sessions view on a large log: its first page, the next ones, a filter, a live refresh.

For each layout (seed: the `event_type` and session indexes; Rust: no index but the
timestamp's, a prefix test over id ranges) on `_gen`'s database of N events:

- first page (100 sessions, each with its end, warnings and extensions): <= 50 ms, median
  of runs (`SessionReader.page`, as the window's worker calls it);
- a page from the middle of the log (keyset `before_id`): <= 50 ms;
- the first page of a rare entry's sessions (the search reaches far back: in the Rust
  layout it reads 600,000 ids of a 1,000,000-event log): <= 500 ms, in short statements;
- the longest statement of all the above (the time it held the database's lock): <= 50 ms
  (DESIGN.md, "Short reads": a statement of ~10 ms, never the whole log);
- a live refresh after the service wrote one more session (start, two warnings, end) and
  the running one ended: <= 20 ms;
- three pages in a row = one page of 300 (keyset paging loses or repeats nothing): 0;
- the window: open → the Sessions view's first page painted, in a fresh process: <= 300 ms
  at N events, and at most 1.5 times the figure at 1,000 events (opening does not grow
  with the log). The page is read in a worker; the GUI thread only paints it.

    .venv/bin/python benchmarks/bench_sessions.py [--events N] [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _gen import CACHE, ensure_db  # noqa: E402
from _report import Report, isolate_user_config  # noqa: E402

from shepherd_store import (  # noqa: E402
    AuditEvent,
    Expired,
    SessionEnded,
    SessionStarted,
    SqliteStore,
    UserStop,
    WarningIssued,
)
from shepherd_store.sessions import SessionFilter, SessionReader  # noqa: E402

RARE_ENTRY = "krita"  # one of `_gen`'s rarest entries: its 100 newest span 60 % of the log


def timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - start) * 1000


def library(report: Report, layout: str, path: Path, runs: int, work: Path) -> None:
    big = f"{layout}, {int(path.stem.split('-')[1]):,} events"
    copy = work / f"{layout}.db"
    shutil.copyfile(path, copy)  # the live refresh appends: never to the cached file
    with SqliteStore.open(copy, read_only=True) as store:
        held: list[float] = []
        store.statement_observer = lambda _sql, _p, seconds: held.append(seconds * 1000)
        bounds = store.audit_id_range()
        assert bounds is not None
        newest = store.get_recent_audits(1)[0].timestamp
        now = newest + timedelta(minutes=1)
        first, page_ms = [], []
        for _ in range(runs):
            reader = SessionReader(store)  # (a new reader: it looks up the indexes again)
            first, ms = timed(lambda r=reader: r.page(limit=100, now=now))
            page_ms.append(ms)
        report.check(f"first page of sessions, {big}", statistics.median(page_ms), "ms",
                     at_most=50, note=f"median of {runs}, first {page_ms[0]:.1f} ms; "
                                      f"{len(first.sessions)} sessions")
        reader = SessionReader(store)
        middle = (bounds[0] + bounds[1]) // 2
        mid_ms = [timed(lambda: reader.page(before_id=middle, limit=100, now=now))[1]
                  for _ in range(runs)]
        report.check(f"a page from the middle of the log, {big}", statistics.median(mid_ms),
                     "ms", at_most=50, note=f"median of {runs}; keyset before_id={middle:,}")
        rare, rare_ms = timed(lambda: reader.page(SessionFilter(entry_id=RARE_ENTRY),
                                                  limit=100, now=now))
        report.check(f"first page of one rare entry's sessions, {big}", rare_ms, "ms",
                     at_most=500, note=f"{len(rare.sessions)} sessions of {RARE_ENTRY}, back to "
                                       f"row {rare.next_before_id or 0:,}")
        three: list[Any] = []
        before = None
        for _ in range(3):
            got = reader.page(before_id=before, limit=100, now=now)
            three.extend(got.sessions)
            before = got.next_before_id
        one = reader.page(limit=300, now=now).sessions
        report.check(f"three pages = one page of 300, {big}", int(three != one), "",
                     at_least=0, at_most=0, note="1 if keyset paging lost or repeated one")
        report.check(f"longest statement of these reads, {big}", max(held), "ms", at_most=50,
                     note=f"{len(held):,} statements, median "
                          f"{statistics.median(held):.2f} ms")
        store.statement_observer = None
        # Live: the service ends the running session (if any) and plays one more.
        unfinished = [s for s in first.sessions if not s.final]
        update_ms = []
        with SqliteStore.open(copy) as writer:
            top = bounds[1]
            clock = newest
            for i in range(max(runs, 3)):
                clock += timedelta(minutes=30)
                sid = f"99999999-9999-4999-8999-{i:012d}"
                deadline = clock + timedelta(minutes=30)
                for s in unfinished:  # (one session at a time: the running one ends first)
                    writer.append_audit(AuditEvent(0, clock, SessionEnded(
                        s.session_id, s.entry_id, UserStop(), timedelta(minutes=5))))
                for event in (SessionStarted(sid, "minecraft", "Minecraft", deadline),
                              WarningIssued(sid, 300), WarningIssued(sid, 60),
                              SessionEnded(sid, "minecraft", Expired(), timedelta(minutes=30))):
                    writer.append_audit(AuditEvent(0, clock, event))
                later = clock + timedelta(minutes=31)
                update, ms = timed(lambda t=top, u=unfinished, n=later: reader.refresh(
                    None, t, u, now=n))
                update_ms.append(ms)
                assert [s.session_id for s in update.new] == [sid], update
                assert all(s.status == "ended" for s in update.changed)
                top, unfinished = update.top_id, []
        report.check(f"live refresh after one more session, {big}",
                     statistics.median(update_ms), "ms", at_most=20,
                     note=f"median of {len(update_ms)}; its 4 rows and the end of the "
                          "running one")


def child(path: str) -> None:
    """In a fresh process: open the window on `path`, time the Sessions view's first paint
    with rows, print a JSON line."""
    from _window import FirstPaint, warm_up
    from PySide6.QtWidgets import QApplication

    from inspector import workers
    from inspector.app import open_window

    app = QApplication([])
    warm_up(app, Path(path).with_name("bench-warmup.db"))
    start = time.perf_counter()
    window = open_window(path)
    window.tabs.setCurrentWidget(window.audit)
    window.audit.show_sessions()  # the default; said here whatever a saved state says
    spy = FirstPaint(lambda: window.audit.sessions.rowCount() > 0)
    window.audit.sessions_table.viewport().installEventFilter(spy)
    window.resize(1280, 800)
    window.show()
    while spy.painted is None and time.perf_counter() - start < 10:
        app.processEvents()
        time.sleep(0.0005)
    out = {"first_paint_ms": None if spy.painted is None else (spy.painted - start) * 1000,
           "rows": window.audit.sessions.rowCount()}
    workers.wait_all()
    window.close()
    window.db.close()
    print(json.dumps(out), flush=True)


def run_child(path: Path) -> dict[str, Any] | None:
    warm = path.with_name("bench-warmup.db")
    if not warm.exists():
        warm.symlink_to(ensure_db("seed", 1000))
    proc = subprocess.run([sys.executable, __file__, "--child", str(path)],
                          capture_output=True, text=True, timeout=120)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        print(f"  !! child on {path.name} failed (status {proc.returncode}):\n"
              f"{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def window(report: Report, layout: str, small: Path, large: Path, runs: int) -> None:
    big = f"{layout}, {int(large.stem.split('-')[1]):,} events"

    def median(results: list[dict[str, Any] | None]) -> float | None:
        values = [r["first_paint_ms"] for r in results if r and r["first_paint_ms"] is not None]
        return statistics.median(values) if len(values) == len(results) else None

    fp_s = median([run_child(small) for _ in range(runs)])
    fp_l = median([run_child(large) for _ in range(runs)])
    report.check(f"window: first page of sessions painted, {big}", fp_l, "ms", at_most=300,
                 note=f"median of {runs} fresh processes")
    report.info(f"window: first page of sessions painted, {layout}, 1,000 events (baseline)",
                fp_s, "ms")
    report.check(f"window: sessions painted, {big} / 1,000 events",
                 None if fp_s is None or fp_l is None else fp_l / fp_s, "x", at_most=1.5,
                 note="opening does not grow with the log")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child")
    parser.add_argument("--quick", action="store_true",
                        help="a test-sized run: 20,000 events, one run each")
    args = parser.parse_args()
    isolate_user_config()
    if args.child:
        child(args.child)
        return 0
    if args.quick:
        args.events, args.runs = 20_000, 1
    load = os.getloadavg()
    print(f"sessions benchmark: SQLite {sqlite3.sqlite_version}, Python "
          f"{sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load[0]:.2f} {load[1]:.2f}")
    report = Report("bench_sessions")
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-sessions-", dir=CACHE))  # the same disk
    try:
        for layout in ("seed", "rust"):
            large = ensure_db(layout, args.events)
            print(f"\n== {layout} layout, {args.events:,} events "
                  f"({large.stat().st_size / 1e6:.0f} MB)", flush=True)
            library(report, layout, large, args.runs, work)
            window(report, layout, ensure_db(layout, 1000), large, max(1, args.runs // 2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
