"""The Audit tab's status row: how many rows match, a search's progress, the chip for rows
that arrived above, "Follow new …" and the Export menu.

`AuditTab` (audit_view.py) decides what they say and do; this row shows it.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QToolButton,
    QWidget,
)

from .audit_model import AuditModel
from .widgets import set_control


class AuditStatusRow(QWidget):
    """The row between the filters and the tables."""

    exportAsked = Signal(str)  # "csv" or "json", chosen from the Export menu

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("auditStatusRow")
        self.count_label = QLabel(self)
        self.count_label.setObjectName("auditCount")
        self.count_label.setTextFormat(Qt.TextFormat.PlainText)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("auditProgress")
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.progress.setAccessibleName("Search progress")
        self.follow = QCheckBox("Follow new events", self)
        self.follow.setChecked(True)
        set_control(self.follow, "auditFollow",
             "Keep the newest event in view as the service writes. Off: stay where you are.")
        self.new_chip = QPushButton(self)
        set_control(self.new_chip, "auditNewEvents",
                    "New events arrived above. Click to go to them.")
        self.new_chip.setVisible(False)
        self.new_chip.setStyleSheet(
            "QPushButton { background: #1E88E5; color: white; border-radius: 9px; "
            "padding: 2px 10px; font-weight: bold; }")
        self.export_button = QToolButton(self)
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        set_control(self.export_button, "auditExport",
                    "Save the events matching the filters to a file.")
        export_menu = QMenu(self.export_button)
        export_menu.addAction("CSV…", lambda: self.exportAsked.emit("csv"))
        export_menu.addAction("JSON…", lambda: self.exportAsked.emit("json"))
        self.export_button.setMenu(export_menu)
        status = QHBoxLayout(self)
        status.setContentsMargins(0, 0, 0, 0)
        status.addWidget(self.count_label)
        status.addWidget(self.progress)
        status.addStretch(1)
        status.addWidget(self.new_chip)
        status.addWidget(self.follow)
        status.addWidget(self.export_button)

    def set_view(self, sessions: bool) -> None:
        """The Sessions view follows sessions and exports nothing; the event log both."""
        self.export_button.setVisible(not sessions)
        self.follow.setText("Follow new sessions" if sessions else "Follow new events")

    def show_loading(self, loading: bool) -> None:
        """A busy bar while the view shown reads (a search turns it into a percentage)."""
        if loading:
            if not self.progress.isVisible():
                self.progress.setRange(0, 0)
                self.progress.setVisible(True)
        else:
            self.progress.setVisible(False)

    def show_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(min(1000, int(1000 * done / total)))
        self.progress.setFormat(f"Searching… {100 * done // total}%")

    def show_new(self, count: int, noun: str) -> None:
        """`count` new `noun`s arrived above the rows in view."""
        self.new_chip.setText(f"↑ {count:,} new {noun}{'s' if count > 1 else ''}")
        self.new_chip.setVisible(True)


def event_count_text(model: AuditModel, *, has_store: bool) -> str:
    """The count line of the event log: "+" while more matches may come."""
    n = model.rowCount()
    if not has_store:
        return "No database open"
    if model.filtered:
        more = model.canFetchMore(QModelIndex()) or model.loading
        text = f"{n:,}{'+' if more else ''} matching event{'s' if n != 1 else ''}"
        if model.loading:
            text += " — searching…"
        return text
    return f"{n:,} event{'s' if n != 1 else ''}"
