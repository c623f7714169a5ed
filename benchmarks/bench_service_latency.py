"""Does reading the database slow the service down? The service's write latency, alone and
while the window and the command line do their heaviest reads, on a 1,000,000-event log.

A writer process does what shepherdd does: the Rust store's SQL on a Rust-layout database,
no PRAGMAs (rollback journal `delete`, synchronous FULL), a 5 s busy timeout through
sqlite3's own busy handler (as rusqlite's default), about 40 writes a second: mostly audit
events, and at each session's end the usage upsert, the cooldown and `session_ended`
(DESIGN.md, "How the shipped service writes"). Every write is timed, every error counted,
and it never stops on one (the service ignores them: a failed write is data lost).

Phases, each `--seconds` long, on a copy of the cached database (benchmarks/_gen.py):

- alone: the writer only (the baseline);
- the window (the real MainWindow, offscreen, in a process of its own): a search with no
  match over the whole log; an export of every event (its own child process, as the
  window runs it); three years of usage; the Recovery tab's full scan of the log;
- SQLite's backup API copying the file in 256-page steps (how `check` could have made a
  consistent copy): whether it finishes or restarts because the service wrote;
- the command line, run again and again: `check`, `audit --grep nomatch`,
  `usage --from <3 years ago>`.

For each phase: the writer's p50/p99/max and failed writes, the difference to the writer
alone, and the longest statement of ours (the library's `statement_observer`, in the
window's and each command's process). Goals: no failed write, p99 at most 100 ms above the
writer alone, max at most 250 ms, no statement of ours over 50 ms. Then the same in WAL mode
(where readers never block the writer) to show the difference.

    .venv/bin/python benchmarks/bench_service_latency.py [--events N] [--seconds S]
                                                         [--modes delete,wal]
    .venv/bin/python benchmarks/bench_service_latency.py --quick   # 20,000 events, 3 s phases

Other engineers' tests on a 2-core machine distort the figures: the load average is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from _latency_window import WINDOW_ACTIONS, WindowChild, statement_text  # noqa: E402

MODES = ("delete", "wal")
RATE = 40.0  # writes a second
BUSY_TIMEOUT_S = 5.0  # rusqlite's default
MAX_ADDED_P99_MS = 100.0
MAX_MS = 250.0
MAX_STATEMENT_MS = 50.0
BACKUP_PAGES = 256
CLI_ACTIONS = ("check", "audit --grep nomatch", "usage --from 3 years ago")


# --- the service's writer (a process of its own) ----------------------------------------------


def writer_main(path: str, rate: float) -> int:
    """Write like shepherdd until SIGTERM: one line per write on stdout,
    `<monotonic start> <seconds> <ok 1|0> <kind>`; errors are counted, never fatal."""
    from _gen import generate

    from shepherd_store import SessionEnded, encode_event
    from shepherd_store.timefmt import format_timestamp

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    out = sys.stdout
    events = generate(10_000_000, seed=7)
    interval = 1.0 / rate
    due = time.monotonic()

    def write(kind: str, sql: str, params: tuple[Any, ...]) -> None:
        start = time.monotonic()
        ok = 1
        try:
            conn.execute(sql, params)
        except sqlite3.Error as exc:
            ok = 0
            print(f"writer: {kind}: {exc}", file=sys.stderr, flush=True)
        out.write(f"{start:.6f} {time.monotonic() - start:.6f} {ok} {kind}\n")
        out.flush()

    def tick() -> None:
        nonlocal due
        due += interval
        now = time.monotonic()
        if due > now:
            stop.wait(due - now)
        else:
            due = now  # late (a write waited): no burst to catch up, as the service

    for _when, event in events:
        if stop.is_set():
            break
        now = datetime.now().astimezone()
        if isinstance(event, SessionEnded):  # the service's end of a session, in its order
            secs = event.duration.days * 86400 + event.duration.seconds
            write("usage", "INSERT INTO usage (entry_id, day, duration_secs) VALUES (?1, ?2, ?3) "
                  "ON CONFLICT(entry_id, day) DO UPDATE SET duration_secs = duration_secs + ?3",
                  (event.entry_id, now.strftime("%Y-%m-%d"), secs))
            tick()
            write("cooldown", "INSERT INTO cooldowns (entry_id, until) VALUES (?1, ?2) "
                  "ON CONFLICT(entry_id) DO UPDATE SET until = ?2",
                  (event.entry_id, format_timestamp(now + timedelta(minutes=30))))
            tick()
        write("event", "INSERT INTO audit_log (timestamp, event_json) VALUES (?1, ?2)",
              (format_timestamp(now), encode_event(event, rust=True)))
        tick()
    conn.close()
    return 0


@dataclass
class Write:
    start: float
    seconds: float
    ok: bool


class Writer:
    """The writer process, and every write it reported."""

    def __init__(self, path: Path, rate: float) -> None:
        self.writes: list[Write] = []
        self.errors: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--writer", str(path),
             "--rate", str(rate)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=REPO)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._err = threading.Thread(target=self._read_err, daemon=True)
        self._err.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            parts = line.split()
            if len(parts) >= 3:
                self.writes.append(Write(float(parts[0]), float(parts[1]), parts[2] == "1"))

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.errors.append(line.rstrip())

    def between(self, start: float, end: float) -> list[Write]:
        return [w for w in list(self.writes) if start <= w.start < end]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        self._err.join(timeout=5)


# --- the command line (a process per run) -------------------------------------------------------


def cli_main(argv: list[str]) -> int:
    """`shepherd-store ARGS` with every store watched: prints the longest statement on
    stderr as `longest-statement-ms X N` and `longest-statement <JSON: SQL, parameters>`
    when it ends."""
    from shepherd_store import cli
    from shepherd_store.store import SqliteStore

    longest = [0.0, 0]
    which: list[Any] = ["", []]
    init = SqliteStore.__init__

    def observe(sql: str, params: tuple[Any, ...], seconds: float) -> None:
        if seconds > longest[0]:
            longest[0] = seconds
            which[:] = [sql, params]
        longest[1] += 1

    watched = [True]

    def watched_init(self: SqliteStore, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        watched[0] = hasattr(self, "statement_observer")  # (not in code before it)
        self.statement_observer = observe

    SqliteStore.__init__ = watched_init  # type: ignore[method-assign]
    try:
        return cli.main(argv)
    finally:
        ms = f"{longest[0] * 1000:.3f}" if watched[0] else "nan"
        print(f"longest-statement-ms {ms} {longest[1]}", file=sys.stderr)
        print(f"longest-statement {statement_text(*which)}", file=sys.stderr)


def run_cli(path: Path, action: str, deadline: float
            ) -> tuple[int, float, int, list[str], str]:
    """Run the command again and again until `deadline`: (runs, longest statement ms,
    statements, failures, the longest statement as JSON)."""
    three_years_ago = (date.today() - timedelta(days=3 * 365)).isoformat()
    args = {"check": ["check"], "audit --grep nomatch": ["audit", "--grep", "nomatch"],
            "usage --from 3 years ago": ["usage", "--from", three_years_ago]}[action]
    runs, longest, count, failures, which = 0, 0.0, 0, [], ""
    while time.monotonic() < deadline or runs == 0:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--cli", "--", "--db", str(path),
             *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
        runs += 1
        run_ms, run_which = math.nan, ""
        for line in proc.stderr.splitlines():
            if line.startswith("longest-statement-ms "):
                ms, n = line.split()[1:]
                run_ms = float(ms)
                count += int(n)
            elif line.startswith("longest-statement "):
                run_which = line.split(" ", 1)[1]
        if run_ms > longest:
            which = run_which
        longest = math.nan if math.isnan(run_ms) or math.isnan(longest) else \
            max(longest, run_ms)
        if proc.returncode not in (0, 1):
            failures.append(f"{action}: exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return runs, longest, count, failures, which


# --- the backup API ---------------------------------------------------------------------------


def backup_copy(path: Path, deadline: float) -> tuple[bool, int]:
    """Copy `path` with the backup API in small steps until done or `deadline`: (finished,
    restarts). A step that finds the source changed since the last one starts over (each
    step holds the read lock only while it copies its pages)."""
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    target = path.with_name(path.name + ".backup")
    dst = sqlite3.connect(target)
    restarts = 0
    last = [math.inf]

    class Stop(Exception):
        pass

    def progress(_status: int, remaining: int, _total: int) -> None:
        nonlocal restarts
        if remaining > last[0]:
            restarts += 1
        last[0] = remaining
        if time.monotonic() > deadline:
            raise Stop

    finished = False
    try:
        src.backup(dst, pages=BACKUP_PAGES, progress=progress, sleep=0.001)
        finished = True
    except Stop:
        pass
    except sqlite3.Error:
        pass
    finally:
        src.close()
        dst.close()
        target.unlink(missing_ok=True)
    return finished, restarts


# --- the phases ---------------------------------------------------------------------------------


@dataclass
class Phase:
    mode: str
    name: str
    writes: list[Write] = field(default_factory=list)
    longest_ms: float | None = None  # our longest statement, where measured
    longest_sql: str = ""  # which it was: JSON [first 80 characters of SQL, parameters]
    statements: int = 0
    runs: int = 0
    note: str = ""

    @property
    def latencies_ms(self) -> list[float]:
        return sorted(w.seconds * 1000 for w in self.writes)

    def pct(self, q: float) -> float | None:
        values = self.latencies_ms
        if not values:
            return None
        return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]

    @property
    def failed(self) -> int:
        return sum(not w.ok for w in self.writes)


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def run_mode(mode: str, source: Path, seconds: float, rate: float, workdir: Path,
             window: bool) -> list[Phase]:
    path = workdir / f"service-{mode}.db"
    shutil.copyfile(source, path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode = {mode}")
    conn.close()
    phases: list[Phase] = []
    writer = Writer(path, rate)
    time.sleep(1.0)  # the writer's first writes (cold cache) are not a phase's

    def measured(name: str, body: Callable[[float], Phase | None]) -> None:
        print(f"[{mode}] {name} ({seconds:g} s, load {load_average()})", flush=True)
        start = time.monotonic()
        phase = body(start + seconds) or Phase(mode, name)
        end = time.monotonic()
        phase.mode, phase.name = mode, name
        phase.writes = writer.between(start, end)
        phases.append(phase)
        p50, p99 = phase.pct(0.5), phase.pct(0.99)
        print(f"    {len(phase.writes)} writes, {phase.failed} failed, p50 {p50 or 0:.1f} ms, "
              f"p99 {p99 or 0:.1f} ms, max {max(phase.latencies_ms, default=0):.1f} ms"
              + (f"; ours: longest statement {phase.longest_ms:.1f} ms of "
                 f"{phase.statements}" if phase.longest_ms is not None else "")
              + (f"; {phase.note}" if phase.note else ""), flush=True)
        if phase.longest_sql:
            print(f"    longest: {phase.longest_sql}", flush=True)
        time.sleep(0.5)  # the readers' last statements end before the next phase starts

    def idle(deadline: float) -> None:
        time.sleep(max(0.0, deadline - time.monotonic()))

    try:
        measured("alone", idle)
        if window:
            child = WindowChild(path)
            try:
                for action in WINDOW_ACTIONS:
                    def in_window(deadline: float, a: str = action) -> Phase:
                        n, ms, count, which = child.run(
                            a, max(0.1, deadline - time.monotonic()))
                        return Phase(mode, "", longest_ms=ms, longest_sql=which,
                                     statements=count, runs=n, note=f"{n} runs")
                    measured(f"window: {action}", in_window)
            finally:
                child.close()

        def backup(deadline: float) -> Phase:
            copies, restarts = 0, 0
            while time.monotonic() < deadline:
                finished, again = backup_copy(path, deadline)
                copies, restarts = copies + finished, restarts + again
            return Phase(mode, "", runs=restarts, statements=copies,
                         note=f"{copies} copies finished, {restarts} restarts")
        measured("backup API copy, 256-page steps", backup)
        for action in CLI_ACTIONS:
            def on_cli(deadline: float, a: str = action) -> Phase:
                runs, ms, count, failures, which = run_cli(path, a, deadline)
                for f in failures:
                    print(f"    {f}", flush=True)
                return Phase(mode, "", longest_ms=ms, longest_sql=which, statements=count,
                             runs=runs,
                             note=f"{runs} runs" + (f", {len(failures)} failed"
                                                    if failures else ""))
            measured(f"cli: {action}", on_cli)
        measured("alone again", idle)
    finally:
        writer.stop()
    for line in writer.errors[:5]:
        print(f"    {line}", flush=True)
    with contextlib.suppress(OSError):
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    return phases


def report_phases(report: Any, phases: list[Phase]) -> None:
    by_mode: dict[str, list[Phase]] = {}
    for p in phases:
        by_mode.setdefault(p.mode, []).append(p)
    for mode, group in by_mode.items():
        alone = group[0]
        base_p99 = alone.pct(0.99)
        for p in group:
            name = f"{mode}, {p.name}"
            p99, p50 = p.pct(0.99), p.pct(0.5)
            worst = max(p.latencies_ms, default=None)
            report.check(f"{name}: failed writes (of {len(p.writes)})", float(p.failed),
                         "errors", at_most=0)
            report.info(f"{name}: writer p50", p50, "ms")
            if p is alone:
                report.info(f"{name}: writer p99", p99, "ms")
            else:
                report.info(f"{name}: writer p99", p99, "ms",
                            note="" if p99 is None or not base_p99 else
                            f"{p99 / base_p99:.1f}x the writer alone")
                report.check(f"{name}: writer p99 minus alone", None if p99 is None or
                             base_p99 is None else p99 - base_p99, "ms",
                             at_most=MAX_ADDED_P99_MS)
            report.check(f"{name}: writer max", worst, "ms", at_most=MAX_MS)
            if p.longest_ms is not None:
                if mode == "delete":
                    report.check(f"{name}: our longest statement ({p.statements:,})",
                                 p.longest_ms, "ms", at_most=MAX_STATEMENT_MS)
                else:
                    report.info(f"{name}: our longest statement ({p.statements:,})",
                                p.longest_ms, "ms")
            if p.name.startswith("backup"):
                report.info(f"{name}: copies finished", float(p.statements), "copies")
                report.info(f"{name}: restarts of the copy", float(p.runs), "restarts")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    ap.add_argument("--rate", type=float, default=RATE, help="the writer's writes a second")
    ap.add_argument("--modes", default=",".join(MODES), help="journal modes: delete,wal")
    ap.add_argument("--no-window", action="store_true", help="skip the window's phases")
    ap.add_argument("--quick", action="store_true",
                    help="test-sized: 20,000 events, 3 s phases, rollback journal only "
                         "(explicit --events/--seconds/--modes win)")
    ap.add_argument("--writer", metavar="PATH", help=argparse.SUPPRESS)
    ap.add_argument("--cli", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    raw = list(sys.argv[1:] if argv is None else argv)
    args = ap.parse_args(raw)
    if args.writer:
        return writer_main(args.writer, args.rate)
    if args.cli:
        return cli_main([a for a in args.rest if a != "--"])
    if args.quick:
        given = " ".join(raw)
        if "--events" not in given:
            args.events = 20_000
        if "--seconds" not in given:
            args.seconds = 3.0
        if "--modes" not in given:
            args.modes = "delete"

    from _gen import ensure_db
    from _report import Report, isolate_user_config

    isolate_user_config()
    report = Report("bench_service_latency")
    source = ensure_db("rust", args.events)
    print(f"{source.name}: {source.stat().st_size / 1e6:.0f} MB; {args.rate:g} writes/s; "
          f"{args.seconds:g} s per phase; load average {load_average()} "
          f"({os.cpu_count()} CPUs)", flush=True)
    phases: list[Phase] = []
    workdir = Path(tempfile.mkdtemp(prefix="service-latency-", dir=source.parent))
    try:
        for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
            phases += run_mode(mode, source, args.seconds, args.rate, workdir,
                               window=not args.no_window)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    with contextlib.suppress(ValueError):
        report.info("load average at the end (1 min)", float(load_average().split()[0]), "")
    report_phases(report, phases)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
