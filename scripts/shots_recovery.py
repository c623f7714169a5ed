"""Screenshots of the Recovery tab on the Rust-written fixtures, light and dark.

    .venv/bin/python scripts/shots_recovery.py [--out docs/screenshots]

Opens copies of `tests/fixtures/rust-crash-restarted.db`, `rust-crash-down.db`,
`rust-clean.db` and `rust-v0.db` in the whole window (1280×800) with the crash fixtures'
policy (tests/fixtures/README.md: Minecraft 60 min and a 30 min cooldown, Tux Math 45 min,
SuperTuxKart 45 min and 15 min), shows the Recovery tab and saves
`recovery-<fixture>-ny.png` and `recovery-<fixture>-ny-dark.png`; for rust-crash-restarted
also `recovery-crash-restarted-repaired-ny[-dark].png`, after the tab's own repair of the
interrupted session (56 min 40 s, with the cooldown), answered yes.

The viewer is in New York (`TZ=America/New_York`, set here before Qt starts): the fixtures
were written there, so every time reads as the service wrote it (`-ny` in the names). The
clock the tab reads is pinned (`PINNED`), so nothing depends on the day the pictures are
made.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

os.environ["TZ"] = "America/New_York"  # before Qt starts: it reads the zone once
time.tzset()
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault(
    "QT_QPA_PLATFORM", f"offscreen:configfile={REPO / 'tests' / 'offscreen-screens.json'}")
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="shots-config-")  # no saved state

from zoneinfo import ZoneInfo  # noqa: E402

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from inspector import recovery_tab, snapshot_tab, workers  # noqa: E402
from inspector.app import open_window  # noqa: E402
from inspector.main_window import MainWindow  # noqa: E402
from inspector.theme import apply_theme  # noqa: E402

NY = ZoneInfo("America/New_York")
#: The tab's clock per fixture: the morning after the crash fixtures' last day; for
#: rust-v0, twenty minutes after its service stopped (its snapshot is then 20 minutes old).
PINNED = {"rust-v0": datetime(2026, 7, 4, 14, 30, tzinfo=NY)}
DEFAULT_NOW = datetime(2026, 3, 8, 10, 0, tzinfo=NY)
_now = DEFAULT_NOW
FIXTURES = ("rust-crash-restarted", "rust-crash-down", "rust-clean", "rust-v0")
POLICY = """\
[[entries]]
id = "minecraft"
label = "Minecraft"
[entries.limits]
daily_quota_seconds = 3600
cooldown_seconds = 1800

[[entries]]
id = "tuxmath"
label = "Tux Math"
[entries.limits]
daily_quota_seconds = 2700

[[entries]]
id = "supertuxkart"
label = "SuperTuxKart"
[entries.limits]
daily_quota_seconds = 2700
cooldown_seconds = 900
"""


def pinned_now() -> datetime:
    return _now.astimezone()


def settle(app: QApplication, window: MainWindow) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        workers.wait_all()
        app.processEvents()
        if window.recovery.state is not None and window.snapshot.state is not None:
            break
    for _ in range(4):
        workers.wait_all()
        app.processEvents()


def shoot(window: MainWindow, out: Path) -> None:
    if not window.grab().save(str(out)):
        raise SystemExit(f"could not save {out}")
    print(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    app.setApplicationName("shepherd-inspector")
    recovery_tab.local_now = pinned_now  # type: ignore[attr-defined]
    snapshot_tab.local_now = pinned_now  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        policy = Path(tmp) / "shepherdd.toml"
        policy.write_text(POLICY)
        for scheme in ("light", "dark"):
            apply_theme(app, scheme)
            suffix = "" if scheme == "light" else "-dark"
            for name in FIXTURES:
                path = Path(tmp) / f"{name}-{scheme}.db"
                shutil.copyfile(REPO / "tests" / "fixtures" / f"{name}.db", path)
                path.chmod(0o644)
                global _now
                _now = PINNED.get(name, DEFAULT_NOW)
                QSettings("Shepherd", "shepherd-inspector").clear()  # no state of the last
                window = open_window(path, config=policy)
                window.resize(1280, 800)
                window.tabs.setCurrentWidget(window.recovery)
                window.show()
                settle(app, window)
                shoot(window, args.out / f"recovery-{name.removeprefix('rust-')}-ny{suffix}.png")
                if name == "rust-crash-restarted":
                    tab = window.recovery
                    tab.confirm = lambda _text: True  # type: ignore[method-assign]
                    tab.repair_box.set_amount(3400)
                    tab.repair_box.cooldown.setChecked(True)
                    if not tab.repair_selected():
                        raise SystemExit("the repair was not written")
                    deadline = time.monotonic() + 10
                    while time.monotonic() < deadline and tab.repair_button.isEnabled():
                        settle(app, window)
                    shoot(window, args.out / f"recovery-crash-restarted-repaired-ny{suffix}.png")
                window.close()
                workers.wait_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
