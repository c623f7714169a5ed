"""The Recovery tab's panes: the runs, the findings, the timeline of one run, and the
snapshot section. They build and lay out their tables and labels; the tab (`recovery_tab`)
fills them and keeps their selection in step (`recovery_selection`).
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGroupBox,
    QHeaderView,
    QPlainTextEdit,
    QScrollArea,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .database import Database
from .recovery_logic import Timeline
from .recovery_models import RUN_COLUMNS, ElidingLabel, RecoveryFindingModel, RunModel
from .recovery_timeline import RunTimeline
from .snapshot_tab import SnapshotTab
from .widgets import set_control

TIMELINE_TITLE = "Timeline of the selected run (local time)"


def row_table(parent: QWidget, model: QAbstractTableModel, name: str, tip: str,
              accessible: str) -> QTableView:
    """A table of whole rows, one selected at a time, whose columns fit the newest 100 rows
    (a log of years holds thousands of runs)."""
    table = QTableView(parent)
    set_control(table, name, tip, accessible)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    table.setWordWrap(False)
    for header in (table.horizontalHeader(), table.verticalHeader()):
        header.setResizeContentsPrecision(100)
    return table


class RunsPane(QGroupBox):
    """The service's runs, newest first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Runs of the service (newest first)", parent)
        self.setObjectName("recoveryRuns")
        layout = QVBoxLayout(self)
        self.model = RunModel(self)
        self.table = row_table(
            self, self.model, "recoveryRunsTable", "Each run of the service, from its start "
            "to a clean stop, a crash (the next start) or now. Select one to see its timeline.",
            "Runs of the service")
        header = self.table.horizontalHeader()
        for col in range(len(RUN_COLUMNS) - 1):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        layout.addWidget(self.table)

    def needed_width(self) -> int:
        """The width at which no column is cut (the last one fits "1 to repair, 1
        repaired")."""
        table = self.table
        header = table.horizontalHeader()
        last = self.model.columnCount() - 1  # the others fit their contents already
        needed = sum(header.sectionSize(c) for c in range(last))
        needed += max(header.sectionSizeHint(last), table.fontMetrics().horizontalAdvance(
            "1 to repair, 1 repaired") + 12)
        needed += table.verticalScrollBar().sizeHint().width() + 2 * table.frameWidth() + 30
        return needed


class FindingsPane(QGroupBox):
    """The findings, and the selected one in full."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Findings", parent)
        self.setObjectName("recoveryFindingsBox")
        layout = QVBoxLayout(self)
        self.model = RecoveryFindingModel(self)
        self.table = row_table(
            self, self.model, "recoveryFindings", "What the audit log shows went "
            "unrecorded. Select a finding to read it in full and to repair it.", "Findings")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMaximumHeight(110)
        layout.addWidget(self.table)
        self.detail = QPlainTextEdit(self)
        set_control(self.detail, "recoveryFindingDetail",
                    "The selected finding: what happened, what it lost, and what to do",
                    "Finding details")
        self.detail.setReadOnly(True)
        layout.addWidget(self.detail, 1)


class TimelinePane(QGroupBox):
    """The timeline of the selected run, under a one-line title."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(TIMELINE_TITLE, parent)
        self.setObjectName("recoveryTimelineBox")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        # A label, not the box's title: a long title would set the window's minimum width.
        self.run_title = ElidingLabel(self)
        self.run_title.setObjectName("recoveryTimelineTitle")
        self.run_title.setAccessibleName("The selected run")
        layout.addWidget(self.run_title)
        self.timeline = RunTimeline(self)
        layout.addWidget(self.timeline, 1)

    def show_message(self, text: str) -> None:
        """No timeline: `text` in its place, and no title."""
        self.timeline.set_timeline(None, text)
        self.run_title.setText("")

    def show_timeline(self, timeline: Timeline | None, session_id: str | None) -> None:
        """`timeline` (None: its times cannot be read), with `session_id`'s bar selected."""
        self.timeline.set_timeline(timeline, "The times of this run cannot be read.")
        self.timeline.set_selected(session_id)
        self.run_title.setText(timeline.title if timeline else "")


class SnapshotSection(QGroupBox):
    """The snapshot section (`snapshot_tab`): in full where a snapshot exists, else one
    line."""

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__("Crash-recovery snapshot", parent)
        self.setObjectName("snapshotSection")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        # The snapshot's editor needs more height than the tab has left at 1280×800: it
        # scrolls inside its section rather than make the window taller than the screen.
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setObjectName("snapshotScroll")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.snapshot = SnapshotTab(db)
        inner = self.snapshot.layout()
        if inner is not None:
            inner.setContentsMargins(0, 0, 0, 0)
        self.scroll_area.setWidget(self.snapshot)
        layout.addWidget(self.scroll_area)

    def fit(self) -> int:
        """Let the section grow where there is a snapshot, else keep it to its one line;
        returns the height of that line."""
        present, scroll = self.snapshot.present, self.scroll_area
        unlimited = 16_777_215
        scroll.setMaximumHeight(unlimited if present else
                                self.snapshot.absent.sizeHint().height() + 4)
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded if present else
                                          Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMaximumHeight(unlimited)
        line = self.sizeHint().height()
        self.setMaximumHeight(unlimited if present else line)
        return line
