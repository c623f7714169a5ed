"""Reliability under load, crashes and hostile input: one table, every failure counted.

Scenarios (the same code as the tests, with more rounds):

- soak, rollback journal / WAL: `benchmarks/soak.py`, the service writing flat out while the
  window works (60 s each; writer errors, lost events and edits, stalls, memory);
- inspector killed mid-edit: SIGKILL at random moments of a loop of cooldown and snapshot
  edits made through the tabs, 50 rounds (intact, old or new value, never a mix);
- service killed mid-session: the simulated service SIGKILLed with a session running; the
  Snapshot tab's diagnosis must name it;
- file deleted / replaced / truncated / emptied / unreadable under the open window: said
  and recovered without a restart (unreadable is simulated when running as root, who may
  read any file);
- hostile corpus: `tests/test_hostile.py` (18 hostile files through the library, the
  command line and the window) run by pytest; an expected failure (xfail) counts too, and so
  does a case slower than its goal: 20 s per case and channel (40 s for the window, which
  shows every tab), 1.5 s to show the huge and the deeply nested JSON (the tests assert no
  timing; their call times and recorded `seconds_to_show` are read from pytest's JUnit XML).

    .venv/bin/python benchmarks/reliability.py [--quick]
"""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _load(name: str, path: Path) -> ModuleType:
    """A module of benchmarks/ or tests/ (neither is a package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault(name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


class Row:
    """One line of the table."""

    def __init__(self, scenario: str, runs: int, failures: list[str], figures: str) -> None:
        self.scenario, self.runs, self.failures, self.figures = scenario, runs, failures, figures


def soak_rows(seconds: float) -> list[Row]:
    soak = _load("soak", REPO / "benchmarks" / "soak.py")
    rows = []
    for fig in soak.run_soak(seconds):
        name = "rollback journal" if fig.mode == "delete" else "WAL"
        figures = (f"{fig.events_acked:,} events, {fig.writer_errors} writer errors, "
                   f"lost {fig.events_lost_db}/{fig.events_lost_view} (db/view); "
                   f"{fig.edits_written} edits, {fig.edits_lost} lost; {fig.actions:,} "
                   f"actions, {fig.exports} exports; integrity {fig.integrity}; max stall "
                   f"{fig.max_stall_ms:.0f} ms; memory {fig.rss_growth_mb:+.1f} MB")
        rows.append(Row(f"soak {seconds:.0f} s, {name} ({fig.layout} layout)", 1,
                        fig.failures, figures))
    return rows


def crash_rows(kill_rounds: int, service_rounds: int) -> list[Row]:
    from PySide6.QtWidgets import QApplication

    QApplication.instance() or QApplication(sys.argv[:1])
    crash = _load("test_crash", REPO / "tests" / "test_crash.py")
    rows = []
    outcome = crash.kill_mid_edit(kill_rounds, seed=int(time.time()) % 10_000)
    fig = outcome.figures
    rows.append(Row("inspector SIGKILLed mid-edit", outcome.runs, outcome.failures,
                    f"{fig['edits acknowledged']} edits acknowledged, "
                    f"{fig['killed mid-write']} rounds killed with a write under way; "
                    "integrity ok, each value whole, trace in the same transaction"))
    outcome = crash.kill_service_mid_session(service_rounds)
    rows.append(Row("service SIGKILLed mid-session", outcome.runs, outcome.failures,
                    "diagnosis: the session's time was never counted, the service crashed "
                    "(half the rounds restarted it)"))
    for kind in crash.FILE_CHANGES:
        work = Path(tempfile.mkdtemp(prefix=f"shepherd-{kind}-"))
        try:
            deny = _simulated_denial() if kind == "unreadable" and ROOT else None
            outcome = crash.file_pulled_away(kind, work, deny=deny)
        finally:
            deny_restore()
            shutil.rmtree(work, ignore_errors=True)
        noticed, back = outcome.figures.get("noticed s"), outcome.figures.get("recovered s")
        note = " (simulated: root reads any file)" if deny is not None else ""
        rows.append(Row(f"file {kind} while open{note}", outcome.runs, outcome.failures,
                        f"said after {_secs(noticed)}, recovered {_secs(back)} after the "
                        "file came back"))
    return rows


_real_access = os.access
_denied: set[str] = set()


def _simulated_denial() -> Callable[[Path, bool], None]:
    """Make `os.access` answer as for a user who may not read the file (root may)."""
    def access(path: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        return str(path) not in _denied and _real_access(path, mode, *args, **kwargs)

    os.access = access  # type: ignore[assignment]

    def deny(path: Path, on: bool) -> None:
        (_denied.add if on else _denied.discard)(str(path))

    return deny


def deny_restore() -> None:
    os.access = _real_access  # type: ignore[assignment]
    _denied.clear()


def _secs(value: object) -> str:
    return f"{value:.2f} s" if isinstance(value, float) else "never"


#: The hostile corpus's timing goals in seconds, by test (a hang would exceed them all).
HOSTILE_GOALS = {"test_library": 20.0, "test_command_line": 20.0, "test_window": 40.0,
                 "test_command_line_as_installed": 20.0}
SHOW_GOAL_S = 1.5


def hostile_row() -> Row:
    """tests/test_hostile.py through pytest: every case through library, CLI and window;
    the slowest case of each channel and the time to show the huge files, against goals."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="shepherd-hostile-") as tmp:
        junit = Path(tmp) / "hostile.xml"
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/test_hostile.py", "-q", "-p",
             "no:cacheprovider", "-rfExX", "--no-header", f"--junitxml={junit}", "-o",
             "junit_duration_report=call", "-o", "junit_family=xunit1"],  # xunit1: properties
            cwd=REPO, capture_output=True, text=True, timeout=1800,
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
        cases = ET.parse(junit).getroot().iter("testcase") if junit.exists() else iter(())
        timings = [(c.get("name", ""), float(c.get("time", "nan")),
                    {p.get("name"): p.get("value") for p in c.iter("property")}) for c in cases]
    out = result.stdout
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|xfailed|errors?)",
                                                     out)}
    failures = [line for line in out.splitlines()
                if line.startswith(("FAILED", "ERROR", "XFAIL"))]
    runs = sum(counts.values())
    slowest, timing_failures = hostile_timings(timings)
    figures = (f"{counts.get('passed', 0)} checks passed (18 files x library, command line, "
               f"window; searches; freezes) in {time.monotonic() - started:.0f} s; slowest: "
               + "; ".join(slowest))
    return Row("hostile corpus", runs,
               [f for f in failures if "teardown" not in f] + timing_failures, figures)


def hostile_timings(timings: list[tuple[str, float, dict[str | None, str | None]]]
                    ) -> tuple[list[str], list[str]]:
    """(the slowest case of each channel and each show time, as text; those over their
    goal or not measured)."""
    shown, failures = [], []
    for test, goal in HOSTILE_GOALS.items():
        runs = [(t, name) for name, t, _p in timings if name.split("[")[0] == test]
        if not runs:
            failures.append(f"{test}: no case ran")
            continue
        worst, name = max(runs)
        shown.append(f"{test.removeprefix('test_').replace('_', ' ')} {worst:.2f} s "
                     f"({name.partition('[')[2].rstrip(']')})")
        if not worst <= goal:  # NaN (not measured) fails too
            failures.append(f"{name} took {worst:.1f} s (goal <= {goal:g} s)")
    shows = [(name, p.get("seconds_to_show")) for name, _t, p in timings
             if name.startswith("test_huge_or_deep_json")]
    if len(shows) != 2:
        failures.append(f"{len(shows)} show times recorded for the huge and the deep file, "
                        "not 2")
    for name, value in shows:
        seconds = float(value) if value is not None else float("nan")
        case = name.partition("[")[2].rstrip("]")
        shown.append(f"{case} shown in {seconds:.2f} s")
        if not seconds <= SHOW_GOAL_S:
            failures.append(f"showing {case} took {seconds:.2f} s (goal <= {SHOW_GOAL_S} s)")
    return shown, failures


def print_table(rows: list[Row]) -> None:
    headers = ("scenario", "runs", "failures", "figures")
    width = max(len(r.scenario) for r in rows)
    print(f"{headers[0]:<{width}}  {headers[1]:>4}  {headers[2]:>8}  {headers[3]}")
    print(f"{'-' * width}  {'-' * 4}  {'-' * 8}  {'-' * 9}")
    for r in rows:
        print(f"{r.scenario:<{width}}  {r.runs:>4}  {len(r.failures):>8}  {r.figures}")
    problems = [(r.scenario, f) for r in rows for f in r.failures]
    if problems:
        print("\nfailures:")
        for scenario, failure in problems:
            print(f"  {scenario}: {failure[:400]}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="10 s soaks, 10 kill rounds (instead of 60 s and 50)")
    args = p.parse_args(argv)
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="shepherd-reliability-config-")
    atexit.register(shutil.rmtree, os.environ["XDG_CONFIG_HOME"], True)  # leave nothing behind
    rows = soak_rows(10.0 if args.quick else 60.0)
    rows += crash_rows(10 if args.quick else 50, 4 if args.quick else 10)
    rows.append(hostile_row())
    print_table(rows)
    return 0 if all(not r.failures for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
