"""Screenshots of the Audit tab's Sessions view, light and dark, at 1280×800.

    .venv/bin/python scripts/shots_sessions.py [--out docs/screenshots]

* `sessions-crash-restarted-ny[-dark].png`: a copy of `tests/fixtures/rust-crash-restarted.db`
  (16 sessions; the Saturday Minecraft session interrupted by a crash) with the crash
  fixtures' policy, the interrupted session selected so that the detail pane says what the
  log proves; `sessions-crash-restarted-events-ny.png`: the same session double-clicked,
  its events in the event log.
* `sessions-demo[-dark].png`: the demo (`inspector.demo.DemoService`: 60 days of history,
  a crash yesterday, the simulated service writing live), as a parent lands on it, once the
  simulated service has a session running.

The viewer is in New York (`TZ=America/New_York`, set here before Qt starts): the fixture
was written there, so its times read as the service wrote them; `-ny` in the names.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

os.environ["TZ"] = "America/New_York"  # before Qt starts: it reads the zone once
time.tzset()
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault(
    "QT_QPA_PLATFORM", f"offscreen:configfile={REPO / 'tests' / 'offscreen-screens.json'}")
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="shots-config-")  # no saved state

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from inspector import workers  # noqa: E402
from inspector.app import open_window  # noqa: E402
from inspector.demo import DemoService  # noqa: E402
from inspector.main_window import MainWindow  # noqa: E402
from inspector.sessions_model import COL_HOW  # noqa: E402
from inspector.theme import apply_theme  # noqa: E402
from shepherd_store import SqliteStore  # noqa: E402
from shepherd_store.sessions import SessionReader  # noqa: E402

POLICY = (REPO / "scripts" / "shots_recovery.py").read_text().split('POLICY = """\\\n')[1] \
    .split('"""')[0]


def settle(app: QApplication, window: MainWindow, rounds: int = 6) -> None:
    """Let the workers and the event loop finish (the first page, the window's reads)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not window.audit.sessions.loaded:
        workers.wait_all()
        app.processEvents()
    for _ in range(rounds):
        workers.wait_all()
        app.processEvents()


def shoot(window: MainWindow, out: Path) -> None:
    if not window.grab().save(str(out)):
        raise SystemExit(f"could not save {out}")
    print(out)


def fixture_shots(app: QApplication, out: Path, tmp: Path, scheme: str) -> None:
    suffix = "" if scheme == "light" else "-dark"
    policy = tmp / "shepherdd.toml"
    policy.write_text(POLICY)
    path = tmp / f"crash-restarted-{scheme}.db"
    shutil.copyfile(REPO / "tests" / "fixtures" / "rust-crash-restarted.db", path)
    path.chmod(0o644)
    QSettings("Shepherd", "shepherd-inspector").clear()
    window = open_window(path, config=policy)
    window.resize(1280, 800)
    window.tabs.setCurrentWidget(window.audit)
    window.show()
    settle(app, window)
    tab = window.audit
    row = next(r for r in range(tab.sessions.rowCount())
               if (s := tab.sessions.session_at(r)) is not None and s.interrupted)
    tab.sessions_table.selectRow(row)
    settle(app, window, 2)
    shoot(window, out / f"sessions-crash-restarted-ny{suffix}.png")
    if scheme == "light":
        tab._on_session_activated(tab.sessions.index(row, COL_HOW))  # a double-click
        settle(app, window)
        tab.table.selectRow(0)
        settle(app, window, 2)
        shoot(window, out / "sessions-crash-restarted-events-ny.png")
    window.close()
    workers.wait_all()


def demo_shots(app: QApplication, out: Path, demo: DemoService, scheme: str) -> None:
    suffix = "" if scheme == "light" else "-dark"
    QSettings("Shepherd", "shepherd-inspector").clear()
    window = open_window(demo.path, config=demo.policy_path)
    window.resize(1280, 800)
    window.show()
    settle(app, window)
    shoot(window, out / f"sessions-demo{suffix}.png")
    window.close()
    workers.wait_all()


def wait_for_a_running_session(demo: DemoService, timeout: float = 480) -> None:
    """Let the simulated service play until its clock has caught up with this computer's
    (60× real time: about 3 minutes; until then a running session's length, which the view
    counts on the real clock, would not match the demo clock in the status bar) and a
    session is running, so the demo pictures show the live state too."""
    deadline = time.monotonic() + timeout
    with SqliteStore.open(demo.path, read_only=True) as store:
        reader = SessionReader(store)
        while time.monotonic() < deadline:
            caught_up = demo.clock is not None and demo.clock.lag < timedelta(seconds=30)
            if caught_up and any(s.running for s in reader.page(limit=3).sessions):
                return
            time.sleep(1)
    print("no session running in the caught-up demo in time: its pictures show none running")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    app.setApplicationName("shepherd-inspector")
    demo = DemoService()
    demo.start()
    try:
        wait_for_a_running_session(demo)
        with tempfile.TemporaryDirectory() as tmp:
            for scheme in ("light", "dark"):
                apply_theme(app, scheme)
                fixture_shots(app, args.out, Path(tmp), scheme)
                demo_shots(app, args.out, demo, scheme)
    finally:
        demo.cleanup()
        shutil.rmtree(os.environ["XDG_CONFIG_HOME"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
