"""Several databases in one window (issue #17, item 6): added beside each other (files and
one on another computer through the real sshd of tests/sshd.py), each with its own tabs
that keep their place, switched by the row above the tabs and the keyboard, closed, the set
reopened at the next start, live changes in a database not shown, and their usage side by
side with the same figures as each one's own Usage tab. Databases are copies of the Rust
fixtures (with usage on the last days added to the copies); fixtures are never modified."""

from __future__ import annotations

import random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import remote_fixtures
from PySide6.QtWidgets import QFileDialog
from remote_fixtures import copy_fixture
from remote_window_support import remote_options, shot_path
from sshd import Sshd

from inspector import workers
from inspector.audit_view import EVENTS
from inspector.database_switcher import database_name, database_names
from inspector.formatting import format_duration
from inspector.main_window import SHORTCUTS, TAB_COOLDOWNS, TAB_USAGE, MainWindow
from inspector.usage_side_by_side import UsageSideBySide, side_range
from inspector.window_databases import DATABASES_KEY
from shepherd_store import AuditEvent, SqliteStore
from shepherd_store.events import ServiceStarted
from shepherd_store.timefmt import local_now
from shepherd_store.usage import DayRange

sshd = remote_fixtures.sshd
ENTRIES = ("minecraft", "tuxmath", "supertuxkart")
POLICY = "".join(f'[[entries]]\nid = "{e}"\nlabel = "{label}"\n[entries.limits]\n'
                 f"daily_quota_seconds = {quota}\n\n" for e, label, quota in (
                     ("minecraft", "Minecraft", 3600), ("tuxmath", "Tux Math", 2700),
                     ("supertuxkart", "SuperTuxKart", 2700)))


def kids_database(folder: Path, fixture: str, seed: int) -> Path:
    """A copy of a Rust fixture as `folder/shepherdd.db`, with usage on the last 30 days
    added (the fixtures' own usage is in March 2026)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = copy_fixture(folder, fixture).rename(folder / "shepherdd.db")
    rnd = random.Random(seed)
    with SqliteStore.open(path) as store:
        for back in range(30):
            day = date.today() - timedelta(days=back)
            for entry in ENTRIES:
                if rnd.random() < 0.7:
                    store.add_usage(entry, day, timedelta(minutes=rnd.randrange(5, 80)))
    return path


@pytest.fixture
def new_window(qtbot: Any) -> Iterator[Callable[..., MainWindow]]:
    """`new_window(sshd=None)`: a shown window (reaching `sshd`), closed after the test with
    every remote connection ended."""
    made: list[MainWindow] = []

    def make(server: Sshd | None = None) -> MainWindow:
        window = MainWindow()
        qtbot.addWidget(window)
        if server is not None:
            window.db.remote_options = remote_options(server)
        window.show()
        made.append(window)
        return window

    yield make
    for window in made:
        window.close()
        workers.wait_all()
        assert window.wait_closed(15.0)


def action(window: MainWindow, name: str) -> Any:
    return next(a for a in window.actions() if a.objectName() == name)


def button_texts(window: MainWindow) -> list[str]:
    return [b.text() for b in window.switcher.buttons]


def wait_side_by_side(qtbot: Any, view: UsageSideBySide) -> None:
    """Until every chart has read the view's days."""
    qtbot.waitUntil(lambda: all(p.daily is not None and p.daily.range == view.days()
                                for p in view.panels), timeout=30_000)
    workers.wait_all()


def usage_of(qtbot: Any, window: MainWindow, index: int, days: DayRange) -> Any:
    """Database `index`'s own Usage tab, read over `days`."""
    window.show_database(index)
    tab = window.usage
    tab.set_range(None, days)
    qtbot.waitUntil(lambda: tab.daily is not None and tab.daily.range == days
                    and not tab._loading, timeout=30_000)
    return tab


def test_names_say_which_computer_and_tell_copies_apart() -> None:
    assert database_name("/var/lib/shepherdd/shepherdd.db") == "shepherdd.db"
    assert database_name("ssh://parent@kids-pc:2222/var/lib/shepherdd/shepherdd.db") == \
        "kids-pc: shepherdd.db"
    assert database_name(None) == "No database"
    assert database_names(["/home/emma/shepherdd.db", "/home/leo/shepherdd.db",
                           "ssh://kids-pc/var/lib/shepherdd/shepherdd.db", "/tmp/x.db"]) == [
        "emma/shepherdd.db", "leo/shepherdd.db", "kids-pc: shepherdd.db", "x.db"]
    assert database_names(["ssh://a/x/s.db", "ssh://a/y/s.db"]) == ["a: x/s.db", "a: y/s.db"]


def test_side_range_is_the_days_chosen() -> None:
    wednesday = date(2026, 3, 11)
    assert side_range("today", wednesday) == DayRange.from_dates(wednesday, wednesday)
    assert side_range("week", wednesday) == DayRange.from_dates(date(2026, 3, 9), wednesday)
    assert side_range("7d", wednesday) == DayRange.from_dates(date(2026, 3, 5), wednesday)
    assert side_range("30d", wednesday) == DayRange.from_dates(date(2026, 2, 10), wednesday)


def test_databases_beside_each_other_keep_their_own_tabs(
        qtbot: Any, tmp_path: Path, new_window: Callable[..., MainWindow],
        monkeypatch: pytest.MonkeyPatch) -> None:
    emma = kids_database(tmp_path / "emma-pc", "rust-clean.db", 1)
    leo = kids_database(tmp_path / "leo-pc", "rust-crash-restarted.db", 2)
    window = new_window()
    window.open_path(emma)
    qtbot.waitUntil(lambda: window.audit.model.rowCount() > 0)
    # One database: the window as it always was.
    assert not window.switcher.isVisible() and not action(window, "actionCloseDatabase") \
        .isEnabled()
    assert window.windowTitle() == "shepherdd.db — Shepherd Inspector"
    emma_db, emma_audit = window.db, window.audit
    emma_audit.set_view(EVENTS)
    emma_audit.table.selectRow(5)
    window.tabs.setCurrentIndex(TAB_USAGE)

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(leo), ""))
    action(window, "actionAddDatabase").trigger()  # File ▸ Add Database…
    assert window.db.path == leo and window.db is not emma_db
    assert window.switcher.isVisible() and action(window, "actionCloseDatabase").isEnabled()
    assert button_texts(window) == ["emma-pc/shepherdd.db", "leo-pc/shepherdd.db"]
    assert [b.isChecked() for b in window.switcher.buttons] == [False, True]
    assert "Alt+2" in window.switcher.buttons[1].toolTip()
    assert str(leo) in window.switcher.buttons[1].toolTip()
    assert window.windowTitle() == "leo-pc/shepherdd.db — Shepherd Inspector"
    assert window.status.path.text() == str(leo)
    assert window.audit is not emma_audit and window.tabs.currentIndex() == 0
    qtbot.waitUntil(lambda: window.audit.model.rowCount() > 0)
    leo_audit = window.audit
    window.tabs.setCurrentIndex(TAB_COOLDOWNS)

    action(window, "actionDatabase1").trigger()  # Alt+1
    assert window.db is emma_db and window.audit is emma_audit
    assert window.tabs.currentIndex() == TAB_USAGE  # each keeps its own place
    assert emma_audit.table.currentIndex().row() == 5 and emma_audit.view == EVENTS
    assert window.status.path.text() == str(emma)
    action(window, "actionNextDatabase").trigger()  # Ctrl+PgDown
    assert window.audit is leo_audit and window.tabs.currentIndex() == TAB_COOLDOWNS
    action(window, "actionNextDatabase").trigger()  # round the end
    assert window.db is emma_db
    action(window, "actionPreviousDatabase").trigger()
    assert window.db.path == leo
    window.switcher.buttons[0].click()
    assert window.db is emma_db
    window.open_path(leo)  # open already: shown, not opened twice
    assert window.db.path == leo and len(window.workspace.slots) == 2

    # Every shortcut is one action's, and the help lists the new ones.
    keys = [a.shortcut().toString() for a in window.actions() if not a.shortcut().isEmpty()]
    assert len(keys) == len(set(keys)), keys
    assert {"Ctrl+W", "Alt+0", "Ctrl+PgDown", "Ctrl+PgUp", "Alt+1"} <= set(keys)
    listed = " ".join(k for k, _what in SHORTCUTS)
    assert all(k in listed for k in ("Ctrl+W", "Alt+1", "Alt+0", "Ctrl+PgDown"))


def test_open_replaces_the_current_one_and_close_keeps_the_last(
        qtbot: Any, tmp_path: Path, new_window: Callable[..., MainWindow]) -> None:
    emma = kids_database(tmp_path / "emma-pc", "rust-clean.db", 1)
    leo = kids_database(tmp_path / "leo-pc", "rust-crash-restarted.db", 2)
    mia = kids_database(tmp_path / "mia-pc", "rust-crash-down.db", 3)
    window = new_window()
    window.show_first_run()
    window.add_database(emma)  # nothing open yet: no empty database left beside it
    assert len(window.workspace.slots) == 1 and window.pages.currentIndex() == 0
    window.add_database(leo)
    window.open_path(mia)  # File ▸ Open… replaces the one shown
    assert [db.path for db in window.all_databases()] == [emma.absolute(), mia.absolute()]
    view = window.show_side_by_side()
    assert window.switcher.side_button.isChecked()
    assert not any(b.isChecked() for b in window.switcher.buttons)
    action(window, "actionCloseDatabase").trigger()  # Ctrl+W: none while not shown
    assert len(window.workspace.slots) == 2
    window.show_database(1)
    window.show_side_by_side()
    window.switcher.closeRequested.emit(1)  # the button's menu ▸ Close (mia)
    assert [db.path for db in window.all_databases()] == [emma.absolute()]
    assert window.workspace.currentWidget() is not view  # one left: its tabs again
    assert not window.switcher.isVisible()
    assert not action(window, "actionCloseDatabase").isEnabled()
    window.close_database()  # never the last one
    assert window.db.path == emma.absolute() and window.db.store is not None
    qtbot.waitUntil(lambda: window.audit.model.rowCount() > 0)
    assert window.windowTitle() == "shepherdd.db — Shepherd Inspector"


def test_the_databases_open_together_are_reopened(
        qtbot: Any, tmp_path: Path, new_window: Callable[..., MainWindow]) -> None:
    emma = kids_database(tmp_path / "emma-pc", "rust-clean.db", 1)
    leo = kids_database(tmp_path / "leo-pc", "rust-crash-restarted.db", 2)
    gone = kids_database(tmp_path / "gone-pc", "rust-v0.db", 3)
    first = new_window()
    first.open_path(emma)
    first.add_database(gone)
    first.add_database(leo)
    first.close()
    assert first.remembered_databases() == [str(emma), str(gone), str(leo)]
    gone.unlink()

    second = new_window()  # started with nothing asked for: the one shown last, shown
    second.show_first_run()
    assert second.reopen_databases() == 2
    assert [db.path for db in second.all_databases()] == [emma, leo]
    assert second.db.path == leo and second.pages.currentIndex() == 0
    assert button_texts(second) == ["emma-pc/shepherdd.db", "leo-pc/shepherdd.db"]

    third = new_window()  # started on one of them: that one shown, the other beside it
    third.open_path(emma)
    assert third.reopen_databases() == 1
    assert [db.path for db in third.all_databases()] == [emma, leo] and third.db.path == emma

    second.close_database()
    second.close()  # one open: nothing remembered (the next start opens what it is given)
    assert not second.settings.contains(DATABASES_KEY)


def test_a_change_in_a_database_not_shown_shows_when_switched_to(
        qtbot: Any, tmp_path: Path, new_window: Callable[..., MainWindow]) -> None:
    emma = kids_database(tmp_path / "emma-pc", "rust-clean.db", 1)
    leo = kids_database(tmp_path / "leo-pc", "rust-crash-restarted.db", 2)
    window = new_window()
    window.open_path(emma)
    emma_audit = window.audit
    emma_audit.set_view(EVENTS)
    qtbot.waitUntil(lambda: emma_audit.model.rowCount() > 0)
    before = emma_audit.model.rowCount()
    window.add_database(leo)
    with SqliteStore.open(emma) as store:
        store.append_audit(AuditEvent(0, local_now(), ServiceStarted()))
    qtbot.waitUntil(lambda: window.all_databases()[0].last_change is not None, timeout=15_000)
    assert window.status.changed.text() == "no changes since opened"  # (leo's)
    window.show_database(0)
    qtbot.waitUntil(lambda: emma_audit.model.rowCount() == before + 1, timeout=15_000)
    model = emma_audit.model
    assert "Service started" in str([model.index(0, c).data()
                                     for c in range(model.columnCount())])
    assert window.status.changed.text().startswith("last change")


def test_usage_side_by_side_has_each_usage_tabs_figures(
        qtbot: Any, tmp_path: Path, new_window: Callable[..., MainWindow]) -> None:
    emma = kids_database(tmp_path / "emma-pc", "rust-clean.db", 1)
    leo = kids_database(tmp_path / "leo-pc", "rust-crash-restarted.db", 2)
    policy = tmp_path / "shepherdd.toml"
    policy.write_text(POLICY, encoding="utf-8")
    window = new_window()
    window.resize(1280, 800)
    window.open_path(emma)
    window.load_policy(policy)  # emma's limits (leo's computer has no policy file here)
    window.add_database(leo)
    assert window.switcher.side_button.isVisible()
    window.switcher.side_button.click()
    view = window.side_by_side
    assert view is not None and window.workspace.currentWidget() is view
    assert (window.width(), window.height()) == (1280, 800)
    assert all(p.chart.width() >= 580 and p.chart.height() >= 450 for p in view.panels)
    assert [p.name for p in view.panels] == ["emma-pc/shepherdd.db", "leo-pc/shepherdd.db"]
    view.set_range("30d")
    wait_side_by_side(qtbot, view)
    days = view.days()
    assert days in (side_range("30d", date.today()),  # (the test may cross midnight)
                    side_range("30d", date.today() - timedelta(days=1)))
    figures = [p.daily.seconds for p in view.panels if p.daily is not None]
    for index, panel in enumerate(view.panels):
        tab = usage_of(qtbot, window, index, days)
        assert tab.daily is not None and panel.daily is not None
        assert panel.daily.seconds == tab.daily.seconds == figures[index]
        total = sum(sum(v) for v in tab.daily.seconds.values())
        assert total > 0 and panel.total.text() == f"{format_duration(total)} in all"
        assert panel.quotas == tab._quotas
        assert set(panel.chart.quota_lines) == set(tab.chart.quota_lines)
        for entry in panel.chart.over_bars:  # the same hatched time over each limit
            assert list(panel.chart.over_bars[entry].opts["height"]) == list(
                tab.chart.over_bars[entry].opts["height"])
    assert view.panels[0].quotas and not view.panels[1].quotas
    # One scale for all: the highest bar of either sets both.
    tops = [p.chart.data_top() for p in view.panels]
    assert all(p.chart.shared_top == max(tops) for p in view.panels)
    assert len({tuple(p.chart.vb.viewRange()[1]) for p in view.panels}) == 1
    # The same entry has the same colour in both charts.
    assert view.panels[0].chart.color("minecraft") == view.panels[1].chart.color("minecraft")

    # Live: play on leo's computer while the view is shown.
    action(window, "actionSideBySide").trigger()  # Alt+0
    leo_panel = view.panels[1]
    assert leo_panel.daily is not None
    before = sum(sum(v) for v in leo_panel.daily.seconds.values())
    with SqliteStore.open(leo) as store:
        store.add_usage("minecraft", date.today(), timedelta(hours=5))
    qtbot.waitUntil(lambda: leo_panel.daily is not None and sum(
        sum(v) for v in leo_panel.daily.seconds.values()) == before + 5 * 3600, timeout=15_000)
    assert view.shared_top is not None and view.shared_top >= 5 * 3600
    for choice in ("today", "week", "7d"):
        view.set_range(choice)
        wait_side_by_side(qtbot, view)
        assert all(p.daily is not None and p.daily.range == view.days() for p in view.panels)
        assert view.days() in (side_range(choice, date.today()),
                               side_range(choice, date.today() - timedelta(days=1)))


@pytest.fixture
def short_root() -> Iterator[Path]:
    """A short-named folder (the screenshots show the addresses whole), removed after."""
    folder = Path(tempfile.mkdtemp(prefix="kids-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_remote_database_beside_two_local_ones(
        qtbot: Any, tmp_path: Path, short_root: Path, sshd: Sshd,
        new_window: Callable[..., MainWindow]) -> None:
    emma = kids_database(short_root / "emma-laptop", "rust-clean.db", 1)
    leo = kids_database(short_root / "leo-desktop", "rust-crash-restarted.db", 2)
    mia = kids_database(short_root / "mia", "rust-crash-down.db", 3)  # served through ssh
    policy = tmp_path / "shepherdd.toml"
    policy.write_text(POLICY, encoding="utf-8")
    window = new_window(sshd)
    window.resize(1280, 800)
    window.open_path(emma)
    window.load_policy(policy)
    window.add_database(leo)
    window.load_policy(policy)
    assert not window.action_read_only.isChecked()

    dialog = window.choose_add_remote()  # File ▸ Add Remote Database…
    assert dialog.windowTitle() == "Add a database on another computer"
    dialog.computer.setEditText(f"{sshd.user}@127.0.0.1:{sshd.port}")
    dialog.path.setText(str(mia))
    dialog.start()
    qtbot.waitUntil(lambda: len(window.workspace.slots) == 3, timeout=30_000)
    remote = window.db
    assert remote.url == sshd.url(mia) and window.action_read_only.isChecked()
    assert button_texts(window)[2] == "127.0.0.1: shepherdd.db"
    assert "Connected through ssh to" in window.switcher.buttons[2].toolTip()
    assert window.windowTitle() == "127.0.0.1: shepherdd.db — Shepherd Inspector"
    window.load_policy(policy)
    qtbot.waitUntil(lambda: window.audit.sessions.loaded, timeout=30_000)
    window.show_database(0)
    assert not window.action_read_only.isChecked()  # emma's own setting
    window.show_database(2)
    assert window.action_read_only.isChecked() and not window.db.writable
    window.add_database(sshd.url(mia))  # open already: shown
    assert len(window.workspace.slots) == 3
    assert (window.width(), window.height()) == (1280, 800)  # (nothing pushes it wider)
    qtbot.wait(100)  # (laid out: the status bar's words)
    assert window.grab().save(shot_path("several-computers.png", tmp_path))

    view = window.show_side_by_side()
    view.set_range("7d")
    wait_side_by_side(qtbot, view)
    for index, panel in enumerate(view.panels):
        tab = usage_of(qtbot, window, index, view.days())
        assert tab.daily is not None and panel.daily is not None
        assert panel.daily.seconds == tab.daily.seconds
    window.show_side_by_side()
    qtbot.wait(200)  # (painted)
    assert (window.width(), window.height()) == (1280, 800)
    for panel in view.panels:  # titles and totals whole at 1280×800, charts of a good size
        for label in (panel.title, panel.total):
            assert label.width() >= label.sizeHint().width(), label.text()
        assert panel.chart.width() >= 380 and panel.chart.height() >= 450
    assert window.grab().save(shot_path("usage-side-by-side-databases.png", tmp_path))

    # The connection drops: its button says so, the others go on.
    assert remote.remote is not None
    remote.remote.drop()
    qtbot.waitUntil(lambda: "reconnecting" in button_texts(window)[2], timeout=15_000)
    assert window.switcher.buttons[0].text() == "emma-laptop/shepherdd.db"
    remote.remote.reconnect_now()
    qtbot.waitUntil(lambda: button_texts(window)[2] == "127.0.0.1: shepherdd.db",
                    timeout=30_000)

    window.close()  # remembered, and reopened: the remote one connects in the background
    workers.wait_all()
    again = new_window(sshd)
    again.show_first_run()
    assert again.reopen_databases() == 3
    assert again.database_names() == ["emma-laptop/shepherdd.db", "leo-desktop/shepherdd.db",
                                      "127.0.0.1: shepherdd.db"]
    back = again.all_databases()[2]
    assert back.remote is not None and back.user_read_only
    qtbot.waitUntil(lambda: back.store is not None, timeout=30_000)
    assert again.db is back  # shown when the window closed
    qtbot.waitUntil(lambda: again.audit.model.rowCount() > 0, timeout=30_000)
    again.show_database(2)
    action(again, "actionCloseDatabase").trigger()
    assert again.database_names() == ["emma-laptop/shepherdd.db", "leo-desktop/shepherdd.db"]
