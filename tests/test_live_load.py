"""The inspector never costs the service a write (issue: "the window, the live audit log").

The simulator writes as fast as it can from another process into a rollback-journal
database (the mode where a long read makes the daemon's writes fail), with the daemon's 5 s
busy timeout, while the window scrolls, filters, searches and reloads for 20 seconds.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inspector.app import open_window
from shepherd_store import AuditFilter, SqliteStore
from shepherd_store.simulate import create_rust_database

REPO = Path(__file__).resolve().parent.parent
DURATION_S = 20.0


@pytest.mark.slow
def test_fast_writer_loses_nothing_while_the_window_works(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    create_rust_database(path, "delete")
    window = open_window(path)
    qtbot.addWidget(window)
    window.show()
    tab, model = window.audit, window.audit.model
    writer = subprocess.Popen(
        [sys.executable, "-m", "shepherd_store.simulate", str(path), "--days", "2", "--live",
         "--interval", "0", "--ack"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rng = random.Random(1)
    actions = 0
    try:
        deadline = time.monotonic() + DURATION_S
        while time.monotonic() < deadline:
            choice = rng.randrange(6)
            if choice == 0 and model.rowCount():
                tab.table.scrollTo(model.index(rng.randrange(model.rowCount()), 0))
            elif choice == 1:
                tab.type_actions[rng.choice(list(tab.type_actions))].toggle()
            elif choice == 2:
                tab.search.setText(rng.choice(["", "minecraft", "expired", "%_", "uid"]))
                tab._apply_filter()
            elif choice == 3:
                tab.clear_filters()
            elif choice == 4:
                window.reload()
            else:
                tab.table.scrollToBottom()
            actions += 1
            qtbot.wait(rng.randrange(5, 60))
    finally:
        writer.send_signal(signal.SIGTERM)
        out, err = writer.communicate(timeout=30)
    acked = [int(line.split()[1]) for line in out.splitlines() if line.startswith("ack ")]
    assert writer.returncode == 0, err[-2000:]
    assert err.strip().splitlines()[-1] == "errors 0", err[-2000:]
    assert not [line for line in err.splitlines() if line.startswith("error ")]
    assert len(acked) > 500, "the writer barely wrote: the test proves nothing"
    assert actions > 100
    # Every acknowledged event is in the database and, once settled, in the view.
    tab.clear_filters()
    qtbot.waitUntil(lambda: not model.loading and model.rowCount() == max(acked), timeout=10_000)
    with SqliteStore.open(path, read_only=True) as store:
        stored = {e.id for e in store.find_audits(AuditFilter(), limit=len(acked) + 10).events}
    assert set(acked) <= stored
    shown = {model.event_at(r).id for r in range(model.rowCount())}  # type: ignore[union-attr]
    assert set(acked) <= shown
