"""Screenshots of the Cooldowns and Snapshot tabs on simulated demo databases.

    .venv/bin/python scripts/shots_cooldown_snapshot.py [--out docs/screenshots]

Builds three demo databases with the service simulator (two weeks of history each): one with
a session running (active snapshot, shown with an edit of its warnings in progress), one whose
snapshot outlived its session (stale), one whose service was killed mid-session (crashed).
Saves `cooldowns.png`, `snapshot-active.png`, `snapshot-stale.png` and `snapshot-crashed.png`
at 1280×800.

The pictures are reproducible: the viewer is in New York and the clock the tabs read is
pinned to a Saturday afternoon (`DEMO_NOW`), so countdowns and ages are the same every run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

os.environ["TZ"] = "America/New_York"  # before Qt starts: it reads the zone once
time.tzset()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from zoneinfo import ZoneInfo  # noqa: E402

from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from inspector import cooldown_tab, snapshot_tab, workers  # noqa: E402
from inspector.cooldown_tab import CooldownTab  # noqa: E402
from inspector.database import Database  # noqa: E402
from inspector.snapshot_tab import SnapshotTab  # noqa: E402
from shepherd_store import SqliteStore  # noqa: E402
from shepherd_store.policy import Policy, PolicyEntry  # noqa: E402
from shepherd_store.simulate import DEFAULT_ENTRIES, Simulator  # noqa: E402

NY = ZoneInfo("America/New_York")
DEMO_NOW = datetime(2026, 7, 11, 15, 20, 0, tzinfo=NY)
SIZE = (1280, 800)
POLICY = Policy("shepherdd.toml", {
    e.id: PolicyEntry(e.id, e.label, e.daily_quota_seconds or None, e.cooldown_seconds or None,
                      e.max_run_seconds or None) for e in DEFAULT_ENTRIES})


def demo_now() -> datetime:
    """The pinned clock of the pictures."""
    return DEMO_NOW.astimezone()


def simulator(path: Path, wall: datetime, seed: int) -> tuple[SqliteStore, Simulator]:
    """A database with two weeks of simulated history ending 3 h before `wall`."""
    store = SqliteStore.open(path)
    sim = Simulator(store, seed=seed, tz=NY, wall_clock=lambda: wall)
    sim.write_history(14, end=wall - timedelta(hours=3))
    return store, sim


def build_active(path: Path) -> None:
    """Minecraft started about 20 minutes before DEMO_NOW and is still running."""
    store, sim = simulator(path, DEMO_NOW - timedelta(minutes=20), seed=21)
    with store:
        if sim.start_session("minecraft") is None:
            raise SystemExit("the simulator found no time for a session")
        # cooldowns the service set after this afternoon's earlier sessions
        store.set_cooldown_until("tuxmath", DEMO_NOW + timedelta(minutes=12, seconds=40))
        store.set_cooldown_until("supertuxkart", DEMO_NOW + timedelta(hours=1, minutes=5))
        store.set_cooldown_until("scummvm-puttputt", DEMO_NOW - timedelta(minutes=35))


def build_stale(path: Path) -> None:
    """The snapshot of a session that ended (e.g. restored from a backup taken mid-session)."""
    store, sim = simulator(path, DEMO_NOW - timedelta(hours=2), seed=22)
    with store:
        sim.start_session("supertuxkart")
        stale = store.load_snapshot()
        sim.finish_session()
        assert stale is not None
        store.save_snapshot(stale)


def build_crashed(path: Path) -> None:
    """shepherdd was killed mid-session two hours ago and has not started again."""
    store, sim = simulator(path, DEMO_NOW - timedelta(hours=2), seed=23)
    with store:
        sim.crash_mid_session("minecraft")


def shoot(widget: QWidget, path: Path) -> None:
    widget.resize(*SIZE)
    widget.show()
    for _ in range(5):
        QApplication.processEvents()
        workers.wait_all()
    QApplication.processEvents()
    if not widget.grab().save(str(path)):
        raise SystemExit(f"could not save {path}")
    print(path)


def open_db(path: Path) -> Database:
    db = Database()
    db.set_policy(POLICY)
    if not db.open(path):
        raise SystemExit(db.error or f"cannot open {path}")
    return db


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    app.setApplicationName("shepherd-inspector")
    cooldown_tab.local_now = demo_now  # type: ignore[attr-defined]
    snapshot_tab.local_now = demo_now  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        dbs = {}
        for name, build in (("active", build_active), ("stale", build_stale),
                            ("crashed", build_crashed)):
            path = Path(tmp) / f"demo-{name}.db"
            build(path)
            dbs[name] = open_db(path)
        tab = CooldownTab(dbs["active"])
        shoot(tab, args.out / "cooldowns.png")  # loads rows and labels
        tab.select_entries(["tuxmath"])
        shoot(tab, args.out / "cooldowns.png")
        tab.close()
        for name, db in dbs.items():
            pane = SnapshotTab(db)
            shoot(pane, args.out / f"snapshot-{name}.png")
            if name == "active":  # show an edit in progress: the preview and validation
                QTest.keyClicks(pane.form_warnings, "300")
                shoot(pane, args.out / f"snapshot-{name}.png")
            pane.close()
        workers.wait_all()
        for db in dbs.values():
            db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
