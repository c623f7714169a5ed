"""The row above the tabs that switches between the window's open databases (issue #17:
one window, one database per child's computer).

One button per database, named as people say it (`database_names`: the file's name, or
"host: file" for a database on another computer, with its folder when two names would
read the same), a coloured dot and a word for its state (a remote one's connection:
connecting, reconnecting, not connected; the tooltip says more, and names Alt+1…9); "+"
adds a database beside the others, and "Usage side by side" (two or more open) compares
their usage.
The row is hidden while one database is open: the window then looks as it always did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from PySide6.QtCore import QPoint, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QMenu,
    QToolButton,
    QWidget,
)

from shepherd_store import StoreError
from shepherd_store.remote import looks_remote, parse_url

from .database import Database
from .widgets import plain_tip, set_control

__all__ = ["DatabaseSwitcher", "SwitcherItem", "database_name", "database_names",
           "database_state"]

#: The dot's colour per state kind: open or connected, on its way, down, nothing open.
STATE_COLORS = {"ok": "#43A047", "busy": "#FFB300", "down": "#E53935", "none": "#9E9E9E"}
#: How many databases have an Alt+digit of their own.
MAX_KEYED = 9
BUTTON_STYLE = (
    "QToolButton { padding: 3px 10px; border: 1px solid palette(mid); border-radius: 4px; }"
    "QToolButton:checked { background: palette(highlight); color: palette(highlighted-text);"
    " border-color: palette(highlight); }")


def _split(location: str) -> tuple[str | None, PurePosixPath]:
    """(The host of a remote location or None, the file's path)."""
    if looks_remote(location):
        try:
            url = parse_url(location)
        except StoreError:
            return None, PurePosixPath(location)
        return url.host, PurePosixPath(url.path)
    return None, PurePosixPath(location)


def database_name(location: str | None, *, folders: int = 0) -> str:
    """A database as people name it: its file's name ("shepherdd.db"), or "host: file" for
    one on another computer; `folders` of its parent folders go before the name."""
    if location is None:
        return "No database"
    host, path = _split(location)
    parts = path.parts[-(folders + 1):] if path.parts else (location,)
    name = "/".join(p for p in parts if p != "/") or location
    return f"{host}: {name}" if host is not None else name


def database_names(locations: Sequence[str | None]) -> list[str]:
    """`database_name` of each; names that would read the same get their folders (up to
    three), so two children's `shepherdd.db` copies are told apart."""
    names = [database_name(loc) for loc in locations]
    for folders in (1, 2, 3):
        repeated = {n for n in names if names.count(n) > 1}
        if not repeated:
            break
        names = [database_name(loc, folders=folders) if n in repeated else n
                 for n, loc in zip(names, locations, strict=True)]
    return names


def database_state(db: Database) -> tuple[str, str, str]:
    """(The state's kind: ok, busy, down or none; the button's words for it, "" when all is
    well; the tooltip's words)."""
    remote = db.remote
    if remote is not None:
        where = f"through ssh to {remote.url.destination}"
        state = remote.state
        if state == "connected":
            if db.store is None:
                return "down", "cannot read", db.error or ""
            return "ok", "", f"Connected {where}"
        if state == "connecting":
            return "busy", "connecting…", f"Connecting {where}…"
        if state == "reconnecting":
            return "busy", "reconnecting…", f"Connection lost, reconnecting {where}…" + (
                f"\n{remote.error}" if remote.error else "")
        return "down", "not connected", f"Not connected: {remote.error or 'closed'}"
    if db.store is not None:
        return "ok", "", ""
    if db.error:
        return "down", "cannot read", db.error
    return "none", "nothing open", ""


def state_dot(color: str, size: int = 10) -> QIcon:
    """A filled circle in `color` (the state of a database on its button)."""
    pixmap = QPixmap(size * 2, size * 2)  # drawn at twice the size: sharp on HiDPI
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QColor(color).darker(130))
    painter.setBrush(QColor(color))
    painter.drawEllipse(QRectF(1, 1, size * 2 - 2, size * 2 - 2))
    painter.end()
    pixmap.setDevicePixelRatio(2.0)
    return QIcon(pixmap)


@dataclass(frozen=True)
class SwitcherItem:
    """What one database's button says: its name, state kind and words (the tooltip's in
    `detail`), and where it is."""

    name: str
    kind: str
    words: str
    detail: str
    location: str | None

    @classmethod
    def of(cls, db: Database, name: str) -> SwitcherItem:
        kind, words, detail = database_state(db)
        return cls(name, kind, words, detail, db.location)

    @property
    def text(self) -> str:
        return self.name if not self.words else f"{self.name} — {self.words}"


class DatabaseSwitcher(QWidget):
    """The open databases as a row of buttons (one checked: the current one), "+" to add
    one, and "Usage side by side" when two or more are open (see the module)."""

    #: A database's button was pressed (its index).
    chosen = Signal(int)
    #: "Usage side by side" was pressed.
    sideBySideChosen = Signal()
    #: Close was chosen in a button's menu (its index).
    closeRequested = Signal(int)
    addRequested = Signal()
    addRemoteRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("databaseSwitcher")
        self.setAccessibleName("Open databases")
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(0, 0, 0, 2)
        self._row.setSpacing(4)
        self.title = QLabel("Databases:", self)
        self.title.setObjectName("databaseSwitcherTitle")
        self._row.addWidget(self.title)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: list[QToolButton] = []
        self.items: list[SwitcherItem] = []
        self.add_button = QToolButton(self)
        self.add_button.setText("+")
        set_control(self.add_button, "databaseAdd",
                    "Add a database beside these (a file, or one on another computer)",
                    "Add a database")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.add_button)
        for text, signal, name in (("Add Database…", self.addRequested, "switcherAddFile"),
                                   ("Add Remote Database…", self.addRemoteRequested,
                                    "switcherAddRemote")):
            action = QAction(text, menu)
            action.setObjectName(name)
            action.triggered.connect(signal.emit)
            menu.addAction(action)
        self.add_button.setMenu(menu)
        self.side_button = QToolButton(self)
        self.side_button.setText("Usage side by side")
        self.side_button.setCheckable(True)
        self.side_button.setStyleSheet(BUTTON_STYLE)
        set_control(self.side_button, "databaseSideBySide",
                    "Every open database's usage over the same days, on the same scale "
                    "(Alt+0)", "Usage side by side")
        self.side_button.clicked.connect(self.sideBySideChosen.emit)
        self.group.addButton(self.side_button)
        self._row.addWidget(self.add_button)
        self._row.addStretch(1)
        self._row.addWidget(self.side_button)

    def set_items(self, items: Sequence[SwitcherItem], current: int, *,
                  side_by_side: bool = False) -> None:
        """One button per database (`current` checked, or "Usage side by side" when
        `side_by_side`); the row shows only with two or more."""
        while len(self.buttons) < len(items):
            self._add_button()
        while len(self.buttons) > len(items):
            button = self.buttons.pop()
            self.group.removeButton(button)
            button.deleteLater()
        self.items = list(items)
        for i, (button, item) in enumerate(zip(self.buttons, items, strict=True)):
            button.setText(item.text.replace("&", "&&"))
            button.setIcon(state_dot(STATE_COLORS.get(item.kind, STATE_COLORS["none"])))
            key = f" (Alt+{i + 1})" if i < MAX_KEYED else ""
            where = item.location or "No database open"
            state = f"\n{item.detail}" if item.detail else ""
            button.setToolTip(plain_tip(f"{where}{state}\nShow this database's tabs{key}"))
            button.setAccessibleName(f"Database {item.name}")
            button.setChecked(i == current and not side_by_side)
        self.side_button.setChecked(side_by_side)
        self.side_button.setVisible(len(items) >= 2)
        self.setVisible(len(items) >= 2)

    def _add_button(self) -> None:
        button = QToolButton(self)
        button.setObjectName(f"databaseButton{len(self.buttons) + 1}")
        button.setCheckable(True)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.setStyleSheet(BUTTON_STYLE)
        button.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        index = len(self.buttons)
        button.clicked.connect(lambda _c=False, i=index: self.chosen.emit(i))
        button.customContextMenuRequested.connect(
            lambda pos, i=index: self._menu(i, pos))
        self.group.addButton(button)
        self._row.insertWidget(1 + index, button)  # after the title, before "+"
        self.buttons.append(button)

    def _menu(self, index: int, pos: QPoint) -> None:
        menu = QMenu(self)
        menu.setObjectName("databaseButtonMenu")
        menu.addAction("Show", lambda: self.chosen.emit(index))
        menu.addAction("Close", lambda: self.closeRequested.emit(index))
        menu.popup(self.buttons[index].mapToGlobal(pos))
