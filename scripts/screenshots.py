"""Save screenshots of the demo window to docs/screenshots/ (what a new user sees first).

    .venv/bin/python scripts/screenshots.py

Offscreen; the demo database comes from the simulator with a fixed seed.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from inspector.app import open_window  # noqa: E402
from inspector.demo import DemoService  # noqa: E402

OUT = REPO / "docs" / "screenshots"


def settle(app: QApplication, window: object) -> None:
    from inspector import workers

    for _ in range(5):
        workers.wait_all()
        app.processEvents()


def main() -> None:
    app = QApplication.instance() or QApplication([])
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        demo = DemoService(Path(tmp))
        window = open_window(demo.path)
        window.resize(1280, 800)
        window.show()
        settle(app, window)
        window.audit.table.selectRow(1)
        settle(app, window)
        window.grab().save(str(OUT / "audit.png"))
        tab = window.audit
        tab.type_actions["session_ended"].setChecked(True)
        tab.entry_combo.setCurrentIndex(tab.entry_combo.findData("minecraft"))
        settle(app, window)
        tab.table.selectRow(0)
        settle(app, window)
        window.grab().save(str(OUT / "audit-filtered.png"))
        for i in range(1, window.tabs.count()):
            window.tabs.setCurrentIndex(i)
            settle(app, window)
            name = window.tabs.tabText(i).lower().replace(" ", "-")
            window.grab().save(str(OUT / f"tab-{name}.png"))
        window.close()
        demo.cleanup()
    print(f"saved screenshots to {OUT}")


if __name__ == "__main__":
    main()
