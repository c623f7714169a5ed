"""Crash recovery analysis: full scan and incremental update on 1,000,000-event databases.

For each layout (seed and Rust), on `_gen`'s database and on the same mix with crashes in it
(sessions cut short by a reboot, runs that never wrote `service_stopped`, as the shipped
service leaves them):

- full scan: `recover(store)` over the whole log, read-only (goal <= 2 s, median of runs;
  the first run is in the note), and the longest of its statements (no goal here: what a
  statement holds is bench_service_latency.py's goal);
- incremental update: one new session's rows appended by a separate writer as the service
  writes them (session_started, two warnings, usage, cooldown, session_ended), then
  `RecoveryScanner.update` of the previous report (goal <= 20 ms, median; p95 in the note);
- what the full scan found: every injected crashed session is an `interrupted_session`,
  every run that lost its `service_stopped` an `unclean_shutdown`, and nothing else (goal:
  0 wrong; a fast wrong answer is not a figure).

    .venv/bin/python benchmarks/bench_recovery.py [--events N] [--runs N] [--updates N]
        [--quick]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _gen
from _gen import CACHE, ensure_db
from _report import Report

from shepherd_store import (
    AuditEvent,
    Event,
    Expired,
    PolicyLoaded,
    ServiceStarted,
    ServiceStopped,
    SessionEnded,
    SessionStarted,
    SqliteStore,
    WarningIssued,
    encode_event,
)
from shepherd_store.recovery import RecoveryReport, RecoveryScanner, recover
from shepherd_store.schema import RUST_DDL
from shepherd_store.timefmt import format_timestamp

REPORT = Report("bench_recovery")
FULL_GOAL_MS = 2000.0
UPDATE_GOAL_MS = 20.0
CRASH_VERSION = 3
#: Share of sessions cut short by a crash (then a reboot), and of clean stops that crashed.
SESSION_CRASH_RATE = 0.004
IDLE_CRASH_RATE = 0.2


def crash_events(n: int, truth: dict[str, Any], *, crash: bool = True
                 ) -> Iterator[tuple[datetime, Event]]:
    """`_gen.generate(n)`'s events with crashes: `n` events, the crashes listed in `truth`.

    A crashed session loses its `session_ended` and is followed by a reboot
    (`service_started`, `policy_loaded`); a crashed idle run loses its `service_stopped`.
    `truth` also gets `cut_sessions`: sessions with a deadline that the n-th event left
    open (the history stops mid-session), which a scan a day later finds interrupted too.
    With `crash` False the events are `_gen.generate(n)`'s unchanged.
    """
    rng = random.Random(20260308)
    crashed: list[str] = []
    open_: dict[str, bool] = {}  # sessions started and not ended -> has a deadline
    idle = 0
    made = 0
    for when, event in _gen.generate(n):
        out: list[tuple[datetime, Event]] = [(when, event)]
        if (crash and isinstance(event, SessionEnded) and rng.random() < SESSION_CRASH_RATE
                and made + 2 <= n):  # the reboot is in the history too
            crashed.append(event.session_id)
            out = [(when, ServiceStarted()), (when + timedelta(seconds=0.4), PolicyLoaded(30))]
        elif (crash and isinstance(event, ServiceStopped) and rng.random() < IDLE_CRASH_RATE
              and made + 3 <= n):  # and the next start is in the history
            idle += 1
            out = []
        for item in out:
            if made >= n:
                break
            if isinstance(item[1], SessionStarted):
                open_[item[1].session_id] = item[1].deadline is not None
            elif isinstance(item[1], SessionEnded):
                open_.pop(item[1].session_id, None)
            yield item
            made += 1
        if made >= n:
            break
    cut = [sid for sid, limited in open_.items() if limited and sid not in set(crashed)]
    truth.update(crashed_sessions=crashed, idle_crashes=idle, cut_sessions=cut)


def mix_truth(n: int) -> dict[str, Any]:
    """What `_gen`'s own database holds for recovery: no crash, perhaps a cut session."""
    path = CACHE / f"mix-{n}-v{_gen.GEN_VERSION}.{CRASH_VERSION}.truth.json"
    if not path.exists():
        truth: dict[str, Any] = {}
        for _ in crash_events(n, truth, crash=False):
            pass
        path.write_text(json.dumps(truth), encoding="utf-8")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def build_crash_db(layout: str, n: int, path: Path, truth_path: Path) -> None:
    """A database like `_gen.build`'s but from `crash_events` (usage of ended sessions only)."""
    if layout == "seed":
        SqliteStore.open(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    truth: dict[str, Any] = {}
    try:
        conn.execute("PRAGMA synchronous = OFF")
        if layout == "rust":
            conn.execute("BEGIN")
            for ddl in RUST_DDL:
                conn.execute(ddl)
            conn.execute("COMMIT")
        rust = layout == "rust"
        insert = ("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)" if rust
                  else "INSERT INTO audit_log (timestamp, event_type, event_data) VALUES (?, ?, ?)")
        usage: dict[tuple[str, str], int] = {}
        conn.execute("BEGIN")
        batch: list[tuple[str, ...]] = []
        for when, event in crash_events(n, truth):
            stamp, text = format_timestamp(when), encode_event(event, rust=rust)
            if isinstance(event, SessionEnded):  # as _gen does
                key = (event.entry_id, when.strftime("%Y-%m-%d"))
                usage[key] = usage.get(key, 0) + int(event.duration.total_seconds())
            batch.append((stamp, text) if rust else (stamp, event.TYPE, text))
            if len(batch) >= 50_000:
                conn.executemany(insert, batch)
                batch = []
        conn.executemany(insert, batch)
        conn.executemany("INSERT INTO usage (entry_id, day, duration_secs) VALUES (?, ?, ?)",
                         [(e, d, s) for (e, d), s in sorted(usage.items())])
        conn.execute("COMMIT")
        if layout == "seed":
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    truth_path.write_text(json.dumps(truth), encoding="utf-8")


def ensure_crash_db(layout: str, n: int) -> tuple[Path, dict[str, Any]]:
    """The cached crash database of `layout` with `n` events, and its ground truth."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{layout}-{n}-crash-v{_gen.GEN_VERSION}.{CRASH_VERSION}.db"
    truth_path = path.with_suffix(".truth.json")
    with (CACHE / f".{path.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists() or not truth_path.exists():
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            for leftover in CACHE.glob(f".{path.name}.*.tmp*"):
                leftover.unlink()
            start = time.perf_counter()
            build_crash_db(layout, n, tmp, truth_path)
            for suffix in ("-wal", "-shm"):
                Path(str(tmp) + suffix).unlink(missing_ok=True)
            tmp.rename(path)
            print(f"[gen] {path.name}: {n:,} events in {time.perf_counter() - start:.1f} s",
                  file=sys.stderr)
    return path, json.loads(truth_path.read_text(encoding="utf-8"))


def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def wrong_findings(report: RecoveryReport, truth: dict[str, Any]) -> int:
    """Findings that disagree with what the database holds: a crashed (or cut) session not
    found, found twice or found when it was not; a missed idle crash; any other finding."""
    interrupted = [f.session_id for f in report.findings if f.kind == "interrupted_session"]
    unclean = sum(f.kind == "unclean_shutdown" for f in report.findings)
    other = sum(f.kind not in ("interrupted_session", "unclean_shutdown")
                for f in report.findings)
    expected = set(truth["crashed_sessions"]) | set(truth["cut_sessions"])
    return (len(set(interrupted) ^ expected) + len(interrupted) - len(set(interrupted))
            + abs(unclean - truth["idle_crashes"]) + other)


def append_session(writer: SqliteStore, after: datetime, rng: random.Random) -> datetime:
    """One session as the service writes it, after `after`; return its end."""
    sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    start = after + timedelta(seconds=rng.uniform(60, 600))
    deadline = start + timedelta(seconds=1800)
    end = deadline + timedelta(seconds=rng.uniform(0.3, 1.3))
    writer.append_audit(AuditEvent(0, start, SessionStarted(sid, "minecraft", "Minecraft",
                                                            deadline)))
    for threshold in (300, 60):
        writer.append_audit(AuditEvent(0, deadline - timedelta(seconds=threshold - 0.05),
                                       WarningIssued(sid, threshold)))
    writer.add_usage("minecraft", end.date(), end - start)
    writer.set_cooldown_until("minecraft", end + timedelta(minutes=30))
    writer.append_audit(AuditEvent(0, end, SessionEnded(sid, "minecraft", Expired(),
                                                        end - start)))
    return end


def bench(layout: str, n: int, crashes: bool, runs: int, updates: int, work: Path) -> None:
    if crashes:
        source, truth = ensure_crash_db(layout, n)
    else:
        source, truth = ensure_db(layout, n), mix_truth(n)
    path = work / f"{layout}-{'crash' if crashes else 'mix'}.db"
    shutil.copyfile(source, path)  # updates append to it: never to the cached file
    section = f"{layout}, {n:,} events{', with crashes' if crashes else ''}"
    injected = (f"; {len(truth['crashed_sessions'])} crashed sessions and "
                f"{truth['idle_crashes']} lost service_stopped injected" if crashes else "")
    if truth["cut_sessions"]:
        injected += f"; {len(truth['cut_sessions'])} session(s) open at the last row"
    print(f"\n{section} ({path.stat().st_size / 1e6:.0f} MB){injected}", flush=True)
    with SqliteStore.open(path, read_only=True) as store:
        newest = store.get_recent_audits(1)[0].timestamp
        now = newest + timedelta(days=1)
        times: list[float] = []
        report = None
        held: list[float] = []  # how long each statement held the lock (staged reads)
        store.statement_observer = lambda _sql, _params, seconds: held.append(seconds * 1000)
        for _ in range(runs):
            t0 = time.perf_counter()
            report = recover(store, now=now)
            times.append((time.perf_counter() - t0) * 1000)
        store.statement_observer = None
        assert report is not None
        kinds = {k: sum(f.kind == k for f in report.findings)
                 for k in ("interrupted_session", "unclean_shutdown")}
        REPORT.check(f"full scan, {section}", statistics.median(times), "ms",
                     at_most=FULL_GOAL_MS,
                     note=f"median of {runs}, first {times[0]:.0f} ms; {len(report.runs):,} runs,"
                          f" {kinds['interrupted_session']} interrupted, "
                          f"{kinds['unclean_shutdown']} unclean")
        REPORT.info(f"longest statement, full scan, {section}", max(held, default=None), "ms",
                    note=f"{len(held) // runs:,} statements a scan (statement_observer; "
                         "benchmarks/bench_service_latency.py measures what the service waits)")
        REPORT.check(f"wrong findings, {section}", wrong_findings(report, truth), "",
                     at_most=0, note="against the injected crashes" if crashes else
                     "a history without crashes")
        scanner = RecoveryScanner(store)
        scanner.scan(now=now)
        rng = random.Random(7)
        spent: list[float] = []
        missed = 0
        with SqliteStore.open(path) as writer:  # the service: another connection
            clock = newest
            for _ in range(updates):
                clock = append_session(writer, clock, rng)
                t0 = time.perf_counter()
                updated = scanner.update(now=now)
                spent.append((time.perf_counter() - t0) * 1000)
                missed += updated.last_id != writer.get_recent_audits(1)[0].id
        p95 = percentile(spent, 0.95)
        REPORT.check(f"incremental update, {section}", statistics.median(spent), "ms",
                     at_most=UPDATE_GOAL_MS,
                     note=f"median of {updates}, p95 {p95:.1f} ms, one session's 4 rows"
                          + (f"; {missed} updates did not reach the newest row" if missed
                             else ""))
        if missed:
            REPORT.check(f"updates that missed the new rows, {section}", missed, "",
                         at_most=0)
        final = scanner.update(now=now)
        REPORT.check(f"update = full scan afterwards, {section}",
                     int(final.findings != recover(store, now=now).findings), "",
                     at_most=0, note="1 if the incremental findings differ")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000, help="events per database")
    ap.add_argument("--runs", type=int, default=3, help="full scans per database (median)")
    ap.add_argument("--updates", type=int, default=30, help="incremental updates per database")
    ap.add_argument("--quick", action="store_true",
                    help="a test-sized run: 20,000 events, 2 full scans, 5 updates")
    args = ap.parse_args()
    if args.quick:
        args.events, args.runs, args.updates = 20_000, 2, 5
    load = os.getloadavg()
    print(f"recovery benchmark: SQLite {sqlite3.sqlite_version}, Python "
          f"{sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load[0]:.2f} {load[1]:.2f}")
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-recovery-", dir=CACHE))  # the same disk
    try:
        for layout in ("seed", "rust"):
            for crashes in (False, True):
                bench(layout, args.events, crashes, args.runs, args.updates, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return REPORT.finish()


if __name__ == "__main__":
    sys.exit(main())
