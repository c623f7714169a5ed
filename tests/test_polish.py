"""Desktop polish: remembered state, themes, keyboard and accessibility, help."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDateTimeEdit,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from inspector.app import open_window
from inspector.theme import apply_theme, is_dark


def test_a_second_window_restores_the_first_ones_state(qtbot, rust_v0: Path) -> None:
    first = open_window(rust_v0, read_only=True)
    qtbot.addWidget(first)
    first.show()
    first.resize(1100, 700)
    size = (first.width(), first.height())
    first.tabs.setCurrentIndex(first.tabs.count() - 1)
    first.audit.splitter.setSizes([700, 260])
    first.audit.table.setColumnWidth(2, 333)
    sizes = first.audit.splitter.sizes()
    first.close()

    second = open_window(rust_v0, read_only=True)
    qtbot.addWidget(second)
    second.show()
    assert (second.width(), second.height()) == size
    assert second.tabs.currentIndex() == second.tabs.count() - 1
    assert second.audit.table.columnWidth(2) == 333
    second.tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: sum(second.audit.splitter.sizes()) > 500)
    restored = second.audit.splitter.sizes()
    assert abs(restored[0] / sum(restored) - sizes[0] / sum(sizes)) < 0.02
    assert second.recent_menu.actions()[0].text() == str(rust_v0)


def test_light_and_dark_schemes_are_readable(qtbot, rust_v0: Path) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    try:
        for scheme in ("light", "dark"):
            apply_theme(app, scheme)
            assert is_dark() == (scheme == "dark")
            window = open_window(rust_v0, read_only=True)
            qtbot.addWidget(window)
            window.show()
            pal = window.audit.table.palette()
            text = pal.color(QPalette.ColorRole.Text)
            base = pal.color(QPalette.ColorRole.Base)
            assert abs(text.lightness() - base.lightness()) > 120  # clear contrast
            image = window.grab().toImage()
            assert not image.isNull()
    finally:
        apply_theme(app, "light")


def controls(window: QWidget) -> list[QWidget]:
    kinds = (QAbstractButton, QLineEdit, QComboBox, QDateTimeEdit, QAbstractItemView,
             QPlainTextEdit)
    found = [w for w in window.findChildren(QWidget) if isinstance(w, kinds)]
    # Qt's own internals (tab-bar scrollers, calendar popups, line edits inside spin boxes,
    # header views) are named by Qt; the application's own controls are what we check.
    return [w for w in found if w.objectName() and not w.objectName().startswith("qt_")
            and w.objectName() not in ("ScrollLeftButton", "ScrollRightButton")]


def test_every_control_has_an_accessible_name_and_a_tooltip(qtbot, rust_v0: Path) -> None:
    window = open_window(rust_v0, read_only=True)
    qtbot.addWidget(window)
    window.show()
    missing = [f"{type(w).__name__}#{w.objectName()}" for w in controls(window)
               if not w.accessibleName() or not (w.toolTip() or isinstance(w, QAbstractItemView))]
    assert not missing, missing
    unnamed = [type(w).__name__ for w in window.findChildren(QWidget)
               if isinstance(w, (QAbstractButton, QLineEdit, QComboBox))
               and not w.objectName() and w.isVisibleTo(window)]
    assert not unnamed, f"controls without an objectName: {unnamed}"


def test_keyboard_alone_reaches_the_filters_and_the_table(qtbot, rust_v0: Path) -> None:
    window = open_window(rust_v0, read_only=True)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    tab = window.audit
    tab.show_events()  # the event log (the Sessions view: tests/test_sessions_view.py)
    tab.type_button.setFocus()
    order = [QApplication.focusWidget()]
    for _ in range(8):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        order.append(QApplication.focusWidget())
    names = [w.objectName() for w in order if w is not None]
    expected = ["auditTypeFilter", "auditEntryFilter", "auditSessionFilter", "auditTimeFilter",
                "auditSearch", "auditClearFilters"]
    assert names[:len(expected)] == expected
    assert "auditTable" in names
    # Ctrl+2 switches tabs, Ctrl+F comes back to the search field.
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentIndex() == 1
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentIndex() == 0
    assert QApplication.focusWidget() is tab.search
    # The table is driven by arrows: the detail pane follows.
    tab.table.setFocus()
    qtbot.keyClick(tab.table, Qt.Key.Key_Down)
    qtbot.keyClick(tab.table, Qt.Key.Key_Down)
    assert tab.selected_event() is not None
    assert tab.detail_fields.rowCount() > 0


def test_about_names_every_version(qtbot, rust_v0: Path) -> None:
    window = open_window(rust_v0, read_only=True)
    qtbot.addWidget(window)
    text = window.about_text()
    for word in ("Shepherd Inspector", "Qt", "PySide6", "pyqtgraph", "SQLite", "rust"):
        assert word in text


def test_starts_inside_a_small_laptop_screen_and_at_high_dpi(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    script = (
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from inspector.app import open_window\n"
        "w = open_window(None)\n"
        "w.show()\n"
        "screen = app.primaryScreen().availableGeometry()\n"
        "print(w.width(), w.height(), screen.width(), screen.height(),"
        " app.primaryScreen().devicePixelRatio())\n")
    repo = Path(__file__).resolve().parent.parent
    for config, dpr in (("offscreen-laptop.json", 1.0), ("offscreen-hidpi.json", 2.0)):
        path = Path(__file__).resolve().parent / config
        if config == "offscreen-hidpi.json":
            path = tmp_path / config
            path.write_text('{"screens": [{"name": "hidpi", "x": 0, "y": 0, "width": 1440, '
                            '"height": 900, "logicalDpi": 96, "dpr": 2}]}')
        env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={path}",
                   XDG_CONFIG_HOME=str(tmp_path / "config"))
        out = subprocess.run([sys.executable, "-c", script], cwd=repo, env=env, check=True,
                             capture_output=True, text=True, timeout=60).stdout.split()
        width, height, screen_w, screen_h = (int(v) for v in out[:4])
        assert width <= screen_w and height <= screen_h, out
        assert width >= 800 and height >= 500, out
        assert float(out[4]) == dpr


def test_a_long_address_gives_way_to_the_status_facts(qtbot, rust_v0: Path,
                                                      tmp_path: Path) -> None:
    # Found: a long path (or ssh:// address) in the status bar widened the window past
    # 1280 and squeezed "reconnecting to 127.0.0.1" to "reconnecting to 127.0.0".
    folder = tmp_path / ("a-long-folder-name-for-the-childs-computer-" * 4)
    folder.mkdir()
    path = folder / "shepherdd.db"
    path.write_bytes(rust_v0.read_bytes())
    window = open_window(path, read_only=True)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitUntil(lambda: window.audit.model.rowCount() > 0)
    status = window.status
    assert window.width() == 1280
    assert status.path.text() == str(path) and status.path.toolTip() == str(path)
    for label in (status.layout_label, status.access, status.changed):
        assert label.width() >= label.sizeHint().width(), label.objectName()
    assert status.path.width() < status.path.sizeHint().width()  # it is the one elided
