"""Soak: the service writes flat out while a person uses every part of the window.

For each journal mode, the library's simulator (`python -m shepherd_store.simulate --live
--interval 0 --ack`) writes sessions as fast as it can from a separate process, with the
daemon's 5 s busy timeout, into a fresh database: a Rust-layout one in rollback-journal
mode (`delete`, as shepherdd ships) and a seed-layout one in WAL mode (as this library
creates). Meanwhile the inspector window (offscreen) cycles through every tab, scrolls,
filters, searches (SQL and LIKE metacharacters included), exports, and every second makes a
cooldown edit through the Cooldowns tab's own code path. A 10 ms timer in the GUI thread
measures the longest stall; /proc/self/status gives the memory.

Afterwards it checks: the writer reported no error; every id it acknowledged is in the
database and in the final (unfiltered) view; every edit the window reported as written is
stored, in order, with its trace; `PRAGMA integrity_check` is ok; no stall over 100 ms;
memory growth at most 20 MB.

    .venv/bin/python benchmarks/soak.py [--seconds 60]

`run_soak(seconds)` is the importable entry point (the test suite runs a short version).
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from inspector import workers
from inspector.app import open_window
from inspector.main_window import MainWindow
from shepherd_store import SqliteStore
from shepherd_store.overrides import cooldown_text
from shepherd_store.simulate import create_rust_database
from shepherd_store.timefmt import local_now

REPO = Path(__file__).resolve().parent.parent
MODES = ("delete", "wal")
MAX_STALL_MS = 100.0
MAX_GROWTH_MB = 20.0
EDIT_ENTRY = "soak-edit"
HEARTBEAT_MS = 10
#: Search texts a person (or a mischievous child) might type: SQL and LIKE metacharacters.
SEARCHES = ("", "minecraft", "expired", "%", "_", "%_\\", "' OR 1=1 --", "\"; DROP TABLE x;",
            "[a-z]*", "uid", "Tux Math", "\\%", "100%", "a_b")


@dataclass
class SoakFigures:
    """What one journal mode's run measured; `failures` lists every check that failed."""

    mode: str
    layout: str
    seconds: float
    events_acked: int = 0
    writer_errors: int = 0
    events_lost_db: int = 0
    events_lost_view: int = 0
    edits_written: int = 0
    edits_lost: int = 0
    edits_refused: int = 0  # the window showed an error instead of writing (e.g. locked)
    errors_shown: int = 0  # messages the window showed about the database (none expected)
    actions: int = 0
    exports: int = 0
    integrity: str = "?"
    max_stall_ms: float = 0.0
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def rss_growth_mb(self) -> float:
        return self.rss_end_mb - self.rss_start_mb

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        return (f"{self.mode:>6} ({self.layout}): {self.events_acked:,} events acked, "
                f"{self.writer_errors} writer errors, lost {self.events_lost_db} in the "
                f"database and {self.events_lost_view} in the view; {self.edits_written} "
                f"edits, {self.edits_lost} lost, {self.edits_refused} refused; "
                f"{self.errors_shown} errors shown; "
                f"{self.actions:,} actions, {self.exports} exports; integrity "
                f"{self.integrity}; max stall {self.max_stall_ms:.0f} ms; memory "
                f"{self.rss_start_mb:.0f} → {self.rss_end_mb:.0f} MB "
                f"({self.rss_growth_mb:+.1f})")


def rss_mb() -> float:
    """Resident memory of this process (VmRSS), in MB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def wait_until(app: QApplication, predicate: Callable[[], bool], timeout: float) -> bool:
    """Run the event loop until `predicate()` holds (True) or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.005)
    return predicate()


def run_events(app: QApplication, seconds: float) -> None:
    """Let the event loop run for `seconds` (timers fire, workers report)."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


class Heartbeat:
    """A 10 ms timer in the GUI thread; `max_gap_ms` is the longest time between ticks."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.max_gap_ms = 0.0
        self.worst: list[tuple[float, str]] = []
        self.doing = ""

    def start(self) -> None:
        self.last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = (now - self.last) * 1000
        self.last = now
        if gap > self.max_gap_ms:
            self.max_gap_ms = gap
        if gap > MAX_STALL_MS:
            self.worst.append((gap, self.doing))


class Person:
    """Drives the window at random like a busy parent: every tab, scrolling, filters, search,
    exports, and a cooldown edit each second (confirmations answered yes)."""

    def __init__(self, window: MainWindow, workdir: Path, rng: random.Random,
                 heartbeat: Heartbeat) -> None:
        self.w = window
        self.workdir = workdir
        self.rng = rng
        self.hb = heartbeat
        self.actions = 0
        self.exports = 0
        self.export_running = False
        self.written: list[str | None] = []  # raw values the window reported as written
        self.refused: list[str] = []
        self.shown: list[str] = []  # error messages the window showed
        window.db.failed.connect(lambda text: self.shown.append(f"window: {text}"))
        window.audit.model.error.connect(lambda text: self.shown.append(f"audit: {text}"))
        self.edits = 0
        tab = window.cooldowns
        tab.confirm = lambda _text: True  # type: ignore[method-assign]
        tab.decide_conflict = lambda _text: False  # type: ignore[method-assign]
        tab.report = self.refused.append  # type: ignore[method-assign]
        self.action_timer = QTimer()
        self.action_timer.setSingleShot(True)
        self.action_timer.timeout.connect(self.act)
        self.edit_timer = QTimer()
        self.edit_timer.setInterval(1000)
        self.edit_timer.timeout.connect(self.edit)

    def start(self) -> None:
        self.action_timer.start(10)
        self.edit_timer.start()

    def stop(self) -> None:
        self.action_timer.stop()
        self.edit_timer.stop()

    # --- what the person does ------------------------------------------------------------

    def look(self) -> None:
        """Note any message about the database that a tab shows (none should appear)."""
        w = self.w
        for label in (w.cooldowns.notice, w.snapshot.notice, w.usage.message):
            text = f"{label.objectName()}: {label.text()}"
            if label.isVisibleTo(w) and label.text() and \
                    not label.text().startswith("Read-only") and text not in self.shown:
                self.shown.append(text)

    def act(self) -> None:
        self.look()
        choice = self.rng.randrange(14)
        w, audit, rng = self.w, self.w.audit, self.rng
        model = audit.model
        self.hb.doing = f"action {choice}"
        if choice == 0:
            w.tabs.setCurrentIndex((w.tabs.currentIndex() + 1) % w.tabs.count())
        elif choice == 1 and model.rowCount():
            audit.table.scrollTo(model.index(rng.randrange(model.rowCount()), 0))
        elif choice == 2:
            audit.table.scrollToBottom()
        elif choice == 3:
            audit.scroll_to_newest()
        elif choice == 4:
            audit.type_actions[rng.choice(list(audit.type_actions))].toggle()
        elif choice == 5:
            audit.search.setText(rng.choice(SEARCHES))
            audit._apply_filter()
        elif choice == 6:
            audit.clear_filters()
        elif choice == 7 and audit.entry_combo.count():
            audit.entry_combo.setCurrentIndex(rng.randrange(audit.entry_combo.count()))
        elif choice == 8 and model.rowCount():
            audit.table.selectRow(rng.randrange(min(model.rowCount(), 500)))
        elif choice == 9:
            self.export()
        elif choice == 10:
            usage = w.usage
            w.tabs.setCurrentWidget(usage)
            combo = rng.choice([usage.range_combo, usage.mode_combo, usage.bucket_combo])
            if combo.count():
                combo.setCurrentIndex(rng.randrange(combo.count()))
        elif choice == 11:
            tab = w.cooldowns
            w.tabs.setCurrentWidget(tab)
            n = tab.model.rowCount()
            if n:
                tab.table.selectRow(rng.randrange(n))
        elif choice == 12:
            w.tabs.setCurrentWidget(w.snapshot)
            w.snapshot.reload()
        else:
            audit.time_combo.setCurrentIndex(rng.randrange(4))  # not "Custom…"
        self.actions += 1
        self.hb.doing = ""
        self.action_timer.start(rng.randrange(5, 60))

    def export(self) -> None:
        if self.export_running:
            return
        fmt = self.rng.choice(["csv", "json"])
        target = self.workdir / f"export.{fmt}"
        self.export_running = True

        def finished(_result: object) -> None:
            self.export_running = False
            self.exports += 1

        def failed(_message: str) -> None:
            self.export_running = False

        sig = self.w.audit.export(target, fmt, show_progress=False)
        sig.finished.connect(finished)
        sig.failed.connect(failed)

    def edit(self) -> None:
        """One cooldown edit on the soak's own entry: extend it four times, then clear it."""
        tab = self.w.cooldowns
        if tab.model.row_of(EDIT_ENTRY) is None:
            return  # the tab has not loaded yet
        self.hb.doing = "cooldown edit"
        tab.select_entries([EDIT_ENTRY])
        clear = self.edits % 5 == 4
        got: list[bool] = []

        def on_written() -> None:
            got.append(True)

        tab.written.connect(on_written)
        try:
            if clear:
                tab.clear_selected()
            else:
                tab.extend_selected(timedelta(minutes=1))
        finally:
            tab.written.disconnect(on_written)
        self.edits += 1
        if got:
            row = tab.model.row_of(EDIT_ENTRY)
            self.written.append(tab.model.rows[row].raw if row is not None else None)
        self.hb.doing = ""


def _prepare(path: Path, mode: str) -> str:
    """A new database for `mode`, with a cooldown for the soak's own entry; its layout."""
    if mode == "delete":
        create_rust_database(path, "delete")
        layout = "rust"
    else:
        SqliteStore.open(path).close()  # the library's own: seed layout, WAL
        layout = "seed"
    with SqliteStore.open(path) as store:
        store.set_cooldown_until(EDIT_ENTRY, local_now() + timedelta(minutes=10))
        # Some usage keeps the entry listed while its cooldown is cleared.
        store.add_usage(EDIT_ENTRY, local_now().date(), timedelta(minutes=5))
    return layout


def soak_one(app: QApplication, mode: str, seconds: float, workdir: Path,
             seed: int = 1) -> SoakFigures:
    """Run the soak for one journal mode; returns the figures and failed checks."""
    path = workdir / f"soak-{mode}.db"
    layout = _prepare(path, mode)
    fig = SoakFigures(mode, layout, seconds)
    window = open_window(path)
    window.show()
    wait_until(app, lambda: window.cooldowns.model.row_of(EDIT_ENTRY) is not None, 10)
    out_path, err_path = workdir / f"writer-{mode}.out", workdir / f"writer-{mode}.err"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with out_path.open("w") as out, err_path.open("w") as err:
        writer = subprocess.Popen(
            [sys.executable, "-m", "shepherd_store.simulate", str(path), "--days", "1",
             "--live", "--interval", "0", "--ack"], cwd=REPO, env=env, stdout=out, stderr=err)
    heartbeat = Heartbeat()
    person = Person(window, workdir, random.Random(seed), heartbeat)
    try:
        run_events(app, min(1.0, seconds / 5))  # the writer starts; first loads land
        for i in range(window.tabs.count()):  # first visits import and lay out (once)
            window.tabs.setCurrentIndex(i)
            run_events(app, 0.1)
        window.tabs.setCurrentIndex(0)
        fig.rss_start_mb = rss_mb()
        heartbeat.start()
        person.start()
        run_events(app, seconds)
        person.stop()
        heartbeat.stop()
        fig.rss_end_mb = rss_mb()
    finally:
        writer.send_signal(signal.SIGTERM)
        try:
            writer.wait(timeout=60)
        except subprocess.TimeoutExpired:
            writer.kill()
            writer.wait()
            fig.failures.append("the writer did not stop within 60 s of SIGTERM")
    fig.max_stall_ms = heartbeat.max_gap_ms
    fig.actions, fig.exports = person.actions, person.exports
    fig.edits_written, fig.edits_refused = len(person.written), len(person.refused)
    person.look()
    fig.errors_shown = len(person.shown)
    _check_writer(fig, writer.returncode, out_path, err_path)
    acked = [int(line.split()[1]) for line in out_path.read_text().splitlines()
             if line.startswith("ack ") and len(line.split()) == 2]
    fig.events_acked = len(acked)
    wait_until(app, lambda: not person.export_running, 30)
    _check_view(app, fig, window, path, acked)
    _check_edits(fig, path, person.written)
    fig.integrity = integrity(path)
    if fig.integrity != "ok":
        fig.failures.append(f"integrity_check: {fig.integrity}")
    if fig.max_stall_ms > MAX_STALL_MS:
        worst = sorted(heartbeat.worst, reverse=True)[:5]
        fig.failures.append(f"GUI stalled {fig.max_stall_ms:.0f} ms (> {MAX_STALL_MS:.0f}); "
                            "worst: " + ", ".join(f"{g:.0f} ms in {d or 'idle'}"
                                                  for g, d in worst))
    if fig.rss_growth_mb > MAX_GROWTH_MB:
        fig.failures.append(f"memory grew {fig.rss_growth_mb:.1f} MB (> {MAX_GROWTH_MB:.0f})")
    if person.shown:
        fig.failures.append(f"{len(person.shown)} error messages shown, e.g. "
                            f"{person.shown[0][:200]!r}")
    if person.refused:
        fig.failures.append(f"{len(person.refused)} edits refused: {person.refused[0][:200]}")
    if fig.events_acked < 100:
        fig.failures.append(f"the writer acknowledged only {fig.events_acked} events")
    window.close()
    workers.wait_all(30_000)
    window.deleteLater()
    app.processEvents()
    return fig


def _check_writer(fig: SoakFigures, code: int | None, out: Path, err: Path) -> None:
    lines = err.read_text(errors="replace").splitlines()
    reported = [line for line in lines if line.startswith("error ")]
    last = next((line for line in reversed(lines) if line.startswith("errors ")), None)
    fig.writer_errors = int(last.split()[1]) if last else len(reported) or -1
    if code != 0:
        fig.failures.append(f"the writer exited with {code}: {' '.join(lines[-3:])[:300]}")
    if fig.writer_errors != 0:
        first = reported[0] if reported else "no 'errors N' line"
        fig.failures.append(f"writer errors: {fig.writer_errors} ({first[:200]})")


def _check_view(app: QApplication, fig: SoakFigures, window: MainWindow, path: Path,
                acked: list[int]) -> None:
    """Every acknowledged id is stored, and shown once the window has caught up."""
    with SqliteStore.open(path, read_only=True) as store:
        rng = store.audit_id_range()
        stored: set[int] = set()
        if rng is not None:
            stored = {e.id for e in store.find_audits(limit=rng[1] - rng[0] + 10).events}
    lost = sorted(set(acked) - stored)
    fig.events_lost_db = len(lost)
    if lost:
        fig.failures.append(f"{len(lost)} acknowledged events missing from the database, "
                            f"e.g. {lost[:5]}")
    tab, model = window.audit, window.audit.model
    tab.clear_filters()
    top = max(stored, default=0)
    window.db.check_now()
    wait_until(app, lambda: not model.loading and model.rowCount() > 0
               and model.event_at(0) is not None and model.event_at(0).id == top, 15)  # type: ignore[union-attr]
    shown: set[int] = set()
    for row in range(model.rowCount()):
        event = model.event_at(row)
        if event is not None:
            shown.add(event.id)
    missing = sorted(set(acked) - shown)
    fig.events_lost_view = len(missing)
    if missing:
        fig.failures.append(f"{len(missing)} acknowledged events not in the final view, "
                            f"e.g. {missing[:5]}")


def _check_edits(fig: SoakFigures, path: Path, written: list[str | None]) -> None:
    """Each edit the window reported is stored with its trace, in order; the last one holds."""
    with SqliteStore.open(path, read_only=True) as store:
        final = cooldown_text(store, EDIT_ENTRY)
        trace = [r.change.new for r in reversed(store.list_overrides())
                 if r.change.what == "cooldown" and r.change.entry_id == EDIT_ENTRY]
    lost = 0
    if written and final != written[-1]:
        lost += 1
        fig.failures.append(f"the last edit wrote {written[-1]!r} but {final!r} is stored")
    if trace != written:
        missing = len(written) - len(trace)
        lost += max(missing, 1)
        fig.failures.append(f"{len(written)} edits reported written, {len(trace)} traces "
                            "stored" + ("" if missing else " (in a different order)"))
    fig.edits_lost = lost
    if fig.seconds >= 5 and not written:
        fig.failures.append("no edit was written: the check proves nothing")


def run_soak(seconds: float, modes: tuple[str, ...] = MODES, *, seed: int = 1,
             log: Callable[[str], Any] | None = None) -> list[SoakFigures]:
    """The soak for `seconds` per journal mode; the figures of each mode, in order."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    out = []
    workdir = Path(tempfile.mkdtemp(prefix="shepherd-soak-"))
    try:
        for mode in modes:
            fig = soak_one(app, mode, seconds, workdir, seed)
            if log is not None:
                log(fig.summary())
                for failure in fig.failures:
                    log(f"    FAILED: {failure}")
            out.append(fig)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60.0, help="per journal mode (default 60)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="shepherd-soak-config-")
    atexit.register(shutil.rmtree, os.environ["XDG_CONFIG_HOME"], True)  # leave nothing behind
    figures = run_soak(args.seconds, seed=args.seed, log=print)
    return 0 if all(f.ok for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
