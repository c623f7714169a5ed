"""`shepherd-store audit --json` streams: time to the first line and peak memory of the whole
export, on 10,000- and 1,000,000-event databases in both layouts, each beside its goal; and
the table's first row (`audit --limit 20` and plain `audit`, to a pipe) on the large one,
beside the `--json` first line of the same run (issue 14: the table names entries by their
labels, which it once read from the whole log before the first row).

The command runs in a subprocess as a user runs it (the console script); the first line is
timed from the moment the process is started. Bytecode is cached (in bench-data/, as after
`pip install`), so the figure is not Python compiling the package; the uncached figure is
printed for information.

Memory is the CLI process's own: its peak is `wait4`'s ru_maxrss of the command spawned by
`_peak_rss.py`, a small process of its own (ru_maxrss of a child of this benchmark would be
this benchmark's 360 MB, which built the database); its VmRSS is read from /proc/<its pid>
as the output is drained. "Flat" is checked twice: the peak minus the RSS when a tenth of
the lines were out, and the 1,000,000-event peak minus the 10,000-event one.

    .venv/bin/python benchmarks/bench_cli.py [--events N] [--small N] [--runs N] [--layout L]
                                             [--quick] [--ballast MB]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _gen import CACHE, ensure_db
from _report import Report

FIRST_LINE_GOAL_MS = 100.0
#: "Flat": the 1,000,000-event export may peak at most this much above the 10,000-event one.
FLAT_GOAL_MB = 10.0
PEAK_RSS = Path(__file__).resolve().parent / "_peak_rss.py"
REPORT = Report("bench_cli")
JSON = ("--json",)
#: The table's commands measured beside `--json`.
TABLES = {"audit --limit 20": ("--limit", "20"), "plain audit": ()}


def command(db: Path, args: tuple[str, ...] = JSON) -> list[str]:
    """`audit` as a user types it: the installed console script when there is one."""
    script = Path(sys.executable).parent / "shepherd-store"
    head = [str(script)] if script.exists() else [sys.executable, "-m", "shepherd_store"]
    return [*head, "--db", str(db), "audit", *args]


def child_env(cached: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if cached:
        env["PYTHONPYCACHEPREFIX"] = str(CACHE / "pycache")
    else:  # the package compiled at every start (the standard library keeps its caches)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def first_line_ms(db: Path, *, cached: bool, args: tuple[str, ...] = JSON) -> float | None:
    """Milliseconds from starting the process to reading its first complete event line
    (a table's: its first row, after the header; None: the line was not an event, so
    nothing was measured)."""
    env = child_env(cached)
    start = time.perf_counter()
    proc = subprocess.Popen(command(db, args), stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    table = "--json" not in args
    if table and line.split()[:1] == [b"ID"]:
        line = proc.stdout.readline()
    elapsed = (time.perf_counter() - start) * 1000
    proc.kill()
    proc.wait()
    cells = line.split()
    event = cells[0].isdigit() if table and cells else line.startswith(b'{"id": ')
    if not event:
        print(f"  !! unexpected first line: {line[:200]!r}", file=sys.stderr)
        return None
    return elapsed


def median(values: list[float | None]) -> float | None:
    """Median of the runs; None if any run measured nothing."""
    if not values or any(v is None for v in values):
        return None
    return statistics.median(v for v in values if v is not None)


def _status_kb(pid: int, key: str) -> int | None:
    """A "Vm…:" figure of /proc/<pid>/status in kB (None once the process has gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


@dataclass
class Export:
    """One whole export: its lines, duration and the CLI process's own memory."""

    lines: int
    seconds: float
    peak_kb: int | None  # ru_maxrss of the CLI process (wait4 in _peak_rss.py)
    rss_at_tenth_kb: int | None  # its VmRSS once a tenth of the lines were out


def _wrapper_facts(path: Path) -> dict[str, int]:
    facts: dict[str, int] = {}
    try:
        for line in path.read_text(encoding="ascii").splitlines():
            key, _, value = line.partition(" ")
            facts[key] = int(value)
    except (OSError, ValueError):
        pass
    return facts


def full_export(db: Path, n: int) -> Export:
    """Drain a whole export run under `_peak_rss.py`, sampling the CLI's RSS as lines come."""
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        facts_file = Path(tmp) / "rss"
        proc = subprocess.Popen([sys.executable, "-S", "-I", str(PEAK_RSS), str(facts_file),
                                 "--", *command(db)], stdout=subprocess.PIPE,
                                env=child_env(True))
        assert proc.stdout is not None
        lines, pid, at_tenth = 0, None, None
        start = time.perf_counter()
        fd = proc.stdout.fileno()
        while chunk := os.read(fd, 1 << 20):
            lines += chunk.count(b"\n")
            if pid is None:
                pid = _wrapper_facts(facts_file).get("pid")
            if at_tenth is None and pid is not None and lines >= n // 10:
                at_tenth = _status_kb(pid, "VmRSS")
        proc.stdout.close()
        proc.wait()
        seconds = time.perf_counter() - start
        facts = _wrapper_facts(facts_file)
    if proc.returncode != 0 or facts.get("status") != 0:
        print(f"  !! the export failed with status {proc.returncode}", file=sys.stderr)
        return Export(lines, seconds, None, None)
    return Export(lines, seconds, facts.get("maxrss_kb"), at_tenth)


def mb(kb: int | None) -> float | None:
    return None if kb is None else kb / 1024


def bench(layout: str, small: int, large: int, runs: int) -> None:
    print(f"\n[{layout} layout]", flush=True)
    dbs = {n: ensure_db(layout, n) for n in (small, large)}
    first_line_ms(dbs[small], cached=True)  # writes the bytecode cache
    peaks: dict[int, float | None] = {}
    for n, db in dbs.items():
        size = f"{layout}, {n:,} events"
        json_ms = median([first_line_ms(db, cached=True) for _ in range(runs)])
        REPORT.check(f"first line, {size} (median of {runs})", json_ms, "ms",
                     at_most=FIRST_LINE_GOAL_MS)
        if n == large:
            tables(db, size, runs, json_ms)
        REPORT.info(f"first line, {size}, no bytecode cache",
                    median([first_line_ms(db, cached=False) for _ in range(max(runs // 2, 1))]),
                    "ms")
        export = full_export(db, n)
        REPORT.check(f"lines exported, {size}", export.lines, "lines", at_least=n, at_most=n)
        REPORT.info(f"whole export, {size}", export.seconds, "s",
                    note=f"{export.lines / export.seconds:,.0f} lines/s")
        peaks[n] = mb(export.peak_kb)
        REPORT.info(f"peak RSS of the CLI process, {size}", peaks[n], "MB",
                    note="its own ru_maxrss")
        growth = (None if export.peak_kb is None or export.rss_at_tenth_kb is None
                  else (export.peak_kb - export.rss_at_tenth_kb) / 1024)
        REPORT.check(f"CLI peak RSS above its RSS at 10% of lines, {size}", growth, "MB",
                     at_most=FLAT_GOAL_MB, note="flat")
    low, high = peaks[small], peaks[large]
    REPORT.check(f"CLI peak RSS, {layout}, {large:,} vs {small:,} events",
                 None if low is None or high is None else high - low, "MB",
                 at_most=FLAT_GOAL_MB, note="flat")


def tables(db: Path, size: str, runs: int, json_ms: float | None) -> None:
    """The table's first row to a pipe, beside the `--json` first line of this run (the
    baseline: it needs no labels)."""
    for name, args in TABLES.items():
        ms = median([first_line_ms(db, cached=True, args=args) for _ in range(runs)])
        REPORT.check(f"table's first row, {name}, {size} (median of {runs})", ms, "ms",
                     at_most=FIRST_LINE_GOAL_MS,
                     note="" if json_ms is None else f"--json's first line {json_ms:.0f} ms")
        REPORT.info(f"table's first row above --json's, {name}, {size}",
                    None if ms is None or json_ms is None else ms - json_ms, "ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000, help="the large database")
    ap.add_argument("--small", type=int, default=10_000, help="the small database")
    ap.add_argument("--runs", type=int, default=7, help="first-line runs per database")
    ap.add_argument("--layout", choices=("seed", "rust", "both"), default="both")
    ap.add_argument("--quick", action="store_true",
                    help="a test-sized run: 20,000 vs 2,000 events, 2 runs")
    ap.add_argument("--ballast", type=int, default=0, metavar="MB",
                    help="first make this process this much bigger (the test suite's proof "
                         "that the CLI figures are not this process's)")
    args = ap.parse_args()
    if args.quick:
        args.events, args.small, args.runs = 20_000, 2_000, 2
    if not Path("/proc/self/status").exists():
        print("needs /proc (Linux) to sample memory", file=sys.stderr)
        return 1
    ballast = b"\x01" * (args.ballast << 20)  # written, so resident
    print("shepherd-store audit --json: streaming from the first line, in flat memory; "
          "the table's first row as soon")
    for layout in ("seed", "rust") if args.layout == "both" else (args.layout,):
        bench(layout, args.small, args.events, args.runs)
    REPORT.info("peak RSS of this benchmark process (not the CLI's)",
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MB",
                note=f"ballast {len(ballast) >> 20} MB")
    return REPORT.finish()


if __name__ == "__main__":
    sys.exit(main())
