"""Save screenshots of the demo window to docs/screenshots/ (what a new user sees first).

    .venv/bin/python scripts/screenshots.py

Offscreen on a 1920×1080 virtual screen; the demo database comes from the simulator with a
fixed seed. Every tab in the light and the dark scheme at 1280×800, the audit log and the
usage chart also at 1920×1080, and the first-run page.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault(
    "QT_QPA_PLATFORM", f"offscreen:configfile={REPO / 'tests' / 'offscreen-screens.json'}")
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="shots-config-")  # no saved state
atexit.register(shutil.rmtree, os.environ["XDG_CONFIG_HOME"], ignore_errors=True)

from PySide6.QtWidgets import QApplication  # noqa: E402

from inspector import workers  # noqa: E402
from inspector.app import open_window  # noqa: E402
from inspector.demo import DemoService  # noqa: E402
from inspector.main_window import MainWindow  # noqa: E402
from inspector.theme import apply_theme  # noqa: E402

OUT = REPO / "docs" / "screenshots"


def settle(app: QApplication) -> None:
    for _ in range(6):
        workers.wait_all()
        app.processEvents()


def shoot(window: MainWindow, app: QApplication, name: str) -> None:
    settle(app)
    window.grab().save(str(OUT / f"{name}.png"))


def main() -> None:
    app = QApplication.instance() or QApplication([])
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        demo = DemoService(Path(tmp))
        # The demo's own history: afternoons of play and yesterday's crash.
        for scheme in ("light", "dark"):
            apply_theme(app, scheme)
            suffix = "" if scheme == "light" else "-dark"
            window = open_window(demo.path, config=demo.policy_path)
            window.resize(1280, 800)
            window.tabs.setCurrentIndex(0)
            window.show()
            settle(app)
            window.audit.show_events()  # the audit*.png pictures are of the event log
            settle(app)
            window.audit.table.selectRow(1)
            shoot(window, app, f"audit{suffix}")
            tab = window.audit
            tab.type_actions["session_ended"].setChecked(True)
            tab.entry_combo.setCurrentIndex(max(tab.entry_combo.findData("minecraft"), 0))
            settle(app)
            tab.table.selectRow(0)
            shoot(window, app, f"audit-filtered{suffix}")
            tab.clear_filters()
            for i in range(1, window.tabs.count()):
                window.tabs.setCurrentIndex(i)
                shoot(window, app, f"window-{window.tabs.tabText(i).lower()}{suffix}")
            window.tabs.setCurrentIndex(0)
            window.resize(1920, 1080)
            shoot(window, app, f"audit-1920{suffix}")
            window.audit.show_sessions()
            shoot(window, app, f"sessions-1920{suffix}")
            window.tabs.setCurrentIndex(1)
            shoot(window, app, f"usage-1920{suffix}")
            window.close()
        apply_theme(app, "light")
        first = open_window(None)
        first.resize(1280, 800)
        first.show()
        shoot(first, app, "first-run")
        first.close()
        demo.cleanup()
    print(f"saved screenshots to {OUT}")


if __name__ == "__main__":
    main()
