"""What the Cooldowns, Recovery and snapshot tabs share: how each follows the open database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication

from inspector import workers
from inspector.cooldown_tab import CooldownTab
from inspector.database import Database
from inspector.recovery_tab import RecoveryTab
from inspector.snapshot_tab import SnapshotTab
from shepherd_store import SqliteStore

TABS = [(CooldownTab, "cooldownTab"), (SnapshotTab, "snapshotPane"),
        (RecoveryTab, "recoveryTab")]
Tab = CooldownTab | SnapshotTab | RecoveryTab


@pytest.fixture
def db() -> Iterator[Database]:
    database = Database(poll_ms=50)
    yield database
    workers.wait_all()
    database.close()


@pytest.mark.parametrize(("cls", "name"), TABS)
def test_a_tab_follows_the_database(qtbot: Any, db: Database, seed_path: Path,
                                    cls: type[Tab], name: str) -> None:
    tab = cls(db)  # nothing open yet: nothing to read
    qtbot.addWidget(tab)
    tab.show()
    loads: list[int] = []
    tab.loaded.connect(lambda: loads.append(1))
    assert tab.objectName() == name
    assert tab.db is db
    assert tab._timer.isActive() and tab._timer.interval() == 1000
    workers.wait_all()
    assert loads == [] and not tab.notice.isVisibleTo(tab)

    with qtbot.waitSignal(tab.loaded, timeout=5000):  # opened: read
        db.open(seed_path)
    with SqliteStore.open(seed_path) as writer:
        writer.add_usage("tuxmath", date(2026, 1, 1), timedelta(minutes=5))
    with qtbot.waitSignal(tab.loaded, timeout=5000):  # another connection committed: read
        db.check_now()

    db.set_user_read_only(True)  # stateChanged: the tab says why it cannot edit
    assert tab.notice.text().startswith("Read-only: read-only mode is on")
    db.set_user_read_only(False)
    assert not tab.notice.text().startswith("Read-only")

    moved = seed_path.with_suffix(".moved")
    seed_path.rename(moved)
    with qtbot.waitSignal(db.failed, timeout=5000):  # failed: the tab shows the message
        db.check_now()
    assert "deleted or moved" in tab.notice.text()
    moved.rename(seed_path)
    with qtbot.waitSignal(tab.loaded, timeout=5000):  # reopened once it is back
        pass
    assert tab.notice.text() == ""


@pytest.mark.parametrize(("cls", "name"), TABS)
def test_a_tab_made_on_an_open_database_reads_at_once(qtbot: Any, db: Database,
                                                      seed_path: Path,
                                                      cls: type[Tab],
                                                      name: str) -> None:
    db.open(seed_path)
    tab = cls(db)
    qtbot.addWidget(tab)
    with qtbot.waitSignal(tab.loaded, timeout=5000):
        pass
    assert tab.objectName() == name


@pytest.mark.parametrize(("cls", "name"), TABS)
def test_a_hidden_tab_reads_once_when_shown(qtbot: Any, db: Database, seed_path: Path,
                                            cls: type[Tab],
                                            name: str) -> None:
    # The service commits many times a second; a tab nobody sees need not read each time.
    db.open(seed_path)
    tab = cls(db)
    qtbot.addWidget(tab)
    with qtbot.waitSignal(tab.loaded, timeout=5000):  # the first read, even hidden
        pass
    loads: list[int] = []
    tab.loaded.connect(lambda: loads.append(1))
    told: list[int] = []
    db.changed.connect(lambda: told.append(1))  # runs after the tab's own slot
    for minutes in (1, 2, 3):
        with SqliteStore.open(seed_path) as writer:
            writer.add_usage("tuxmath", date(2026, 1, 1), timedelta(minutes=minutes))
        db.check_now()  # (or the 50 ms poll saw it first)
        qtbot.waitUntil(lambda n=minutes: len(told) >= n, timeout=5000)  # type: ignore[misc]
    assert tab._when_shown is not None  # told of each commit, the tab kept a read for later
    assert workers.wait_all()
    QCoreApplication.processEvents()  # deliver what a read started meanwhile would report
    assert loads == []
    with qtbot.waitSignal(tab.loaded, timeout=5000):
        tab.show()
    assert tab._when_shown is None
    assert workers.wait_all()
    QCoreApplication.processEvents()
    assert loads == [1]  # one read catches up with every commit missed
