"""`shepherd-store check` on a 1,000,000-event log: how long it takes, how long any one of
its statements holds the lock, and whether it finds exactly what SQLite's whole-file check
plus the same row rules find.

- the command itself, as a person runs it (a process of its own, read-only): <= 5 s;
- `check(store)` in this process, median of runs, with its longest statement (the store's
  `statement_observer`): <= 50 ms, since the service's commits wait for it in
  rollback-journal mode;
- the one-statement answer in the same run, `check(store, full=True)` (the chunked checks
  plus `PRAGMA integrity_check`, the lock held for the whole file), as the baseline: the
  default check must report the same row problems, the same count and a clean bill exactly
  when the whole-file check gives one; on the log as generated and on a copy with six rows
  made unreadable (early, middle and late events, usage, a cooldown), all six found.

    .venv/bin/python benchmarks/bench_check.py [--events N] [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from _gen import ensure_db  # noqa: E402
from _report import Report, isolate_user_config  # noqa: E402

from shepherd_store import SqliteStore  # noqa: E402
from shepherd_store.check import CheckReport, check  # noqa: E402

REPORT = Report("bench_check")


def findings(report: CheckReport) -> tuple[Any, ...]:
    """What a person is told: the row problems, their count and whether all is well."""
    return (report.problem_count, [vars(p) for p in report.problems], report.complete,
            report.problem_count == 0 and report.complete)


def timed_check(path: Path, **kwargs: Any) -> tuple[float, float, CheckReport]:
    """(seconds, longest statement in ms, report) of one `check` on a read-only store."""
    longest = [0.0]

    def observe(_sql: str, _params: Any, seconds: float) -> None:
        longest[0] = max(longest[0], seconds)

    with SqliteStore.open(path, read_only=True) as store:
        store.statement_observer = observe
        start = time.perf_counter()
        report = check(store, **kwargs)
        spent = time.perf_counter() - start
    return spent, longest[0] * 1000, report


def command_seconds(path: Path) -> tuple[float, int]:
    """Seconds and exit status of `shepherd-store check --db PATH` as a process."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "shepherd_store", "--db", str(path), "check"],
                          cwd=REPO, capture_output=True, text=True)
    spent = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # 1: problems found, a finished check all the same
        print(f"  !! check exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return spent, proc.returncode


def damaged_copy(path: Path, layout: str, tmp: Path) -> Path:
    """A copy of `path` with rows the daemon cannot read, spread over the log: what the two
    checks must both find (a clean log would only show that both find nothing)."""
    copy = tmp / f"damaged-{path.name}"
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn = sqlite3.connect(copy, isolation_level=None)
    source.backup(conn)  # the log's WAL too, where it has one
    source.close()
    (max_id,) = conn.execute("SELECT max(id) FROM audit_log").fetchone()
    bad = ['{"type":"session_started"}', '{"type":"no_such_event"}', "[]"]
    # 3 events + 2 usage rows + 1 cooldown = 6 rows the daemon cannot read
    for i, text in enumerate(bad):  # replaced in place: early, middle and late in the log
        event_id = max(1, max_id * (i + 1) // (len(bad) + 1))
        if layout == "rust":
            conn.execute("UPDATE audit_log SET event_json = ? WHERE id = ?", (text, event_id))
        else:
            conn.execute("UPDATE audit_log SET event_data = ? WHERE id = ?", (text, event_id))
    conn.execute("INSERT OR REPLACE INTO usage (entry_id, day, duration_secs) "
                 "VALUES ('tuxmath', '2026-02-30', 60), ('minecraft', '2026-03-01', -5)")
    conn.execute("INSERT OR REPLACE INTO cooldowns (entry_id, until) "
                 "VALUES ('gcompris', 'tomorrow')")
    conn.close()
    return copy


def compare(section: str, path: Path) -> CheckReport:
    """The default check against the whole-file one on `path`, in the same run."""
    _, _, default = timed_check(path)
    full_seconds, full_longest, full = timed_check(path, full=True)
    REPORT.info(f"check(full=True) baseline: whole-file integrity_check, {section}",
                full_seconds, "s", note=f"its longest statement {full_longest:.0f} ms "
                f"(the lock held for the whole file)")
    same = findings(default) == findings(full) and default.integrity_ok == full.integrity_ok
    REPORT.check(f"check finds what the whole-file check finds, {section}", int(not same), "",
                 at_most=0, note=f"{default.problem_count} row problems; integrity "
                 f"{'ok' if full.integrity_ok else 'NOT ok'}")
    return default


def bench_layout(layout: str, n_events: int, runs: int) -> None:
    path = ensure_db(layout, n_events)
    section = f"{layout}, {n_events:,} events"
    print(f"\n{section} ({path.stat().st_size / 1e6:.0f} MB)", flush=True)
    spent, status = command_seconds(path)
    REPORT.check(f"shepherd-store check, {section}", spent if status in (0, 1) else None, "s",
                 at_most=5.0, note=f"exit {status}")
    results = [timed_check(path) for _ in range(runs)]
    seconds = statistics.median(r[0] for r in results)
    REPORT.info(f"check(store), {section} (median of {runs})", seconds, "s")
    REPORT.check(f"check: longest statement, {section}", max(r[1] for r in results), "ms",
                 at_most=50.0)
    clean = compare(section, path)
    with tempfile.TemporaryDirectory(prefix="bench-check-", dir=path.parent) as tmp:
        damaged = damaged_copy(path, layout, Path(tmp))
        found = compare(f"{section}, 6 rows made unreadable", damaged)
    REPORT.check(f"unreadable rows found of the 6 made, {section}",
                 found.problem_count - clean.problem_count, "rows", at_least=6, at_most=6)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=2, help="runs of check(store) per layout")
    ap.add_argument("--quick", action="store_true", help="test-sized: 2,000 events, one run")
    args = ap.parse_args()
    if args.quick:
        args.events, args.runs = 2_000, 1
    isolate_user_config()
    for layout in ("seed", "rust"):
        bench_layout(layout, args.events, args.runs)
    return REPORT.finish()


if __name__ == "__main__":
    sys.exit(main())
