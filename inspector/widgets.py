"""Small Qt helpers every view shares: named controls and text that stays plain.

Labels, ids and summaries come from the database and may contain markup (`<b>`,
`<img src=x>`); Qt guesses rich text in labels and tooltips, so views go through these.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget


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
