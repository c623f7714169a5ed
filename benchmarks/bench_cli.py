"""`shepherd-store audit --json` streams: time to the first line and peak memory of the whole
export, on 10,000- and 1,000,000-event databases in both layouts, each beside its goal.

The command runs in a subprocess as a user runs it (the console script); the first line is
timed from the moment the process is started. Bytecode is cached (in bench-data/, as after
`pip install`), so the figure is not Python compiling the package; the uncached figure is
printed for information. Memory: VmRSS sampled from /proc while the output is drained, and
the peak (ru_maxrss) from `wait4`.

    .venv/bin/python benchmarks/bench_cli.py [--events N] [--small N] [--runs N] [--layout L]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _gen import CACHE, ensure_db

FIRST_LINE_GOAL_MS = 100.0
#: "Flat": the 1,000,000-event export may peak at most this much above the 10,000-event one.
FLAT_GOAL_MB = 10.0
ROWS: list[tuple[str, str, str]] = []


def report(what: str, figure: str, goal: str, ok: bool | None) -> None:
    verdict = "" if ok is None else ("  ok" if ok else "  MISSED")
    ROWS.append((what, figure, goal + verdict))
    print(f"  {what:<44} {figure:>14}   {goal}{verdict}", flush=True)


def command(db: Path) -> list[str]:
    script = Path(sys.executable).parent / "shepherd-store"
    head = [str(script)] if script.exists() else [sys.executable, "-m", "shepherd_store"]
    return [*head, "--db", str(db), "audit", "--json"]


def child_env(cached: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if cached:
        env["PYTHONPYCACHEPREFIX"] = str(CACHE / "pycache")
    else:  # the package compiled at every start (the standard library keeps its caches)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def first_line_ms(db: Path, *, cached: bool) -> float:
    """Milliseconds from starting the process to reading its first complete line."""
    env = child_env(cached)
    start = time.perf_counter()
    proc = subprocess.Popen(command(db), stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = (time.perf_counter() - start) * 1000
    proc.kill()
    proc.wait()
    if not line.startswith(b'{"id": '):
        raise SystemExit(f"unexpected first line: {line[:200]!r}")
    return elapsed


def _rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def full_export(db: Path) -> tuple[int, float, int, list[tuple[int, int]]]:
    """Drain a whole export: (lines, seconds, peak RSS in kB, [(lines so far, RSS kB)])."""
    proc = subprocess.Popen(command(db), stdout=subprocess.PIPE, env=child_env(True))
    assert proc.stdout is not None
    lines = 0
    samples: list[tuple[int, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            rss = _rss_kb(proc.pid)
            if rss is not None:
                samples.append((lines, rss))

    sampler = threading.Thread(target=sample, daemon=True)
    start = time.perf_counter()
    sampler.start()
    fd = proc.stdout.fileno()
    while chunk := os.read(fd, 1 << 20):
        lines += chunk.count(b"\n")
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"the export failed with status {proc.returncode}")
    return lines, seconds, usage.ru_maxrss, samples


def bench(layout: str, small: int, large: int, runs: int) -> None:
    print(f"\n[{layout} layout]", flush=True)
    dbs = {n: ensure_db(layout, n) for n in (small, large)}
    first_line_ms(dbs[small], cached=True)  # writes the bytecode cache
    peaks: dict[int, float] = {}
    for n, db in dbs.items():
        times = [first_line_ms(db, cached=True) for _ in range(runs)]
        median = statistics.median(times)
        report(f"first line, {n:,} events (median of {runs})", f"{median:.0f} ms",
               f"goal <= {FIRST_LINE_GOAL_MS:g} ms", median <= FIRST_LINE_GOAL_MS)
        cold = statistics.median(first_line_ms(db, cached=False) for _ in range(max(runs // 2,
                                                                                    1)))
        report(f"first line, {n:,} events, no bytecode cache", f"{cold:.0f} ms",
               "(information)", None)
        lines, seconds, peak_kb, samples = full_export(db)
        if lines != n:
            raise SystemExit(f"{db}: {lines} lines for {n} events")
        peaks[n] = peak_kb / 1024
        report(f"whole export, {n:,} events", f"{seconds:.1f} s",
               f"{lines / seconds:,.0f} lines/s", None)
        report(f"peak RSS, {n:,} events", f"{peaks[n]:.1f} MB", "(ru_maxrss)", None)
        if n == large and samples:
            tenth = [rss for seen, rss in samples if seen >= n // 10]
            late = [rss for seen, rss in samples if seen >= n * 9 // 10]
            if tenth and late:
                growth = (max(late) - tenth[0]) / 1024
                report("RSS growth from 10% to 100% of the lines", f"{growth:+.1f} MB",
                       f"goal <= {FLAT_GOAL_MB:g} MB", growth <= FLAT_GOAL_MB)
    extra = peaks[large] - peaks[small]
    report(f"peak RSS {large:,} vs {small:,} events", f"{extra:+.1f} MB",
           f"goal <= {FLAT_GOAL_MB:g} MB (flat)", extra <= FLAT_GOAL_MB)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000, help="the large database")
    ap.add_argument("--small", type=int, default=10_000, help="the small database")
    ap.add_argument("--runs", type=int, default=7, help="first-line runs per database")
    ap.add_argument("--layout", choices=("seed", "rust", "both"), default="both")
    args = ap.parse_args()
    if not Path("/proc/self/status").exists():
        print("needs /proc (Linux) to sample memory", file=sys.stderr)
        return 1
    print("shepherd-store audit --json: streaming from the first line, in flat memory")
    for layout in ("seed", "rust") if args.layout == "both" else (args.layout,):
        bench(layout, args.small, args.events, args.runs)
    missed = [r for r in ROWS if r[2].endswith("MISSED")]
    print(f"\n{len(ROWS)} figures, {len(missed)} goals missed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
