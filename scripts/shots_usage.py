"""Screenshots of the Usage tab for the cases that must look right: docs/screenshots/usage-*.png.

Builds the databases in a temporary folder (empty; one entry; one day; 30 entries over three
years with a policy file; the Rust fixtures; the simulator's demo history), opens each in
a `UsageTab` of 1280×800 and saves `widget.grab()`; and the whole window on the demo
(`window-usage*.png` at 1280×800, `usage-1920*.png` at 1920×1080, light and dark).

The Rust daemon histories (`rust-clean.db`, `rust-crash-restarted.db`) are shown with the
policy they were written under (minecraft 60 min, tuxmath and supertuxkart 45 min each: two
equal limits that must be told apart), on the Saturday after their week.

`--matrix DIR` also saves every mode (stacked, side by side, one entry) at 1280×800 and
1920×1080, light and dark, for the demo and both Rust histories, into DIR (36 pictures to
look at, not for the repository). Run:

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/shots_usage.py [OUT_DIR] [--matrix DIR]
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault(
    "QT_QPA_PLATFORM", f"offscreen:configfile={REPO / 'tests' / 'offscreen-screens.json'}")
sys.path.insert(0, str(REPO))
# the entries' remembered colours and the window's state: not the person's settings
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="shots-usage-config-")
atexit.register(shutil.rmtree, os.environ["XDG_CONFIG_HOME"], ignore_errors=True)

from PySide6.QtCore import QPointF  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from inspector import workers  # noqa: E402
from inspector.database import Database  # noqa: E402
from inspector.theme import apply_theme  # noqa: E402
from inspector.usage_chart import Mode  # noqa: E402
from inspector.usage_tab import UsageTab  # noqa: E402
from shepherd_store import AuditEvent, SessionStarted, SqliteStore  # noqa: E402
from shepherd_store.policy import load_policy  # noqa: E402
from shepherd_store.usage import Bucket, DayRange, Preset  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures"
FIXTURE = FIXTURES / "rust-v0.db"
SIZE = (1280, 800)
BIG = (1920, 1080)
#: The policy the Rust daemon histories were written under (tests/fixtures/README.md).
RUST_IDS = ["minecraft", "tuxmath", "supertuxkart"]
RUST_LABELS = ["Minecraft", "Tux Math", "SuperTuxKart"]
RUST_QUOTAS = {"minecraft": 3600, "tuxmath": 2700, "supertuxkart": 2700}
RUST_TODAY = date(2026, 3, 7)  # the Saturday after their week (the crash's day)
MODES = (("stacked", Mode.STACKED), ("side", Mode.SIDE_BY_SIDE), ("single", Mode.SINGLE))

#: Labels as a log may hold them: long ones, and markup that must be shown as plain text.
LABELS = ["Tux Math", "Minecraft", "<b>Putt-Putt</b> Joins the Circus", "GCompris",
          "Celeste", "A Short Hike", "Prism Launcher", "Krita", "Big Buck Bunny", "Lofi Beats",
          "Secret of Monkey Island", "SuperTuxKart", "<img src=x> Frozen Bubble", "Scratch",
          "Tux Paint", "Stellarium", "KTurtle", "Marble", "Blinken", "Kanagram",
          "Numpty Physics", "Pingus", "Neverball", "Hedgewars", "0 A.D.", "Wesnoth",
          "Minetest", "OpenTTD", "Chess", "Sudoku for Kids With a Very Long Name Indeed"]


def entry_ids() -> list[str]:
    return [lbl.lower().replace("<b>", "").replace("</b>", "").replace("<img src=x> ", "")
            .replace(" ", "-").replace(".", "")[:24] for lbl in LABELS]


def log_labels(store: SqliteStore, ids: list[str], labels: list[str]) -> None:
    """Session-start events, so the log knows each entry's label."""
    for n, (entry, label) in enumerate(zip(ids, labels, strict=True)):
        store.append_audit(AuditEvent.new(SessionStarted(
            f"00000000-0000-4000-8000-{n:012d}", entry, label, None)))


def build_empty(path: Path) -> None:
    SqliteStore.open(path).close()


def build_one_entry(path: Path, today: date) -> None:
    rnd = random.Random(1)
    with SqliteStore.open(path) as store:
        log_labels(store, ["tuxmath"], ["Tux Math"])
        for i in range(30):
            if rnd.random() < 0.7:
                store.add_usage("tuxmath", today - timedelta(days=i),
                                timedelta(seconds=rnd.randint(300, 5400)))


def build_one_day(path: Path, today: date) -> None:
    with SqliteStore.open(path) as store:
        log_labels(store, ["tuxmath", "minecraft", "gcompris"],
                   ["Tux Math", "Minecraft", "GCompris"])
        for entry, secs in (("tuxmath", 1500), ("minecraft", 3900), ("gcompris", 600)):
            store.add_usage(entry, today, timedelta(seconds=secs))


def build_many(path: Path, today: date, days: int = 3 * 365) -> None:
    """30 entries over three years: weekly rhythm, school holidays, some entries seasonal."""
    rnd = random.Random(30)
    ids = entry_ids()
    with SqliteStore.open(path) as store:
        log_labels(store, ids, LABELS)
        for k, entry in enumerate(ids):
            start = rnd.randint(0, days // 2) if k % 4 == 3 else 0
            weight = rnd.uniform(0.2, 1.0)
            for i in range(start, days):
                day = today - timedelta(days=days - 1 - i)
                chance = 0.45 if day.weekday() >= 5 else 0.25
                if rnd.random() < chance * weight:
                    secs = int(rnd.expovariate(1 / (1800 * weight)))
                    store.add_usage(entry, day, timedelta(seconds=min(secs, 4 * 3600)))


def policy_for(ids: list[str], labels: list[str], quotas: dict[str, int], path: Path) -> Path:
    lines = []
    for entry, label in zip(ids, labels, strict=True):
        esc = label.replace("\\", "\\\\").replace('"', '\\"')
        lines += ["[[entries]]", f'id = "{entry}"', f'label = "{esc}"']
        if entry in quotas:
            lines += ["[entries.limits]", f"daily_quota_seconds = {quotas[entry]}"]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def mode_setup(mode: Mode, entry: str | None = None) -> Callable[[UsageTab], None]:
    """Choose a chart mode (and for "One entry" the entry, by its summary row)."""
    def setup(t: UsageTab) -> None:
        t.mode_combo.setCurrentIndex(t.mode_combo.findData(mode))
        if mode is Mode.SINGLE and entry is not None:
            t.select_entry(entry)
    return setup


def shoot(app: QApplication, db_path: Path | None, out: Path, *,
          preset: Preset | None = Preset.MONTH, custom: DayRange | None = None,
          policy: Path | None = None, setup: Callable[[UsageTab], None] | None = None,
          today: date | None = None, fail: str | None = None,
          size: tuple[int, int] = SIZE, scheme: str = "light") -> None:
    apply_theme(app, scheme)
    db = Database()
    if policy is not None:
        db.set_policy(load_policy(policy))
    tab = UsageTab(db, today=(lambda: today) if today else date.today)
    tab.resize(*size)
    tab.show()
    if db_path is not None:
        db.open(db_path)
    if fail is not None:
        db.failed.emit(fail)
    else:
        index = tab.range_combo.findData(preset)
        tab.range_combo.blockSignals(True)
        tab.range_combo.setCurrentIndex(index)
        tab.range_combo.blockSignals(False)
        if custom is not None:
            tab.from_edit.blockSignals(True)
            tab.to_edit.blockSignals(True)
            tab._show_dates(custom)
            tab.from_edit.blockSignals(False)
            tab.to_edit.blockSignals(False)
        tab.reload(wait=True)
        if setup is not None:
            setup(tab)
    QTest.qWait(250)  # let debounced work (Auto's re-grouping after a zoom) finish
    tab.grab().save(str(out))
    print(f"saved {out}")
    workers.wait_all()
    db.close()
    tab.deleteLater()
    app.processEvents()
    apply_theme(app, "light")


def rust_history(tmp: Path, name: str) -> tuple[Path, Path]:
    """A writable copy of a Rust daemon history and the policy it was written under."""
    copy = tmp / f"{name}.db"
    shutil.copyfile(FIXTURES / f"{name}.db", copy)
    copy.chmod(0o644)
    policy = policy_for(RUST_IDS, RUST_LABELS, RUST_QUOTAS, tmp / "shepherdd.toml")
    return copy, policy


def demo_history(tmp: Path) -> tuple[Path, Path]:
    """The simulator's 90 days (as the demo) and the demo's policy file."""
    from shepherd_store.simulate import Simulator, policy_toml
    path = tmp / "demo.db"
    if not path.exists():
        with SqliteStore.open(path) as store:
            Simulator(store, seed=7).write_history(90, end=datetime.now().astimezone())
    policy = tmp / "shepherdd-demo.toml"
    policy.write_text(policy_toml(), encoding="utf-8")
    return path, policy


def shoot_windows(app: QApplication, out: Path) -> None:
    """The whole window on the demo as `make run` opens it: window-usage*.png (1280×800)
    and usage-1920*.png (1920×1080), light and dark (as scripts/screenshots.py does)."""
    from inspector.app import open_window
    from inspector.demo import DemoService
    from shepherd_store.simulate import Simulator

    def settle() -> None:
        for _ in range(6):
            workers.wait_all()
            app.processEvents()
        QTest.qWait(150)

    with tempfile.TemporaryDirectory(prefix="shots-usage-window-") as tmp:
        demo = DemoService(Path(tmp))
        with SqliteStore.open(demo.path) as store:  # today: a few sessions, one still running
            sim = Simulator(store, seed=11)
            sim.max_ahead = timedelta(0)
            sim.run_live(interval=0, max_sessions=3, speed=0.25)
            sim.start_session("supertuxkart")
        for scheme in ("light", "dark"):
            apply_theme(app, scheme)
            suffix = "" if scheme == "light" else "-dark"
            window = open_window(demo.path, config=demo.policy_path)
            window.resize(*SIZE)
            window.show()
            window.tabs.setCurrentWidget(window.usage)
            settle()
            window.grab().save(str(out / f"window-usage{suffix}.png"))
            print(f"saved {out / f'window-usage{suffix}.png'}")
            window.resize(*BIG)
            settle()
            window.grab().save(str(out / f"usage-1920{suffix}.png"))
            print(f"saved {out / f'usage-1920{suffix}.png'}")
            window.close()
            window.deleteLater()
            settle()
        demo.cleanup()
    apply_theme(app, "light")


def shoot_matrix(app: QApplication, tmp: Path, out: Path) -> None:
    """Every mode × 1280×800 and 1920×1080 × light and dark, on the demo and both Rust
    daemon histories."""
    out.mkdir(parents=True, exist_ok=True)
    cases: list[tuple[str, Path, Path, Preset, date | None, str]] = []
    for name in ("rust-clean", "rust-crash-restarted"):
        path, policy = rust_history(tmp, name)
        cases.append((name, path, policy, Preset.WEEK, RUST_TODAY, "minecraft"))
    path, policy = demo_history(tmp)
    cases.append(("demo", path, policy, Preset.MONTH, None, "scummvm-puttputt"))
    for name, path, policy, preset, today, alone in cases:
        for mode_name, mode in MODES:
            for size in (SIZE, BIG):
                for scheme in ("light", "dark"):
                    shoot(app, path, out / f"{name}-{mode_name}-{size[0]}-{scheme}.png",
                          preset=preset, policy=policy, today=today, size=size,
                          scheme=scheme, setup=mode_setup(mode, alone))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path, default=REPO / "docs" / "screenshots")
    ap.add_argument("--matrix", type=Path, metavar="DIR",
                    help="also every mode, size and scheme of the demo and Rust histories")
    args = ap.parse_args(argv[1:])
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    today = date.today()
    with tempfile.TemporaryDirectory(prefix="shots-usage-") as tmp_name:
        tmp = Path(tmp_name)
        if args.matrix is not None:
            shoot_matrix(app, tmp, args.matrix)
        build_empty(tmp / "empty.db")
        shoot(app, tmp / "empty.db", out / "usage-empty.png")
        shoot(app, None, out / "usage-failed.png",
              fail=f"{tmp / 'gone.db'} was deleted or moved while open. The inspector will "
                   "reopen it as soon as it is back.")
        build_one_entry(tmp / "one-entry.db", today)
        shoot(app, tmp / "one-entry.db", out / "usage-one-entry.png")
        build_one_day(tmp / "one-day.db", today)
        shoot(app, tmp / "one-day.db", out / "usage-one-day.png", preset=Preset.ALL)
        shoot(app, tmp / "one-day.db", out / "usage-one-day-week.png", preset=Preset.WEEK)

        build_many(tmp / "many.db", today)
        ids = entry_ids()
        quotas = {ids[0]: 3600, ids[1]: 5400, ids[2]: 2700, ids[5]: 1800}
        policy = policy_for(ids, LABELS, quotas, tmp / "policy.toml")
        shoot(app, tmp / "many.db", out / "usage-30-entries-all.png", preset=Preset.ALL,
              policy=policy)
        shoot(app, tmp / "many.db", out / "usage-30-entries-year-days.png", preset=Preset.YEAR,
              policy=policy, setup=lambda t: t.bucket_combo.setCurrentIndex(
                  t.bucket_combo.findData(Bucket.DAY)))
        def hover(t: UsageTab) -> None:
            QTest.qWait(100)
            chart = t.chart
            day = float(t.daily.range.last - 12) if t.daily else 0.0
            tops = [float(chart.geometry_of(e)[2][-13] + chart.geometry_of(e)[3][-13] / 2)
                    for e in chart.visible_entries() if chart.geometry_of(e)[3][-13] > 0]
            y = tops[len(tops) // 2] if tops else 0.0
            chart.scene().sigMouseMoved.emit(chart.vb.mapViewToScene(QPointF(day, y)))

        shoot(app, tmp / "many.db", out / "usage-30-entries-90-days.png", preset=Preset.QUARTER,
              policy=policy, setup=hover)

        def side_by_side(t: UsageTab) -> None:
            t.mode_combo.setCurrentIndex(t.mode_combo.findData(Mode.SIDE_BY_SIDE))
            for entry in ids[6:]:
                t.set_entry_visible(entry, False)

        shoot(app, tmp / "many.db", out / "usage-side-by-side.png", preset=Preset.WEEK,
              policy=policy, setup=side_by_side)

        def one_entry(t: UsageTab) -> None:
            t.mode_combo.setCurrentIndex(t.mode_combo.findData(Mode.SINGLE))
            t.select_entry(ids[0])

        shoot(app, tmp / "many.db", out / "usage-single-with-limit.png", preset=Preset.MONTH,
              policy=policy, setup=one_entry)

        def zoomed(t: UsageTab) -> None:
            lo = t.daily.range.last - 20 if t.daily else 0
            t.chart.vb.setXRange(lo, lo + 20, padding=0)
            t.chart.user_zoomed = True

        shoot(app, tmp / "many.db", out / "usage-zoomed.png", preset=Preset.YEAR,
              policy=policy, setup=zoomed)

        if FIXTURE.exists():
            rust = tmp / "rust-v0.db"
            shutil.copyfile(FIXTURE, rust)
            rust.chmod(0o644)
            rust_ids = ["tuxmath", "minecraft", "scummvm-puttputt"]
            rust_policy = policy_for(rust_ids, ["Tux Math", "Minecraft", "Putt-Putt"],
                                     {"tuxmath": 3600, "minecraft": 3600}, tmp / "rust.toml")
            shoot(app, rust, out / "usage-rust-v0.png", preset=Preset.ALL)
            shoot(app, rust, out / "usage-rust-v0-limits.png", preset=None,
                  custom=DayRange.from_dates(date(2026, 1, 1), date(2026, 1, 14)),
                  policy=rust_policy)
        # the Rust daemon histories with their policy: both 45-min limits told apart
        for name in ("rust-clean", "rust-crash-restarted"):
            path, rust_policy = rust_history(tmp, name)
            for mode_name, mode in MODES:
                suffix = "" if mode is Mode.STACKED else f"-{mode_name}"
                shoot(app, path, out / f"usage-{name}{suffix}.png", preset=Preset.WEEK,
                      policy=rust_policy, today=RUST_TODAY,
                      setup=mode_setup(mode, "minecraft"))
        path, rust_policy = rust_history(tmp, "rust-crash-restarted")
        shoot(app, path, out / "usage-rust-crash-restarted-dark.png", preset=Preset.WEEK,
              policy=rust_policy, today=RUST_TODAY, scheme="dark")
        demo, demo_policy = demo_history(tmp)
        shoot(app, demo, out / "usage-demo.png", preset=Preset.QUARTER, policy=demo_policy)
        shoot(app, demo, out / "usage-demo-side-1920-dark.png", preset=Preset.MONTH,
              policy=demo_policy, size=BIG, scheme="dark",
              setup=mode_setup(Mode.SIDE_BY_SIDE))
    shoot_windows(app, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
