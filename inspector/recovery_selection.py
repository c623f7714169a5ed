"""Which run and which session the Recovery tab has selected, kept the same in the runs
table, the findings table and the timeline, and across live updates.

A run is known by its key (its first and last audit ids, `run_key`), a session by its id:
both survive a new report, where rows and indexes do not. Selecting a run picks its first
interrupted session still to repair; selecting a finding or a session's bar selects its run.
`changed` tells the tab to show the selection again; `sessionChosen` that only the session
changed (a click on its bar: the timeline stays as it is).
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject, Signal
from PySide6.QtWidgets import QTableView

from shepherd_store.recovery import RecoveryFinding, RecoveryReport, Run

from .recovery_logic import RunKey, findings_by_run, run_key
from .recovery_models import RecoveryFindingModel, RunModel


class RunSelection(QObject):
    """The selected run (`key`) and session (`session_id`) over the two tables."""

    changed = Signal()
    sessionChosen = Signal(str)

    def __init__(self, runs: RunModel, runs_table: QTableView, findings: RecoveryFindingModel,
                 findings_table: QTableView, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runs, self.runs_table = runs, runs_table
        self.findings, self.findings_table = findings, findings_table
        self.report: RecoveryReport | None = None
        self.key: RunKey | None = None
        self.session_id: str | None = None
        self._syncing = False
        self._session_runs: dict[str, RunKey] = {}
        runs_table.selectionModel().currentRowChanged.connect(self._on_run_selected)
        findings_table.selectionModel().currentRowChanged.connect(self._on_finding_selected)

    def show(self, report: RecoveryReport | None) -> None:
        """Fill both tables from `report` (None: nothing read), keeping the selection."""
        self.report = report
        self._syncing = True
        try:
            by_run = findings_by_run(report) if report else {}
            self._session_runs = {f.session_id: key for key, found in by_run.items()
                                  for f in found if f.session_id}
            self.runs.set_runs(report.runs if report else (), by_run)
            self.findings.set_findings(report.findings if report else ())
            self._choose_selection(report)
            self._select_rows()
        finally:
            self._syncing = False

    def _choose_selection(self, report: RecoveryReport | None) -> None:
        if report is None:
            return
        if self.key is None or self.runs.row_of(self.key) is None:
            first = next((f for f in report.findings if f.needs_action and f.session_id), None)
            run = self._run_of(first.session_id) if first is not None else None
            if run is None and report.runs:
                run = report.runs[0]
            self.key = run_key(run) if run is not None else None
            self.session_id = first.session_id if first is not None else None
        if self.session_id is None or self._run_of(self.session_id) is None:
            self.session_id = self._pick_session(self.selected_run())

    def _select_rows(self) -> None:
        row = self.runs.row_of(self.key) if self.key is not None else None
        model = self.runs_table.selectionModel()
        flags = (QItemSelectionModel.SelectionFlag.ClearAndSelect
                 | QItemSelectionModel.SelectionFlag.Rows)
        if row is not None and self.runs_table.currentIndex().row() != row:
            model.setCurrentIndex(self.runs.index(row, 0), flags)
        frow = self._finding_row()
        fmodel = self.findings_table.selectionModel()
        if frow is not None and self.findings_table.currentIndex().row() != frow:
            fmodel.setCurrentIndex(self.findings.index(frow, 0), flags)

    def _select_rows_quietly(self) -> None:
        """`_select_rows`, without reacting to the selection it makes."""
        self._syncing = True
        try:
            self._select_rows()
        finally:
            self._syncing = False

    def _finding_row(self) -> int | None:
        if self.session_id is None:
            return None
        return next((i for i, f in enumerate(self.findings.findings)
                     if f.kind == "interrupted_session" and f.session_id == self.session_id),
                    None)

    def _run_of(self, session_id: str | None) -> Run | None:
        """The run a session started in (any interrupted one; others of listed runs)."""
        if session_id is None or self.report is None:
            return None
        key = self._session_runs.get(session_id)
        row = self.runs.row_of(key) if key is not None else None
        if row is not None:
            return self.runs.runs[row]
        return next((r for r in self.report.runs
                     if any(s.session_id == session_id for s in r.sessions)), None)

    def _pick_session(self, run: Run | None) -> str | None:
        """The session a run's selection repairs: its first interrupted one not repaired
        (else its first interrupted one)."""
        found = self.runs.findings.get(run_key(run), []) if run is not None else []
        pick = next((f for f in found if not f.resolved), found[0] if found else None)
        return pick.session_id if pick is not None else None

    def selected_run(self) -> Run | None:
        row = self.runs.row_of(self.key) if self.key is not None else None
        return self.runs.runs[row] if row is not None else None

    def selected_finding(self) -> RecoveryFinding | None:
        return self.findings.row_at(self.findings_table.currentIndex())

    def nothing_to_repair(self, report: RecoveryReport | None) -> str:
        """Why the selection has nothing to repair, in words (`report`: the tab's)."""
        run = self.selected_run()
        session = next((s for s in run.sessions if s.session_id == self.session_id),
                       None) if run is not None else None
        if session is not None and session.status == "running":
            return f"{session.label} is running: nothing to repair."
        if session is not None:
            return f"{session.label} ended normally: nothing to repair."
        if report is not None and not any(
                x.kind == "interrupted_session" for x in report.findings):
            return "No interrupted session: nothing to repair."
        if run is not None and not any(x.interrupted for x in run.sessions):
            return "No interrupted session in this run: nothing to repair."
        return "Select an interrupted session (findings or timeline)."

    # --- the person's choices ----------------------------------------------------------------

    def _on_run_selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._syncing or not current.isValid() or current.row() >= len(self.runs.runs):
            return
        run = self.runs.runs[current.row()]
        self.key = run_key(run)
        if self._run_of(self.session_id) is not run:
            self.session_id = self._pick_session(run)
            row = self._finding_row()
            self._syncing = True
            try:
                if row is not None:
                    self.findings_table.selectRow(row)
            finally:
                self._syncing = False
        self.changed.emit()

    def _on_finding_selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._syncing:
            return
        f = self.selected_finding()
        if f is not None and f.session_id is not None:
            run = self._run_of(f.session_id)
            if f.kind == "interrupted_session":
                self.session_id = f.session_id
            if run is not None:
                self.key = run_key(run)
                self._select_rows_quietly()
        self.changed.emit()

    def select_session(self, session_id: str) -> None:
        """Choose a session (a click on its bar): its finding, if any, becomes the repair's."""
        self.session_id = session_id
        run = self._run_of(session_id)
        if run is not None:
            self.key = run_key(run)
        self._select_rows_quietly()
        self.sessionChosen.emit(session_id)
