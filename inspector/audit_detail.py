"""The event log's table and the detail pane of its selected event.

`AuditTab` (audit_view.py) hosts them beside the Sessions view's (sessions_view.py): the
table over `AuditModel` (its selection copied as text), and the pane with the event's
fields (times local and as stored), a marker for unreadable, unknown and manual rows, and
the raw JSON as the service stored it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QPlainTextEdit,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from shepherd_store import AuditEvent, UnknownEvent

from .audit_model import AuditModel
from .formatting import event_fields, pretty_json
from .widgets import log_table


def make_events_table(parent: QWidget, model: AuditModel) -> QTableView:
    """The event log's table, its columns sized for the widest time, event and entry."""
    table = log_table(parent, model, "auditTable", "Audit log")
    fm = parent.fontMetrics()
    for col, sample in ((0, "2026-12-31 23:59:59"), (1, "Client disconnected"),
                        (2, "Putt-Putt (scummvm-puttputt)"), (3, "aaaaaaaa")):
        table.setColumnWidth(col, fm.horizontalAdvance(sample) + 36)
    return table


def selected_rows_text(table: QTableView) -> str:
    """The selected rows of `table` (at most 10,000) as tab-separated text, all columns."""
    model = table.model()
    rows = sorted({i.row() for i in table.selectionModel().selectedIndexes()})
    lines = []
    for row in rows[:10_000]:
        cells = [str(model.index(row, c).data() or "") for c in range(model.columnCount())]
        lines.append("\t".join(cells))
    return "\n".join(lines)


class EventDetail(QWidget):
    """The fields and raw JSON of the selected event."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("auditDetail")
        self.marker = QLabel(self)
        self.marker.setObjectName("auditDetailMarker")
        self.marker.setTextFormat(Qt.TextFormat.PlainText)
        self.marker.setWordWrap(True)
        self.marker.setVisible(False)
        self.marker.setStyleSheet(
            "QLabel { background: #FFEBEE; color: #B71C1C; padding: 6px; border-radius: 4px; }")
        self.fields = QTableWidget(0, 2, self)
        self.fields.setObjectName("auditDetailFields")
        self.fields.setAccessibleName("Event fields")
        self.fields.setHorizontalHeaderLabels(["Field", "Value"])
        self.fields.verticalHeader().setVisible(False)
        self.fields.horizontalHeader().setStretchLastSection(True)
        self.fields.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.fields.setWordWrap(True)
        self.raw = QPlainTextEdit(self)
        self.raw.setObjectName("auditDetailRaw")
        self.raw.setAccessibleName("Raw JSON of the event")
        self.raw.setReadOnly(True)
        self.raw.setToolTip("The event exactly as the service stored it")
        self.raw.setPlaceholderText("Select an event to see its raw JSON")
        self.raw.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        dl = QVBoxLayout(self)
        dl.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Details", self)
        title.setStyleSheet("font-weight: bold;")
        dl.addWidget(title)
        dl.addWidget(self.marker)
        dl.addWidget(self.fields, 3)
        raw_title = QLabel("Raw JSON, as stored", self)
        raw_title.setStyleSheet("font-weight: bold;")
        dl.addWidget(raw_title)
        dl.addWidget(self.raw, 2)

    def show_event(self, event: AuditEvent | None, labels: dict[str, str]) -> None:
        """Describe `event` (None: nothing selected), naming entries by `labels`."""
        self.fields.setRowCount(0)
        if event is None:
            self.raw.setPlainText("")
            self.marker.setVisible(False)
            return
        rows = event_fields(event, labels)
        self.fields.setRowCount(len(rows))
        for i, (name, value) in enumerate(rows):
            self.fields.setItem(i, 0, QTableWidgetItem(name))
            self.fields.setItem(i, 1, QTableWidgetItem(value))
        self.fields.resizeColumnToContents(0)
        self.fields.resizeRowsToContents()
        ev = event.event
        if isinstance(ev, UnknownEvent):
            self.marker.setText(
                f"⚠ Unreadable row: {ev.error}. Shown as stored; the rest of the log is fine."
                if ev.malformed else
                f"⚠ Unknown event type “{ev.type}” (written by a newer service). Shown as stored.")
            self.marker.setVisible(True)
        elif ev.TYPE == "manual_override":
            self.marker.setText("✎ Manual change made with the inspector or the CLI.")
            self.marker.setVisible(True)
        else:
            self.marker.setVisible(False)
        stamp = f"timestamp: {event.raw_timestamp}\n" if event.raw_timestamp else ""
        self.raw.setPlainText(stamp + pretty_json(event.raw_json or ""))
