"""Run every `bench_*.py` benchmark, each in its own process, then print ONE table.

A script that misses a goal, reports a figure it could not measure, crashes or hangs does
not stop the others: all run, and only then does the runner print the table of every
figure (benchmark, figure, goal, measured, met) and exit 1 if any goal was missed, any
figure was not measured or any script failed to finish (0 otherwise). Each script writes
its figures through `_report.Report` to a JSON file named in BENCH_REPORT; a script that
finishes without a complete report counts as crashed. `make bench` runs this.

    .venv/bin/python benchmarks/run_all.py [--quick] [--timeout S] [--json OUT] [--dir DIR]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _report import FAILED, REPORT_ENV, Figure, Row, load, row, table  # noqa: E402


@dataclass
class Outcome:
    """What one script did: its figures, exit status and, if it failed to finish, why."""

    script: str
    figures: list[Figure] = field(default_factory=list)
    returncode: int | None = None
    seconds: float = 0.0
    crash: str = ""  # empty: it finished and wrote a complete report; else, in a few words
    detail: str = ""  # the crash in full, with the script's last line of output


def run_one(script: Path, args: list[str], timeout: float) -> Outcome:
    """Run `script` in its own process (output passed through), then read its report."""
    out = Outcome(script.name)
    print(f"\n===== {script.name} {' '.join(args)}".rstrip(), flush=True)
    tail: collections.deque[str] = collections.deque(maxlen=5)
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        report = Path(tmp) / "report.json"
        env = {**os.environ, REPORT_ENV: str(report)}
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(script), *args], cwd=HERE.parent, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        assert proc.stdout is not None
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace")
                sys.stdout.write(line)
                sys.stdout.flush()
                if line.strip():
                    tail.append(" ".join(line.split()))
            out.returncode = proc.wait()
        except BaseException:  # Ctrl-C: its own session would outlive us, so end it
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        finally:
            timer.cancel()
            proc.stdout.close()
        out.seconds = time.perf_counter() - start
        complete = False
        if report.exists():
            try:
                complete, out.figures = load(report)
            except (ValueError, KeyError, TypeError) as exc:
                out.crash = f"unreadable report ({exc})"
    if timed_out.is_set():
        out.crash = f"killed after {timeout:g} s"
    elif not out.crash and not complete:
        out.crash = f"exit {out.returncode}, report unfinished"
    elif not out.crash and out.returncode != 0 and not any(f.status in FAILED
                                                           for f in out.figures):
        out.crash = f"exit {out.returncode}, yet no figure failed"
    elif not out.crash and not out.figures:
        out.crash = "no figure reported"
    if out.crash:
        out.detail = out.crash + (f"; last line: {tail[-1][:200]}" if tail else "")
    return out


def summary(outcomes: list[Outcome], scripts: list[Path], skipped: list[str],
            mode: str = "") -> tuple[int, str]:
    """(exit status, the table as text) of all outcomes."""
    rows: list[Row] = []
    for o in outcomes:
        name = o.script.removesuffix(".py")
        rows += [row(name, f) for f in o.figures]
        if o.crash:
            rows.append((name, "(the script itself)", "finishes its report", o.crash, "CRASHED"))
    figures = [f for o in outcomes for f in o.figures]
    missed = sum(f.status == "MISSED" for f in figures)
    unmeasured = sum(f.status == "NOT MEASURED" for f in figures)
    crashed = sum(bool(o.crash) for o in outcomes)
    ran = ", ".join(f"{o.script} ({o.seconds:.0f} s)" for o in outcomes)
    lines = [f"Ran {len(scripts)} benchmark scripts{mode}, each in its own process: {ran}."]
    if skipped:
        lines.append(f"Not run here (long; run them by hand): {', '.join(skipped)}.")
    lines += ["", *table(rows), ""]
    if crashes := [f"{o.script} crashed: {o.detail}" for o in outcomes if o.crash]:
        lines += [*crashes, ""]
    failed = missed + unmeasured + crashed
    lines.append(f"{len(figures)} figures: {sum(f.status == 'met' for f in figures)} met, "
                 f"{missed} goals missed, {unmeasured} not measured, "
                 f"{sum(f.status == 'info' for f in figures)} for information; "
                 f"{crashed} of {len(scripts)} scripts crashed. "
                 + ("FAILED" if failed else "All goals met."))
    return (1 if failed or not scripts else 0), "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=HERE, help="where the bench_*.py scripts are")
    ap.add_argument("--quick", action="store_true", help="pass --quick to every script")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per script")
    ap.add_argument("--json", type=Path, help="also write every outcome here as JSON")
    args = ap.parse_args(argv)
    scripts = sorted(args.dir.glob("bench_*.py"))
    skipped = sorted(p.name for p in args.dir.glob("*.py")
                     if p not in scripts and not p.name.startswith("_")
                     and p.name != Path(__file__).name)
    outcomes = [run_one(s, ["--quick"] if args.quick else [], args.timeout) for s in scripts]
    status, text = summary(outcomes, scripts, skipped,
                           " with --quick (test-sized)" if args.quick else "")
    print("\n" + "=" * 30 + " all benchmarks " + "=" * 30)
    print(text if scripts else f"no bench_*.py scripts in {args.dir}: nothing was measured")
    if args.json:
        args.json.write_text(json.dumps([{
            "script": o.script, "returncode": o.returncode, "seconds": o.seconds,
            "crash": o.detail, "figures": [f.to_json() for f in o.figures]}
            for o in outcomes], indent=1), encoding="utf-8")
    return status


if __name__ == "__main__":
    sys.exit(main())
