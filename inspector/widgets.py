"""Small Qt helpers every view shares: named controls, text that stays plain, and the base
of the tabs that read the open database.

Labels, ids and summaries come from the database and may contain markup (`<b>`,
`<img src=x>`); Qt guesses rich text in labels and tooltips, so views go through these.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractItemModel, Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTableView,
    QWidget,
)

from . import workers

if TYPE_CHECKING:
    from .database import Database


def set_control(widget: QWidget, name: str, tip: str, accessible: str | None = None) -> None:
    """Give a control its stable objectName, tooltip and accessible name."""
    widget.setObjectName(name)
    widget.setToolTip(tip)
    widget.setAccessibleName(accessible or tip.split(".")[0])


def plain_label(parent: QWidget, name: str, text: str = "") -> QLabel:
    """A label that never interprets its text as rich text (database content)."""
    label = QLabel(text, parent)
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def log_table(parent: QWidget, model: QAbstractItemModel, name: str,
              accessible: str) -> QTableView:
    """A read-only table of log rows: whole rows selected (several at once), one line each,
    elided on the right, rows as tall as a line of text, the last column stretched."""
    table = QTableView(parent)
    table.setObjectName(name)
    table.setAccessibleName(accessible)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.setTextElideMode(Qt.TextElideMode.ElideRight)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    vh = table.verticalHeader()
    vh.setVisible(False)
    vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    vh.setDefaultSectionSize(parent.fontMetrics().height() + 8)
    hh = table.horizontalHeader()
    hh.setStretchLastSection(True)
    hh.setHighlightSections(False)
    return table


def plain_tip(text: str) -> str:
    """A tooltip showing `text` literally (tooltips would otherwise render markup)."""
    return "<qt>" + html.escape(text).replace("\n", "<br>") + "</qt>"


def ask_yes(parent: QWidget, title: str, text: str) -> bool:
    """A plain-text Yes/Cancel question, Cancel by default (changes need a deliberate yes)."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text,
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box.exec() == QMessageBox.StandardButton.Yes


def ask_retry(parent: QWidget, title: str, text: str, *, retry: str,
              cancel: str | None = None) -> bool:
    """A plain-text warning offering to try again (True) or give up."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text,
                      QMessageBox.StandardButton.Retry | QMessageBox.StandardButton.Cancel,
                      parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.button(QMessageBox.StandardButton.Retry).setText(retry)
    if cancel is not None:
        box.button(QMessageBox.StandardButton.Cancel).setText(cancel)
    return box.exec() == QMessageBox.StandardButton.Retry


def show_error(parent: QWidget, title: str, text: str) -> None:
    """A plain-text error the person acknowledges."""
    box = QMessageBox(QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Ok,
                      parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.exec()


class WhenShown(QWidget):
    """A widget whose work for what it shows waits, while it is hidden, until it is shown.

    The service commits many times a second; redrawing a hidden tab after each commit cost
    the GUI thread 30-150 ms apiece, for nobody. Several requests while hidden run once.
    """

    _when_shown: Callable[[], None] | None = None

    def later_if_hidden(self, action: Callable[[], None]) -> bool:
        """True, with `action` kept for the next show event, when the widget is hidden."""
        if self.isVisible():
            return False
        self._when_shown = action
        return True

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        action, self._when_shown = self._when_shown, None
        if action is not None:
            action()


class DatabaseTab(WhenShown):
    """A tab that shows what it reads from the open `Database` and follows it live.

    It reads again, off the GUI thread, when a database is opened (`_on_opened`) and after
    every commit (after commits while hidden, once when shown); `_load_job` returns what
    to run in the pool (None: nothing to read), whose result goes to `_on_loaded` and a
    failure's message to `_on_load_failed`. `_on_failed` shows a file that cannot be read,
    `_on_state` read-only state, labels and policy, and `_tick` repaints every second
    without reading. A subclass sets up its own state and
    widgets after `__init__`, then calls `_follow()`.
    """

    loaded = Signal()  # a read was shown
    written = Signal()  # one of the tab's edits was committed

    def __init__(self, db: Database, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.db = db
        self._loader = workers.Reloader(self._load_job, self._on_loaded, self._on_load_failed)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)

    def _follow(self) -> None:
        """Start the 1 s tick, follow the database's signals, and show what is open now."""
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        db = self.db
        db.opened.connect(self._on_opened)
        db.changed.connect(self._on_changed)
        db.failed.connect(self._on_failed)
        db.stateChanged.connect(self._on_state)
        self._on_state()
        if db.store is not None:
            self.reload()

    def _make_notice(self, name: str, accessible_name: str) -> QLabel:
        """The plain-text, wrapping line at the top of the tab that says what is wrong."""
        notice = plain_label(self, name)
        notice.setWordWrap(True)
        notice.setAccessibleName(accessible_name)
        return notice

    def reload(self) -> None:
        """Read again (off the GUI thread; requests during a read cost one more read)."""
        self._loader.request()

    def _on_opened(self) -> None:
        self.reload()

    def _on_changed(self) -> None:
        """Another connection committed: read again, or once when shown if hidden."""
        if not self.later_if_hidden(self.reload):
            self.reload()

    def _tick(self) -> None:
        """Every second: repaint what depends on the time (no reads)."""

    def _load_job(self) -> Callable[[], object] | None:
        raise NotImplementedError

    def _on_loaded(self, result: object) -> None:
        raise NotImplementedError

    def _on_load_failed(self, message: str) -> None:
        raise NotImplementedError

    def _on_failed(self, message: str) -> None:
        raise NotImplementedError

    def _on_state(self) -> None:
        raise NotImplementedError
