"""A database on another computer over a slow link (issue #17), each figure beside its goal.

The test sshd of tests/sshd.py (a real OpenSSH server on 127.0.0.1, throwaway keys) serves a
copy of `_gen`'s Rust-layout database of N events; the relay of tests/relay.py sits between
ssh and it and holds every chunk 50 ms each way (a 100 ms round trip). Over that link:

- the round trip of one request (ping) through ssh: the baseline, printed;
- the first page of the audit log (200 events) through `RemoteStore`, from connecting (ssh
  login, the server started there, the database opened) to the page, less the time ssh's
  own login takes (`ssh HOST true`, the baseline measured in the same run: ~10 round trips
  no program over ssh avoids): <= 400 ms; the whole time from connecting, the same
  over an ssh master connection (ControlMaster/ControlPersist, as a person may have it in
  ~/.ssh/config), and `ssh HOST true` alone, for information; and warm (the connection
  made): <= 400 ms;
- a live change: a local writer commits a row to the served file; until the client's
  `on_change` hears of it: <= the round trip + 50 ms (median; the worst in the note);
- a year of usage (`usage_between`) and the window's Usage tab's data (`read_usage` of
  inspector.usage_data, a year): <= 600 ms each, warm;
- `shepherd-store --db ssh://... audit --limit 20` in a process of its own: its first line
  and the whole command (information; the same command on the file here beside it: the
  table names entries, and their labels are read from the whole log either way);
- the window (`inspector.app.open_window(ssh://...)`, in a fresh process): the first page
  of the event log painted, from opening (information: ssh login included) and from the
  moment it is connected (<= 400 ms); the Usage tab shown with its own range, then a year
  picked in it (<= 600 ms each).

Then the same figures with no delay added (information).

    .venv/bin/python benchmarks/bench_remote.py [--events N] [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))  # the test sshd and the relay
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _gen import CACHE, ensure_db  # noqa: E402
from _report import Report, isolate_user_config  # noqa: E402
from relay import Relay, ssh_options, url  # noqa: E402
from sshd import Sshd  # noqa: E402

from inspector.usage_data import read_usage  # noqa: E402  (no Qt: the tab's reads)
from shepherd_store import AuditEvent, AuditFilter, ServiceStarted, SqliteStore  # noqa: E402
from shepherd_store.remote import RemoteStore  # noqa: E402
from shepherd_store.store import ChangeToken  # noqa: E402
from shepherd_store.usage import Preset  # noqa: E402

ONE_WAY_S = 0.05
FIRST_PAGE_GOAL_MS = 400.0
USAGE_GOAL_MS = 600.0
LIVE_MARGIN_MS = 50.0
PAGE = 200
CLI = Path(sys.executable).parent / "shepherd-store"


def ms(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - start) * 1000


def median(values: list[float | None]) -> float | None:
    """Median of the runs; None if any run measured nothing."""
    if not values or any(v is None for v in values):
        return None
    return statistics.median(v for v in values if v is not None)


class Link:
    """The sshd behind a relay with a one-way delay: how to reach it."""

    def __init__(self, sshd: Sshd, relay: Relay, db: Path, control: Path) -> None:
        self.sshd = sshd
        self.relay = relay
        self.db = db
        self.url = url(sshd, db)
        self.options = ssh_options(sshd, relay)
        # (a socket's path has at most 107 bytes: `control` is a short folder of /tmp)
        self.master = ["-o", "ControlMaster=auto", "-o", f"ControlPath={control}/%C",
                       "-o", "ControlPersist=120"]

    def open(self, *, master: bool = False, **options: Any) -> RemoteStore:
        return RemoteStore.open(self.url, ssh_options=[*(self.master if master else []),
                                                       *self.options],
                                remote_python=[sys.executable], connect_timeout=60.0,
                                **options)

    def ssh(self, *argv: str, master: bool = False) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["ssh", *(self.master if master else []), *self.options, "-T",
                               *argv], capture_output=True, timeout=60, check=False)

    def ssh_true(self) -> float | None:
        done, took = ms(lambda: self.ssh(f"{self.sshd.user}@127.0.0.1", "true"))
        return took if done.returncode == 0 else None

    def stop_master(self) -> None:
        self.ssh("-O", "exit", f"{self.sshd.user}@127.0.0.1", master=True)


def connect_to_first_page(link: Link, *, master: bool = False) -> float | None:
    """A new connection, then the newest page of the log: ms, from before connecting."""
    start = time.perf_counter()
    with link.open(master=master) as store:
        page = store.find_audits(AuditFilter(), limit=PAGE)
        took = (time.perf_counter() - start) * 1000
    return took if len(page.events) == PAGE else None


def live_changes(link: Link, runs: int) -> list[float | None]:
    """ms from a local writer's commit (its start) until the client hears of it."""
    heard: list[tuple[float, ChangeToken]] = []
    arrived = threading.Condition()

    def changed(token: ChangeToken) -> None:
        with arrived:
            heard.append((time.perf_counter(), token))
            arrived.notify_all()

    out: list[float | None] = []
    gaps = random.Random(17)
    with link.open(on_change=changed) as store, SqliteStore.open(link.db) as writer:
        top = store.change_token().last_audit_id
        when = writer.get_recent_audits(1)[0].timestamp
        for _ in range(runs):
            # (between commits, each a change of its own, at any phase of the watcher's poll)
            time.sleep(0.3 + gaps.uniform(0, 0.1))
            start = time.perf_counter()
            writer.append_audit(AuditEvent(0, when, ServiceStarted()))
            top += 1
            with arrived:
                seen = arrived.wait_for(lambda t=top: any(
                    tok.last_audit_id >= t for _at, tok in heard), timeout=10)
            at = next((at for at, tok in heard if tok.last_audit_id >= top), None)
            out.append((at - start) * 1000 if seen and at is not None else None)
    return out


def remote_env(link: Link) -> dict[str, str]:
    """The environment of a process that reaches the database through `link`."""
    return {**os.environ, "SHEPHERD_SSH_OPTIONS": " ".join(link.options),
            "SHEPHERD_REMOTE_PYTHON": sys.executable}


def cli_audit(link: Link, *, local: bool = False) -> tuple[float | None, float | None]:
    """`shepherd-store --db ssh://... audit --limit 20` (with `local`, on the file here):
    (first line, whole command) in ms."""
    start = time.perf_counter()
    proc = subprocess.Popen([str(CLI), "--db", str(link.db) if local else link.url, "audit",
                             "--limit", "20"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=remote_env(link))
    assert proc.stdout is not None
    first = proc.stdout.readline()
    first_ms = (time.perf_counter() - start) * 1000
    rest = proc.stdout.read()
    proc.wait(60)
    whole_ms = (time.perf_counter() - start) * 1000
    lines = len((first + rest).splitlines())
    if proc.returncode != 0 or lines != 21:
        print(f"  !! the CLI failed ({proc.returncode}, {lines} lines): "
              f"{proc.stderr.read().decode()[-500:] if proc.stderr else ''}", file=sys.stderr)
        return None, None
    return first_ms, whole_ms


def window_child(address: str, warmup: str) -> None:
    """In a fresh process: open the window on `address`, time the event log's first paint
    with rows (from opening, and from connected), then the Usage tab shown with its own
    range and a year picked in it; print a JSON line."""
    from _window import FirstPaint, warm_up
    from PySide6.QtWidgets import QApplication

    from inspector import workers
    from inspector.app import open_window

    app = QApplication([])
    warm_up(app, warmup)  # (Qt's first-window costs, paid on a small local file)

    def spin(done: Callable[[], bool], seconds: float = 60) -> bool:
        deadline = time.perf_counter() + seconds
        while not done() and time.perf_counter() < deadline:
            app.processEvents()
            time.sleep(0.0005)
        return done()

    start = time.perf_counter()
    window = open_window(address)
    window.tabs.setCurrentWidget(window.audit)
    window.audit.show_events()
    spy = FirstPaint(lambda: window.audit.model.rowCount() > 0)
    window.audit.table.viewport().installEventFilter(spy)
    window.resize(1280, 800)
    window.show()
    spin(lambda: window.db.store is not None)
    connected = time.perf_counter()
    spin(lambda: spy.painted is not None)
    out: dict[str, float | None] = {"first_paint_ms": None, "after_connect_ms": None,
                                    "usage_shown_ms": None, "usage_ms": None}
    if spy.painted is not None:
        out["first_paint_ms"] = (spy.painted - start) * 1000
        out["after_connect_ms"] = (spy.painted - connected) * 1000
    workers.wait_all()
    # The Usage tab as a person meets it: chosen, built, its range read and painted; then a
    # year picked in it (one read each: picking the year while the tab's own first read is
    # under way measured two reads one after the other).
    start = time.perf_counter()
    tab = window.usage
    window.tabs.setCurrentWidget(tab)
    if spin(lambda: tab.daily is not None and not tab._loading):
        tab.repaint()
        out["usage_shown_ms"] = (time.perf_counter() - start) * 1000
    workers.wait_all()
    start = time.perf_counter()
    tab.set_range(Preset.YEAR)
    if spin(lambda: tab.daily is not None and tab.daily.range.days >= 365
            and not tab._loading and tab.model.rowCount() > 0):
        tab.repaint()
        out["usage_ms"] = (time.perf_counter() - start) * 1000
    workers.wait_all()
    window.close()
    window.db.close()
    window.db.wait_closed(15.0)
    print(json.dumps(out), flush=True)


def run_window(link: Link) -> dict[str, Any] | None:
    """`window_child` in a process of its own, through `link`."""
    proc = subprocess.run([sys.executable, __file__, "--child", link.url, "--warmup",
                           str(ensure_db("seed", 1000))], capture_output=True, text=True,
                          timeout=180, env=remote_env(link))
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        print(f"  !! the window's process failed (status {proc.returncode}):\n"
              f"{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def last_usage_day(db: Path) -> date:
    with SqliteStore.open(db, read_only=True) as store:
        days = [r.day for r in store.usage_between()]
    return max(days)


def measure(report: Report, link: Link, runs: int, label: str, goals: bool) -> None:
    """Every figure over `link`; with `goals`, checked against them, else information."""
    size = f"{int(link.db.stem.split('-')[1]):,} events" if "-" in link.db.stem else "?"

    def figure(name: str, value: float | None, goal: float | None, note: str = "") -> None:
        if goals and goal is not None:
            report.check(f"{name}, {label}", value, "ms", at_most=goal, note=note)
        else:
            report.info(f"{name}, {label}", value, "ms", note=note)

    with link.open() as store:  # (also warms the page cache and the server's imports)
        store.find_audits(AuditFilter(), limit=PAGE)
        pings = [ms(lambda: store._call("ping"))[1] for _ in range(max(runs, 5))]
        baseline = statistics.median(pings)
        figure("round trip of a request (ping; the baseline)", baseline, None,
               f"median of {len(pings)}")
        warm: list[float | None] = [ms(lambda: store.find_audits(AuditFilter(), limit=PAGE))[1]
                for _ in range(runs)]
        year_end = last_usage_day(link.db)
        year = (year_end - timedelta(days=364), year_end)
        records, _t = ms(lambda: store.usage_between(*year))
        usage: list[float | None] = [ms(lambda: store.usage_between(*year))[1] for _ in range(runs)]
        tab: list[float | None] = [ms(lambda: read_usage(store, Preset.YEAR, None, year_end))[1]
               for _ in range(runs)]
    login = median([link.ssh_true() for _ in range(runs)])
    figure("ssh login and a remote command (ssh HOST true): the baseline", login, None,
           f"median of {runs}; about ten round trips of ssh's own, whoever runs it")
    cold = [connect_to_first_page(link) for _ in range(runs)]
    figure(f"first page of the audit log, connect to first page, {size}", median(cold), None,
           f"median of {runs} new connections; {PAGE} events; ssh login included")
    ours = median(cold)
    figure(f"first page from connecting, beyond ssh's own login, {size}",
           None if ours is None or login is None else ours - login, FIRST_PAGE_GOAL_MS,
           "the server started there, the handshake, the database opened, the page")
    link.ssh(f"{link.sshd.user}@127.0.0.1", "true", master=True)  # (starts the master)
    try:
        shared = [connect_to_first_page(link, master=True) for _ in range(runs)]
    finally:
        link.stop_master()
    figure(f"first page, connect to first page over an ssh master connection, {size}",
           median(shared), None, f"median of {runs}; ControlMaster/ControlPersist")
    figure(f"first page of the audit log, warm, {size}", median(warm),
           FIRST_PAGE_GOAL_MS, f"median of {runs}")
    live = live_changes(link, max(2 * runs, 5))
    measured = [v for v in live if v is not None]
    figure("a live change: a local commit until the client hears of it", median(live),
           baseline + LIVE_MARGIN_MS,
           (f"median of {len(live)}, worst {max(measured):.0f} ms"
            + (f"; goal: round trip {baseline:.0f} + {LIVE_MARGIN_MS:.0f} ms" if goals else ""))
           if measured else "")
    figure(f"a year of usage (usage_between, {len(records):,} rows)", median(usage),
           USAGE_GOAL_MS, f"median of {runs}")
    figure("the Usage tab's data (read_usage, a year)", median(tab), USAGE_GOAL_MS,
           f"median of {runs}")
    cli = [cli_audit(link) for _ in range(runs)]
    figure("CLI audit --limit 20: first line", median([c[0] for c in cli]), None,
           f"median of {runs} processes")
    figure("CLI audit --limit 20: whole command", median([c[1] for c in cli]), None,
           f"median of {runs} processes")
    if goals:  # (the file here: the same with any link)
        here = [cli_audit(link, local=True) for _ in range(runs)]
        report.info("CLI audit --limit 20 on the file here: whole command (baseline)",
                    median([c[1] for c in here]), "ms", note=f"median of {runs} processes")
    windows = [run_window(link) for _ in range(max(1, runs // 2))]

    def window_figure(key: str) -> float | None:
        return median([w[key] if w else None for w in windows])

    note = f"median of {len(windows)} fresh processes"
    figure("window: first page of the event log painted, from opening", window_figure(
        "first_paint_ms"), None, f"{note}; ssh login included")
    figure("window: first page of the event log painted, from connected", window_figure(
        "after_connect_ms"), FIRST_PAGE_GOAL_MS, note)
    figure("window: the Usage tab shown (its own range)", window_figure("usage_shown_ms"),
           USAGE_GOAL_MS, f"{note}; from choosing the tab to its data read and painted")
    figure("window: a year picked in the Usage tab", window_figure("usage_ms"),
           USAGE_GOAL_MS, f"{note}; from picking it to its data read and painted")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="a test-sized run: 2,000 events, two runs each")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--warmup", help=argparse.SUPPRESS)
    args = parser.parse_args()
    isolate_user_config()  # (the windows' settings stay out of the person's)
    if args.child:
        window_child(args.child, args.warmup)
        return 0
    if args.quick:
        args.events, args.runs = 2_000, 2
    load = os.getloadavg()
    print(f"remote benchmark: SQLite {sqlite3.sqlite_version}, Python "
          f"{sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load[0]:.2f} {load[1]:.2f}")
    report = Report("bench_remote")
    source = ensure_db("rust", args.events)
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-remote-", dir=CACHE))  # (the same disk)
    control = Path(tempfile.mkdtemp(prefix="cm-"))
    sshd: Sshd | None = None
    try:
        db = work / source.name
        shutil.copyfile(source, db)  # the live change writes: never to the cached file
        sshd = Sshd.start(work / "sshd")
        for one_way, label, goals in ((ONE_WAY_S, "100 ms round trip", True),
                                      (0.0, "no delay added", False)):
            print(f"\n== over a link of {label} (sshd on 127.0.0.1:{sshd.port}), "
                  f"{args.events:,} events ({db.stat().st_size / 1e6:.0f} MB)", flush=True)
            with Relay(sshd.port, one_way) as relay:
                measure(report, Link(sshd, relay, db, control), args.runs, label, goals)
    finally:
        if sshd is not None:
            sshd.stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(control, ignore_errors=True)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
