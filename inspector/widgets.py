"""Small Qt helpers every view shares: named controls and text that stays plain.

Labels, ids and summaries come from the database and may contain markup (`<b>`,
`<img src=x>`); Qt guesses rich text in labels and tooltips, so views go through these.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget


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
