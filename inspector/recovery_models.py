"""The Recovery tab's Qt models: the runs and the findings as tables, and a one-line label.

The words come from `recovery_logic` (no Qt there); these only hand them to the views.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from shepherd_store.recovery import RecoveryFinding, Run

from .recovery_logic import RunKey, down_for_good, run_cells, run_key, run_status, run_tip
from .table_models import SEVERITY_COLORS, SEVERITY_TEXT, ColumnsModel, Index
from .widgets import plain_tip

RUN_COLUMNS = ("Started", "Ended", "How it ended", "Sessions", "Interrupted")
FINDING_COLUMNS = ("Finding", "State")
RUN_COLORS = {"needs_repair": "#C62828", "repaired": "#2E7D32", "unclean": "#E65100",
              "open": "#1565C0"}
RESOLVED_COLOR = "#2E7D32"


class ElidingLabel(QLabel):
    """A one-line plain-text label that shortens its text with "…" to fit its width (the
    whole text stays its accessible text and tooltip) instead of widening the box."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(plain_tip(text) if text else "")

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        rect = self.contentsRect()
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight,
                                              rect.width())
        p.setPen(self.palette().color(self.foregroundRole()))
        p.drawText(rect, int(self.alignment()), shown)


# --- models --------------------------------------------------------------------------------


class RunModel(ColumnsModel[Run]):
    """The service's runs, newest first (a log of years holds thousands: each row's texts
    are made once, when first painted)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(RUN_COLUMNS, parent=parent)
        self.rows: tuple[Run, ...] = ()
        self.findings: dict[RunKey, list[RecoveryFinding]] = {}
        self._cells: dict[int, tuple[str, str, str, str, str]] = {}
        #: Rows by `run_key`, split by its form (a tuple a run would cost 1 MB at a million
        #: events): by started_id, and by last row for runs with no service_started.
        self._rows: tuple[dict[int, int], dict[int | None, int]] | None = None

    @property
    def runs(self) -> tuple[Run, ...]:
        return self.rows

    def set_runs(self, runs: tuple[Run, ...],
                 findings: dict[RunKey, list[RecoveryFinding]] | None = None) -> None:
        """Show `runs` (and their interrupted sessions' `findings`, see `findings_by_run`);
        rows that only changed are repainted, so the selection stays."""
        old, old_findings = self.rows, self.findings
        self.findings = findings or {}
        if len(old) == len(runs) and all(a is b or run_key(a) == run_key(b)
                                         for a, b in zip(old, runs, strict=True)):
            self.rows = runs
            for row, (a, b) in enumerate(zip(old, runs, strict=True)):
                key = run_key(b)
                if (a is not b and a != b) or \
                        old_findings.get(key) != self.findings.get(key):
                    self._cells.pop(row, None)
                    self.dataChanged.emit(self.index(row, 0),
                                          self.index(row, len(RUN_COLUMNS) - 1))
            return
        self.beginResetModel()
        self.rows = runs
        self._cells = {}
        self._rows = None
        self.endResetModel()

    def row_of(self, key: RunKey) -> int | None:
        if self._rows is None:
            started: dict[int, int] = {}
            others: dict[int | None, int] = {}
            for i, r in enumerate(self.rows):
                if r.started_id is not None:
                    started[r.started_id] = i
                else:
                    others[r.last_event_id] = i
            self._rows = started, others
        started_id, last = key
        return self._rows[0].get(started_id) if started_id is not None else \
            self._rows[1].get(last)

    def cells(self, row: int) -> tuple[str, str, str, str, str]:
        cells = self._cells.get(row)
        if cells is None:
            run = self.rows[row]
            cells = self._cells[row] = run_cells(run, self.findings.get(run_key(run)))
        return cells

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        run = self.row_at(index)
        if run is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cells(index.row())[index.column()]
        if role == Qt.ItemDataRole.ForegroundRole and index.column() in (2, 4):
            end = "unclean" if down_for_good(run) else run.end
            status = run_status(run, self.findings.get(run_key(run)))
            color = RUN_COLORS.get(status if index.column() == 4 else end)
            return QBrush(QColor(color)) if color else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tip(run_tip(run))
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return ", ".join(self.cells(index.row()))
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class RecoveryFindingModel(ColumnsModel[RecoveryFinding]):
    """The findings, most serious first; repaired ones say so."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(FINDING_COLUMNS, parent=parent)
        self.rows: tuple[RecoveryFinding, ...] = ()

    @property
    def findings(self) -> tuple[RecoveryFinding, ...]:
        return self.rows

    def set_findings(self, findings: tuple[RecoveryFinding, ...]) -> None:
        if findings != self.rows:
            self.reset_rows(findings)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        f = self.row_at(index)
        if f is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return f.title if col == 0 else finding_state(f)
        if role == Qt.ItemDataRole.ForegroundRole and col == 1:
            color = RESOLVED_COLOR if f.resolved else SEVERITY_COLORS[f.severity]
            return QBrush(QColor(color))
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tip(f"{SEVERITY_TEXT[f.severity]}: {f.title}\n\n{f.explanation}\n\n"
                             f"What to do: {f.action}")
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{f.severity}: {f.title} ({finding_state(f)})"
        return None


def finding_state(f: RecoveryFinding) -> str:
    """The State column: what is left to do, with the severity's sign."""
    if f.resolved:
        return "✔ repaired"
    sign = SEVERITY_TEXT[f.severity].split()[0]
    if f.kind == "interrupted_session" and f.fix is not None:
        return f"{sign} needs repair"
    return f"{sign} to check" if f.needs_action else f"{sign} nothing to do"
