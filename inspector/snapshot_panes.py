"""The left side of the snapshot section: the stored snapshot, and its diagnosis.

`SnapshotSummary` shows what the stored snapshot says (time and age, the active session
with a live "time left", the most serious finding); `SnapshotDiagnosis` lists the findings
of `shepherd_store.diagnose`, each with its explanation, what to do and its one-click fix.
They only show: the snapshot tab (`snapshot_tab`) reads, writes and decides.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from shepherd_store.diagnose import Finding
from shepherd_store.snapshot import StateSnapshot

from .cooldown_logic import countdown
from .formatting import clip, entry_display, format_duration, format_local, short_id
from .snapshot_logic import FIX_NAMES, SnapshotState, pretty, warnings_text
from .table_models import SEVERITY_COLORS, SEVERITY_TEXT, ColumnsModel, Index
from .widgets import plain_label, plain_tip, set_control

FINDING_COLUMNS = ("Severity", "Finding")


class FindingModel(ColumnsModel[Finding]):
    """The diagnosis, one finding per row."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(FINDING_COLUMNS, parent=parent)
        self.rows: list[Finding] = []

    @property
    def findings(self) -> list[Finding]:
        return self.rows

    def set_findings(self, findings: list[Finding]) -> None:
        self.reset_rows(list(findings))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        f = self.row_at(index)
        if f is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return SEVERITY_TEXT[f.severity] if index.column() == 0 else f.title
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 0:
            return QBrush(QColor(SEVERITY_COLORS[f.severity]))
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tip(f"{f.explanation}\n\nWhat to do: {f.action}")
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{f.severity}: {f.title}"
        return None


class SnapshotSummary(QGroupBox):
    """The stored snapshot in words: a headline, the most serious finding, its fields."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Saved snapshot", parent)
        self.setObjectName("snapshotSummary")
        layout = QVBoxLayout(self)
        self.headline = plain_label(self, "snapshotHeadline")
        self.headline.setAccessibleName("What the snapshot says")
        font = QFont(self.headline.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.headline.setFont(font)
        self.headline.setWordWrap(True)
        layout.addWidget(self.headline)
        self.verdict = plain_label(self, "snapshotVerdict")
        self.verdict.setAccessibleName("Most serious finding")
        self.verdict.setWordWrap(True)
        layout.addWidget(self.verdict)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.fields: dict[str, QLabel] = {}
        for key, title in (("saved", "Saved at"), ("age", "Age"), ("entry", "Entry"),
                           ("session", "Session id"), ("started", "Started at"),
                           ("deadline", "Deadline"), ("left", "Time left"),
                           ("warnings", "Warnings issued")):
            value = plain_label(self, f"snapshot_{key}")
            value.setAccessibleName(title)
            caption = QLabel(title + ":", self)
            caption.setBuddy(value)
            form.addRow(caption, value)
            self.fields[key] = value
        layout.addLayout(form)
        self.raw_view = QPlainTextEdit(self)
        set_control(self.raw_view, "snapshotRawView",
                    "The stored snapshot text, exactly as it is in the database", "Stored text")
        self.raw_view.setReadOnly(True)
        self.raw_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.raw_view.setMaximumHeight(120)
        self.raw_view.setVisible(False)
        layout.addWidget(self.raw_view)

    def clear(self, findings: list[Finding]) -> None:
        """Empty the fields; show the most serious of `findings` under the headline."""
        for key in self.fields:
            self.fields[key].setText("")
            self.fields[key].setToolTip("")
        self.raw_view.setVisible(False)
        self._show_verdict(findings)

    def show_state(self, state: SnapshotState | None, labels: dict[str, str],
                   no_database: bool) -> None:
        """The headline and the fields of `state` (None: not read yet), after `clear`."""
        if state is None:
            self.headline.setText("No database open" if no_database else "Loading…")
            return
        if state.text is None:
            self.headline.setText("No snapshot saved")
            self.fields["saved"].setText("— (the shipped service never saves one)")
            return
        snap = state.snapshot
        if snap is None:
            self.headline.setText("The snapshot cannot be read")
            self.fields["saved"].setText(clip(state.error or "", 400))
            self.raw_view.setPlainText(pretty(state.text))
            self.raw_view.setVisible(True)
            return
        self.fields["saved"].setText(format_local(snap.timestamp))
        s = snap.active_session
        if s is None:
            self.headline.setText("No session running")
            self.fields["entry"].setText("—")
        else:
            self.headline.setText(
                f"Active session: {clip(labels.get(s.entry_id) or s.entry_id, 120)}")
            entry = entry_display(s.entry_id, labels)
            self.fields["entry"].setText(clip(entry, 80))
            self.fields["entry"].setToolTip(plain_tip(clip(entry, 2000)))
            self.fields["session"].setText(f"{s.session_id}  ({short_id(s.session_id)})")
            self.fields["started"].setText(format_local(s.started_at))
            self.fields["deadline"].setText(
                f"{format_local(s.deadline)}  (a session of "
                f"{format_duration(s.deadline - s.started_at)})")
            self.fields["warnings"].setText(warnings_text(s.warnings_issued))

    def _show_verdict(self, findings: list[Finding]) -> None:
        """The most serious finding under the headline, in its severity's colour."""
        if not findings:
            self.verdict.setText("")
            return
        top = findings[0]
        self.verdict.setText(f"{SEVERITY_TEXT[top.severity]}: {top.title}"
                             + (f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""))
        self.verdict.setStyleSheet(f"color: {SEVERITY_COLORS[top.severity]};")

    def tick(self, snap: StateSnapshot, now: datetime) -> None:
        """Move the clock: age and time left (no database reads)."""
        age = now - snap.timestamp
        self.fields["age"].setText(f"{countdown(age)} ago" if age >= timedelta(0) else
                                   f"{countdown(-age)} in the future (clock change?)")
        s = snap.active_session
        if s is not None:
            left = s.deadline - now
            self.fields["left"].setText(f"{countdown(left)} left" if left > timedelta(0)
                                        else f"overdue by {countdown(-left)}")


class SnapshotDiagnosis(QGroupBox):
    """The findings, the selected one in full, and the button for its fix; `findingShown`
    after the selected finding is shown (the tab's actions follow it)."""

    findingShown = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Diagnosis", parent)
        self.setObjectName("snapshotDiagnosis")
        layout = QVBoxLayout(self)
        self.model = FindingModel(self)
        self.table = QTableView(self)
        set_control(self.table, "findingsTable",
                    "What the snapshot means, given the log, usage and cooldowns. Select a "
                    "finding to read it in full.", "Findings")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMaximumHeight(150)
        self.table.selectionModel().currentRowChanged.connect(self.show_finding)
        layout.addWidget(self.table)
        self.detail = QPlainTextEdit(self)
        set_control(self.detail, "findingDetail",
                    "The selected finding: what it means and what to do", "Finding details")
        self.detail.setReadOnly(True)
        layout.addWidget(self.detail, 1)
        self.apply_fix = QPushButton("Apply the suggested fix", self)
        set_control(self.apply_fix, "applyFixButton",
                    "Carry out the fix this finding suggests (you confirm first)")
        layout.addWidget(self.apply_fix)

    def show_findings(self, findings: list[Finding]) -> None:
        """Show `findings`, keeping the selected one (by its code) where it still is."""
        selected = self.selected()
        self.model.set_findings(findings)
        codes = [f.code for f in findings]
        keep = codes.index(selected.code) if selected and selected.code in codes else 0
        if findings:
            self.table.selectRow(keep)
        self.show_finding()

    def selected(self) -> Finding | None:
        """The selected finding, if any."""
        return self.model.row_at(self.table.currentIndex())

    def show_finding(self, *_args: object) -> None:
        """The selected finding in full, with its one-click fix."""
        f = self.selected()
        if f is None:
            self.detail.setPlainText("")
        else:
            fix = f"\n\nOne-click fix: {FIX_NAMES[f.fix]}." if f.fix else ""
            self.detail.setPlainText(
                f"{f.title} ({f.severity})\n\n{f.explanation}\n\nWhat to do: {f.action}{fix}")
        self.findingShown.emit()
