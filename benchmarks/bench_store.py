"""shepherd_store performance: durable appends vs raw sqlite3, and first pages of filtered
reads on 1,000,000-event databases in both layouts, each figure printed beside its goal.

    .venv/bin/python benchmarks/bench_store.py [--events N] [--appends N] [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _gen import CACHE, ensure_db
from _report import Report

from shepherd_store import (
    AuditEvent,
    AuditFilter,
    SessionStarted,
    SqliteStore,
    encode_event,
)
from shepherd_store.schema import SEED_INDEXES, SEED_TABLES
from shepherd_store.timefmt import format_timestamp, parse_timestamp

REPORT = Report("bench_store")


def _events(n: int) -> list[AuditEvent]:
    return [AuditEvent.new(SessionStarted(f"{i:08x}-0000-4000-8000-000000000000", "tuxmath",
                                          "Tux Math", None)) for i in range(n)]


def _raw_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA busy_timeout = 5000")
    for ddl in (*SEED_TABLES, *SEED_INDEXES):  # the same table and indexes to maintain
        conn.execute(ddl)
    return conn


def bench_appends(n: int, chunk: int = 50) -> None:
    """Library and raw appends interleaved in chunks, so all see the same disk and load.

    Three writers: the library; raw sqlite3 with rows encoded beforehand (the SQLite floor);
    raw sqlite3 encoding each row with the library's encoder inside the loop (separates the
    cost of producing the JSON from the store's own plumbing).
    """
    print(f"\nDurable appends (new WAL files, synchronous=FULL, one transaction each; {n} each, "
          f"interleaved in chunks of {chunk})")
    events = _events(n)
    rows = [(format_timestamp(e.timestamp), e.type, encode_event(e.event)) for e in _events(n)]
    sql = "INSERT INTO audit_log (timestamp, event_type, event_data) VALUES (?, ?, ?)"
    spent = {"lib": 0.0, "raw": 0.0, "enc": 0.0}
    with tempfile.TemporaryDirectory(prefix="bench-store-", dir=_tmp_dir()) as tmp:
        store = SqliteStore.open(Path(tmp) / "lib.db")
        raw = _raw_connection(Path(tmp) / "raw.db")
        enc = _raw_connection(Path(tmp) / "enc.db")
        try:
            for k in range(0, n, chunk):
                start = time.perf_counter()
                for event in events[k:k + chunk]:
                    store.append_audit(event)
                spent["lib"] += time.perf_counter() - start
                start = time.perf_counter()
                for row in rows[k:k + chunk]:
                    raw.execute("BEGIN IMMEDIATE")
                    raw.execute(sql, row)
                    raw.execute("COMMIT")
                spent["raw"] += time.perf_counter() - start
                start = time.perf_counter()
                for event in events[k:k + chunk]:
                    row = (format_timestamp(event.timestamp), event.type,
                           encode_event(event.event))
                    enc.execute("BEGIN IMMEDIATE")
                    enc.execute(sql, row)
                    enc.execute("COMMIT")
                spent["enc"] += time.perf_counter() - start
        finally:
            store.close()
            raw.close()
            enc.close()
    rate = {k: n / v for k, v in spent.items()}
    REPORT.info("appends: raw sqlite3, rows pre-encoded", rate["raw"], "/s", note="SQLite floor")
    REPORT.info("appends: raw sqlite3 + encode_event in loop", rate["enc"], "/s",
                note=f"{rate['enc'] / rate['raw']:.2f} of floor: cost of the JSON itself")
    REPORT.info("appends: SqliteStore.append_audit", rate["lib"], "/s",
                note=f"{rate['lib'] / rate['enc']:.2f} of raw+encode: store plumbing")
    REPORT.check("appends: library / raw floor, same run", rate["lib"] / rate["raw"], "x",
                 at_least=0.85)


def bench_usage_writes(n: int, chunk: int = 50) -> None:
    """Durable `add_usage` against raw sqlite3 running the same upsert, interleaved in chunks
    (the service adds usage once per session end; each add is one transaction)."""
    print(f"\nDurable usage adds (new WAL files, synchronous=FULL, one transaction each; {n} "
          f"each, interleaved in chunks of {chunk})")
    entries = ("tuxmath", "minecraft", "gcompris", "supertuxkart")
    start_day = date(2026, 1, 1)
    adds = [(entries[i % len(entries)], start_day + timedelta(days=i // 7), 60 + i % 900)
            for i in range(n)]
    sql = ("INSERT INTO usage (entry_id, day, duration_secs) VALUES (?, ?, ?) "
           "ON CONFLICT(entry_id, day) "
           "DO UPDATE SET duration_secs = duration_secs + excluded.duration_secs")
    spent = {"lib": 0.0, "raw": 0.0}
    with tempfile.TemporaryDirectory(prefix="bench-usage-", dir=_tmp_dir()) as tmp:
        store = SqliteStore.open(Path(tmp) / "lib.db")
        raw = _raw_connection(Path(tmp) / "raw.db")
        try:
            for k in range(0, n, chunk):
                start = time.perf_counter()
                for entry, day, seconds in adds[k:k + chunk]:
                    store.add_usage(entry, day, timedelta(seconds=seconds))
                spent["lib"] += time.perf_counter() - start
                start = time.perf_counter()
                for entry, day, seconds in adds[k:k + chunk]:
                    raw.execute("BEGIN IMMEDIATE")
                    raw.execute(sql, (entry, day.isoformat(), seconds))
                    raw.execute("COMMIT")
                spent["raw"] += time.perf_counter() - start
            lib_rows = store._conn.execute(
                "SELECT entry_id, day, duration_secs FROM usage ORDER BY 1, 2").fetchall()
            raw_rows = raw.execute(
                "SELECT entry_id, day, duration_secs FROM usage ORDER BY 1, 2").fetchall()
        finally:
            store.close()
            raw.close()
    rate = {k: n / v for k, v in spent.items()}
    REPORT.check("usage adds: same rows as raw sqlite3", int(lib_rows != raw_rows), "",
                 at_most=0, note=f"{len(lib_rows)} rows")
    REPORT.info("usage adds: raw sqlite3, the same upsert", rate["raw"], "/s",
                note="SQLite floor")
    REPORT.info("usage adds: SqliteStore.add_usage", rate["lib"], "/s")
    REPORT.check("usage adds: library / raw floor, same run", rate["lib"] / rate["raw"], "x",
                 at_least=0.85)


def _tmp_dir() -> str:
    """The database cache, on the repository's disk unless moved (tmpfs would flatter fsync)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    return str(CACHE)


def _time(fn: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """(median ms, first-run ms, last result)."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), times[0], result


def _probe(path: Path, layout: str) -> dict[str, Any]:
    """Pick realistic filter values from the database itself (outside the timed part)."""
    col = "event_json" if layout == "rust" else "event_data"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (max_id,) = conn.execute("SELECT max(id) FROM audit_log").fetchone()
        (newest,) = conn.execute("SELECT timestamp FROM audit_log WHERE id = ?",
                                 (max_id,)).fetchone()
        (session,) = conn.execute(
            f"SELECT json_extract({col}, '$.session_id') FROM audit_log WHERE id >= ? AND "
            f"{col} LIKE '{{\"type\":\"session_started\"%' ORDER BY id LIMIT 1",
            (max_id // 2,)).fetchone()
        counts = conn.execute("SELECT entry_id, sum(duration_secs) FROM usage "
                              "GROUP BY entry_id ORDER BY 2").fetchall()
    finally:
        conn.close()
    return {"newest": parse_timestamp(newest), "session": session, "rare_entry": counts[0][0],
            "common_entry": counts[-1][0], "max_id": max_id}


def bench_queries(layout: str, n_events: int, runs: int) -> None:
    path = ensure_db(layout, n_events)
    facts = _probe(path, layout)
    indexed_goal = 5.0 if layout == "seed" else 1000.0
    scan_goal = 1000.0
    print(f"\nFirst page (limit 200) on {n_events:,} events, {layout} layout "
          f"({path.stat().st_size / 1e6:.0f} MB), median of {runs} runs [first run]")
    section = f"{layout}, {n_events:,} events"
    with SqliteStore.open(path, read_only=True) as store:
        cases: list[tuple[str, Callable[[], Any], float, int | None]] = [
            ("get_recent_audits(200)", lambda: store.get_recent_audits(200), 5.0, 200),
            ("type: session_ended",
             lambda: store.find_audits(AuditFilter(event_types=frozenset({"session_ended"}))),
             indexed_goal, 200),
            ("types: launch_denied + config_reloaded",
             lambda: store.find_audits(AuditFilter(
                 event_types=frozenset({"launch_denied", "config_reloaded"}))),
             indexed_goal, 200),
            (f"entry: {facts['common_entry']} (most used)",
             lambda: store.find_audits(AuditFilter(entry_id=facts["common_entry"])),
             indexed_goal, 200),
            (f"entry: {facts['rare_entry']} (least used)",
             lambda: store.find_audits(AuditFilter(entry_id=facts["rare_entry"])),
             indexed_goal, None),
            ("session (mid-log, a few rows)",
             lambda: store.find_audits(AuditFilter(session_id=facts["session"])),
             indexed_goal, None),
            ("since: last 7 days",
             lambda: store.find_audits(AuditFilter(since=facts["newest"] - timedelta(days=7))),
             indexed_goal, 200),
            ("text: 'os error 2'",
             lambda: store.find_audits(AuditFilter(text="os error 2")), scan_goal, None),
            ("text: no match (full scan)",
             lambda: store.find_audits(AuditFilter(text="zz-no-such-text-zz")), scan_goal, 0),
        ]
        for what, fn, goal, expect in cases:
            median, first, page = _time(fn, runs)
            events = page if isinstance(page, list) else page.events
            if expect is not None and len(events) != expect:
                print(f"  !! {what}: {len(events)} rows, expected {expect}")
            kind = "indexed" if goal <= 5.0 else "scan"
            REPORT.check(f"first page, {what}, {section}", median, "ms", at_most=goal,
                         note=f"{kind}, {len(events)} rows, first run {first:.0f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000, help="events per database")
    ap.add_argument("--appends", type=int, default=4000, help="appends of each kind")
    ap.add_argument("--runs", type=int, default=5, help="runs per figure (median reported)")
    ap.add_argument("--skip-appends", action="store_true")
    ap.add_argument("--quick", action="store_true",
                    help="a test-sized run: 2,000 events, 200 appends, 3 runs")
    args = ap.parse_args()
    if args.quick:
        args.events, args.appends, args.runs = 2_000, 200, 3
    print(f"shepherd_store benchmark: SQLite {sqlite3.sqlite_version}, Python "
          f"{sys.version.split()[0]}, {os.cpu_count()} CPUs")
    if not args.skip_appends:
        bench_appends(args.appends)
        bench_usage_writes(args.appends)
    for layout in ("seed", "rust"):
        bench_queries(layout, args.events, args.runs)
    return REPORT.finish()


if __name__ == "__main__":
    sys.exit(main())
