"""How fast a committed event shows up in the window (goal: p95 <= 25 ms).

A separate writer process appends events at random intervals and prints the wall-clock
time right after each commit returns; the window (offscreen, its event loop running) notes
when each id is inserted into the table model. Run for a WAL (seed) and a rollback-journal
(Rust) database.

    .venv/bin/python benchmarks/bench_live.py [--events N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _report import Report, isolate_user_config
from PySide6.QtCore import QModelIndex, QTimer
from PySide6.QtWidgets import QApplication

from inspector.app import open_window
from shepherd_store import AuditEvent, ServiceStarted, SqliteStore
from shepherd_store.simulate import create_rust_database

WRITER = r"""
import random, sys, time, uuid
from shepherd_store import AuditEvent, SessionStarted, SqliteStore
path, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(3)
with SqliteStore.open(path) as store:
    time.sleep(0.5)
    for i in range(n):
        ev = AuditEvent.new(SessionStarted(str(uuid.uuid4()), "bench", "Bench", None))
        store.append_audit(ev)
        print(ev.id, time.time(), flush=True)
        time.sleep(rng.uniform(0.01, 0.09))
"""


def measure(path: Path, n: int) -> list[float]:
    app = QApplication.instance() or QApplication([])
    window = open_window(path)
    window.show()
    model = window.audit.model
    seen: dict[int, float] = {}

    def on_rows(_parent: QModelIndex, first: int, last: int) -> None:
        now = time.time()
        for row in range(first, last + 1):
            event = model.event_at(row)
            if event is not None:
                seen.setdefault(event.id, now)

    model.rowsInserted.connect(on_rows)
    repo = Path(__file__).resolve().parent.parent
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(n)], cwd=repo,
                              stdout=subprocess.PIPE, text=True)
    done = QTimer()
    done.setInterval(50)
    done.timeout.connect(lambda: writer.poll() is not None and len(seen) >= n and app.quit())
    done.start()
    QTimer.singleShot(60_000, app.quit)
    app.exec()
    out, _ = writer.communicate(timeout=30)
    committed = {int(a): float(b) for a, b in (line.split() for line in out.splitlines())}
    window.close()
    window.db.close()
    return [(seen[i] - t) * 1000 for i, t in committed.items() if i in seen]


def percentile(sorted_ms: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank below) of sorted values; None when there are none."""
    return sorted_ms[int(q * (len(sorted_ms) - 1))] if sorted_ms else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=150)
    parser.add_argument("--quick", action="store_true", help="a test-sized run: 20 events")
    args = parser.parse_args()
    if args.quick:
        args.events = 20
    isolate_user_config()
    report = Report("bench_live")
    print(f"commit → visible in the table, {args.events} events per mode (goal p95 <= 25 ms)")
    with tempfile.TemporaryDirectory() as tmp:
        wal = Path(tmp) / "wal.db"
        SqliteStore.open(wal).close()
        rollback = Path(tmp) / "rollback.db"
        create_rust_database(rollback, "delete")
        for name, path in (("WAL (seed layout)", wal), ("rollback journal (Rust)", rollback)):
            with SqliteStore.open(path) as store:  # not empty: every new event is an insert
                store.append_audit(AuditEvent.new(ServiceStarted()))
            lat = sorted(measure(path, args.events))
            report.check(f"{name}: committed events seen in the table", len(lat), "events",
                         at_least=args.events)
            report.info(f"{name}: commit to visible, p50", percentile(lat, 0.5), "ms")
            report.check(f"{name}: commit to visible, p95", percentile(lat, 0.95), "ms",
                         at_most=25)
            report.info(f"{name}: commit to visible, max", lat[-1] if lat else None, "ms")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
