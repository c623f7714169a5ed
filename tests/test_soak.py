"""Reliability under load: the soak, and the defects it found, each pinned by a test.

The soak (`benchmarks/soak.py`) runs the simulator flat out from another process while the
window works; here ~7 s per journal mode (the benchmark runs 60 s each). These tests check
correctness only (nothing lost, every row shown, no error); how long anything took is a
timing figure, which flakes on a shared machine: `benchmarks/bench_live.py` measures each
scene's timing goal with the same tools (`hold_write_lock`, `HOGGER`), and the soak's.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import sqlite3
import sys
import threading
import time
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from PySide6.QtCore import QThreadPool, QTimer
from PySide6.QtWidgets import QApplication

from inspector import workers
from inspector.app import open_window
from inspector.audit_model import COL_SUMMARY
from shepherd_store import AuditEvent, LockedError, PolicyLoaded, SqliteStore

REPO = Path(__file__).resolve().parent.parent
SOAK_SECONDS = 7.0


def bench_script(name: str) -> ModuleType:
    """A script of benchmarks/ (not a package), loaded once; it finds its siblings itself."""
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


#: The benchmark that times these scenes; its tools make them here too.
live = bench_script("bench_live")


def run_soak(seconds: float) -> list[Any]:
    """`benchmarks/soak.py`'s `run_soak`."""
    return bench_script("soak").run_soak(seconds)  # type: ignore[no-any-return]


def test_worker_reads_reuse_one_connection_per_pool_thread(qtbot, rust_v0: Path) -> None:
    # Found by the soak: Qt's pool threads get a fresh Python thread state for every task,
    # so a `threading.local` connection was opened anew (and kept) for each task: 740
    # connections and +100 MB in ten seconds.
    store = SqliteStore.open(rust_v0, read_only=True)
    try:
        results: list[object] = []
        for _ in range(40):
            workers.start(lambda _r: store.get_recent_audits(3), results.append)
        assert workers.wait_all()
        qtbot.waitUntil(lambda: len(results) == 40, timeout=5000)
        assert len(store._thread_conns) <= QThreadPool.globalInstance().maxThreadCount()
    finally:
        store.close()


def test_a_finished_task_releases_its_signals(qtbot) -> None:
    # Found by the soak: the bookkeeping slot referred to its own TaskSignals, a cycle
    # through C++ that Python's collector cannot see, so every task leaked its QObject.
    refs = []
    done: list[object] = []
    for i in range(10):
        sig = workers.start(lambda _r, i=i: i, done.append)
        refs.append(weakref.ref(sig))
        del sig
    assert workers.wait_all()
    qtbot.waitUntil(lambda: len(done) == 10, timeout=5000)

    def all_freed() -> bool:
        gc.collect()
        return all(r() is None for r in refs)

    qtbot.waitUntil(all_freed, timeout=3000)


def test_an_edit_waiting_for_the_services_lock_keeps_the_window_responsive(
        qtbot, rust_copy: Path) -> None:
    # Found by the soak: an edit waited for the write lock on the GUI thread, up to the 5 s
    # busy timeout: the window froze for seconds while the service wrote flat out. The edit
    # now waits in a worker, and is written once the lock is free (the stall: bench_live).
    window = open_window(rust_copy)
    qtbot.addWidget(window)
    tab = window.cooldowns
    qtbot.waitUntil(lambda: tab.model.row_of("tuxmath") is not None, timeout=5000)
    tab.confirm = lambda _text: True  # type: ignore[method-assign]
    tab.select_entries(["tuxmath"])
    holder = live.hold_write_lock(rust_copy, 0.6)
    try:
        tab.extend_selected(timedelta(minutes=5))
    finally:
        holder.join()
    with SqliteStore.open(rust_copy, read_only=True) as store:
        assert [o.change.entry_id for o in store.list_overrides()] == ["tuxmath"]
    workers.wait_all()


def test_reads_on_the_gui_thread_do_not_wait_out_a_writers_lock(qtbot, rust_copy: Path) -> None:
    # Found by the soak: the window's own reads (change token, the rows being painted, a
    # reload) waited up to 0.75 s for a writer's lock on the GUI thread, and a locked block
    # of rows was remembered as missing. Now they give up at once and try again (how long
    # they take under the lock: bench_live).
    window = open_window(rust_copy, read_only=True)
    qtbot.addWidget(window)
    window.show()
    model = window.audit.model
    qtbot.waitUntil(lambda: model.rowCount() == 23, timeout=5000)
    with SqliteStore.open(rust_copy) as store:
        for i in range(5):
            store.append_audit(AuditEvent.new(PolicyLoaded(i)))
    holder = live.hold_write_lock(rust_copy, 0.8)
    try:
        window.db.check_now()
        model.reload()
        model._blocks.clear()  # the rows must be read again, under the lock
        texts = [model.index(r, COL_SUMMARY).data() for r in range(20)]
    finally:
        holder.join()
    assert not any(t and "no row" in str(t) for t in texts)
    # Once the lock is gone, everything shows without another commit or a click.
    qtbot.waitUntil(lambda: model.rowCount() == 28, timeout=3000)
    qtbot.waitUntil(lambda: model.event_at(0) is not None, timeout=3000)
    assert model.index(0, COL_SUMMARY).data() == "Policy loaded with 4 entries"
    assert not window.audit.message.isVisible()
    assert not window.banner.isVisible()


def test_a_flood_of_commits_refreshes_the_views_only_as_often_as_they_can_afford(
        qtbot, seed_path: Path) -> None:
    # Found by the soak: every commit of a service writing flat out made every view refresh
    # (80 times a second), keeping the GUI thread busy most of the time and chaining the
    # handlers into stalls. Changes are now passed on so that refreshing takes at most about
    # a quarter of the GUI thread (bench_live counts the refreshes); the last commit is
    # always shown.
    window = open_window(seed_path, read_only=True)
    qtbot.addWidget(window)
    changes: list[float] = []

    def slow_view() -> None:  # a view whose refresh costs 20 ms
        changes.append(time.perf_counter())
        time.sleep(0.02)

    window.db.changed.connect(slow_view)
    stop = threading.Event()
    written: list[int] = []

    def flood() -> None:
        with SqliteStore.open(seed_path) as store:
            while not stop.is_set():
                event = AuditEvent.new(PolicyLoaded(len(written)))
                store.append_audit(event)
                written.append(event.id)

    writer = threading.Thread(target=flood)
    writer.start()
    try:
        qtbot.wait(1500)
    finally:
        stop.set()
        writer.join()
    model = window.audit.model
    assert written and changes
    qtbot.waitUntil(lambda: model.rowCount() == len(written), timeout=3000)

    def newest_shown() -> bool:
        event = model.event_at(0)
        return event is not None and event.id == written[-1]

    qtbot.waitUntil(newest_shown, timeout=3000)  # the last commit is shown


def bulk_log(path: Path, n: int) -> None:
    """A seed-layout database with `n` session_ended events, written in one transaction."""
    SqliteStore.open(path).close()
    rows = []
    for i in range(n):
        sid = f"{i:08x}-0000-4000-8000-000000000000"
        event = (f'{{"type":"session_ended","session_id":"{sid}","entry_id":"e{i % 7}",'
                 f'"reason":{{"type":"process_exited","exit_code":{i % 3}}},'
                 f'"duration":{{"secs":{i % 3600},"nanos":0}}}}')
        rows.append((f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}+01:00", "session_ended",
                     event))
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO audit_log (timestamp, event_type, event_data) VALUES (?, ?, ?)", rows)
    conn.close()


def test_an_export_running_does_not_slow_the_windows_painting(qtbot, tmp_path: Path) -> None:
    # Found by the soak: a JSON export in a worker kept the GIL, and each of the ~2,000
    # calls into Python that a repaint makes waited for it: a 12 ms repaint took 150-280
    # ms. Letting the GUI thread in every few rows still left 100-140 ms stalls in the 60 s
    # soak; the export now runs in a process of its own (shepherd_store.export_job). Here:
    # the window paints while it runs and every row is exported (the slowdown: bench_live).
    path = tmp_path / "big.db"
    bulk_log(path, 30_000)
    window = open_window(path, read_only=True)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.audit.model.rowCount() == 30_000, timeout=5000)
    app = QApplication.instance()
    sig = window.audit.export(tmp_path / "out.json", "json", show_progress=False)
    finished: list[object] = []
    sig.finished.connect(finished.append)
    live.median_paint_ms(app, window)
    qtbot.waitUntil(lambda: bool(finished), timeout=30_000)
    assert finished == [30_000]
    assert len(json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))) == 30_000


def test_an_edit_gets_the_write_lock_from_a_service_writing_flat_out(rust_copy: Path) -> None:
    # Found by the soak: in rollback-journal mode a writer that takes the lock again right
    # after each commit leaves short gaps; SQLite's busy handler backs off to 100 ms between
    # tries and kept missing them: one write in ten waited 0.4-1 s, some the full 5 s, and
    # now and then an inspector edit failed with "locked". Taking the lock now polls every
    # half millisecond, so a write gets in at the first gap (how long it waits: bench_live).
    hogger = live.start_hogger(rust_copy)
    last = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=9)
    try:
        for i in range(10):
            with SqliteStore.open(rust_copy) as store:  # LockedError would fail the test
                store.set_cooldown_until("soak", last - timedelta(minutes=9 - i))
    finally:
        hogger.kill()
        hogger.wait()
    with SqliteStore.open(rust_copy, read_only=True) as store:
        assert store.get_cooldown_until("soak") == last


def test_a_refresh_the_services_lock_turned_away_is_repeated(qtbot, rust_copy: Path) -> None:
    # Found by the soak: the window's reads give up on a writer's lock rather than wait,
    # but a view whose refresh was turned away (the usage overlay, for one) was not asked
    # again: after the last commit of a burst it could stay stale until the next commit.
    window = open_window(rust_copy, read_only=True)
    qtbot.addWidget(window)
    db = window.db
    holder = sqlite3.connect(rust_copy, isolation_level=None)
    calls: list[str] = []

    def view() -> None:  # a view that reads when told of a change
        store = db.store
        assert store is not None
        if not calls:  # the service takes the lock again just as the view reads
            holder.execute("BEGIN EXCLUSIVE")
            QTimer.singleShot(300, lambda: holder.execute("COMMIT"))
        try:
            store.usage_between()
            calls.append("read")
        except LockedError:
            calls.append("locked")

    db.changed.connect(view)
    try:
        with SqliteStore.open(rust_copy) as writer:
            writer.append_audit(AuditEvent.new(PolicyLoaded(9)))
        db.check_now()
        assert calls == ["locked"]
        qtbot.waitUntil(lambda: calls[-1] == "read", timeout=3000)
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()


def test_a_snapshot_load_the_lock_turned_away_leaves_no_stale_message(
        qtbot, monkeypatch, rust_copy: Path) -> None:
    # Found by the soak: when one background load of the Snapshot tab gave up on the
    # service's lock, its "locked" message stayed on screen after the next load succeeded.
    import inspector.snapshot_tab as snapshot_tab

    window = open_window(rust_copy)
    qtbot.addWidget(window)
    window.show()
    tab = window.snapshot
    qtbot.waitUntil(lambda: tab.state is not None, timeout=5000)
    assert tab.notice.text() == ""
    real = snapshot_tab.load_state

    def locked_once(*args: object, **kwargs: object) -> object:
        monkeypatch.setattr(snapshot_tab, "load_state", real)
        raise LockedError("Cannot read x: the database stayed locked", path=str(rust_copy))

    monkeypatch.setattr(snapshot_tab, "load_state", locked_once)
    tab.reload()
    qtbot.waitUntil(lambda: "locked" in tab.notice.text(), timeout=5000)
    with qtbot.waitSignal(tab.loaded, timeout=5000):
        tab.reload()
    assert tab.notice.text() == ""
    assert not tab.notice.isVisibleTo(window)


def test_a_worker_read_gets_in_between_the_services_commits(rust_copy: Path) -> None:
    # Found by the soak: a background load (the Snapshot tab's) gave up with "locked" while
    # the service wrote flat out: readers are shut out during each commit, SQLite's busy
    # handler backs off to 100 ms between tries and missed the short gaps, and the window
    # gave its workers 0.75 s. Reads now poll for the lock, and workers wait up to 5 s
    # (how long a read waits: bench_live).
    store = SqliteStore.open(rust_copy, read_only=True, busy_timeout=0.75)
    hogger = live.start_hogger(rust_copy, "BEGIN EXCLUSIVE")
    outcomes: list[str] = []

    def worker() -> None:
        for _ in range(10):
            try:
                store.usage_between()
                outcomes.append("read")
            except LockedError:
                outcomes.append("locked")

    try:
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    finally:
        hogger.kill()
        hogger.wait()
        store.close()
    assert outcomes == ["read"] * 10, outcomes


@pytest.mark.slow
def test_soak_nothing_lost_nothing_broken_window_responsive(qapp) -> None:
    """The soak, ~7 s per journal mode (`benchmarks/soak.py` runs 60 s each)."""
    figures = run_soak(SOAK_SECONDS)
    assert [f.mode for f in figures] == ["delete", "wal"]
    for fig in figures:
        assert [f for f in fig.failures if not f.startswith("GUI stalled")] == [], \
            fig.summary()
        assert fig.writer_errors == 0 and fig.events_lost_db == 0 and fig.events_lost_view == 0
        assert fig.edits_written >= 3 and fig.edits_lost == 0 and fig.errors_shown == 0
        assert fig.integrity == "ok"
        assert fig.rss_growth_mb <= 20
        # The GUI-stall goal (<= 100 ms) is a timing figure, checked and printed by
        # benchmarks/soak.py and reliability.py, never asserted in the suite.


def test_no_task_outlives_its_run_when_the_pool_is_quick(qtbot) -> None:
    # Found by the soak: about 3 % of the tasks (1 in 20 with another thread running Python)
    # were never freed. PySide handed a QRunnable subclass over to the pool and took a
    # reference for it after `start` returned; when the pool had already run and deleted
    # it by then, that reference was never dropped. Callables per task still leaked now
    # and then on a loaded machine (5 of 800): PySide (the timer, the pool) now only ever
    # gets a queue's long-lived bound methods, and a task lives in the queue until it runs.
    stop = threading.Event()

    def python_elsewhere() -> None:  # slows the GUI thread's return from `start`
        x = 0
        while not stop.is_set():
            x += sum(range(100))
            time.sleep(0)

    busy = threading.Thread(target=python_elsewhere)
    busy.start()
    done: list[object] = []
    try:
        for i in range(800):
            workers.start(lambda _r: None, done.append)
            if i % 10 == 0:
                QApplication.processEvents()
        assert workers.wait_all()
        qtbot.waitUntil(lambda: len(done) == 800, timeout=10_000)
    finally:
        stop.set()
        busy.join()
    qtbot.waitUntil(lambda: not workers._live, timeout=5000)  # every report released
    gc.collect()
    left = [o for o in gc.get_objects() if isinstance(o, workers.Task)]
    assert left == [], f"{len(left)} of 800 tasks were never freed"



class _EditFailed(Exception):
    """An edit that fails in the worker (as a conflict or a locked database does)."""


def test_an_edit_that_fails_leaves_nothing_behind(qtbot) -> None:
    # Found by the pool-leak check in the whole suite: every edit that raised (a conflict,
    # a locked or read-only file) kept its exception, its task, the task's signals and the
    # frames alive for good, through a cycle that ran through a C++ signal connection
    # (the signals -> the waiting callback -> its result -> the exception -> the frames ->
    # the task -> the signals), which Python's collector cannot see.
    def fail() -> None:
        raise _EditFailed("the value changed meanwhile")

    for _ in range(5):
        with pytest.raises(_EditFailed):
            workers.run_waiting(fail)
    qtbot.waitUntil(lambda: not workers._live, timeout=5000)  # every report released
    gc.collect()
    assert [o for o in gc.get_objects() if isinstance(o, _EditFailed)] == []
