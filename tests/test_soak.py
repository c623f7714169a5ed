"""Reliability under load: the soak, and the defects it found, each pinned by a test.

The soak (`benchmarks/soak.py`) runs the simulator flat out from another process while the
window works; here ~7 s per journal mode (the benchmark runs 60 s each).
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from PySide6.QtCore import QThreadPool

from inspector import workers
from shepherd_store import SqliteStore


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
    qtbot.wait(20)
    gc.collect()
    assert [r for r in refs if r() is not None] == []
