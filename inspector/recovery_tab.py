"""The Recovery tab: the service's runs, what its crashes lost, and the repair.

The shipped service never saves a snapshot: a crash during a session leaves a
`session_started` and nothing else (docs/DESIGN.md, "How the shipped service writes, and how
it crashes"). `shepherd_store.recovery.RecoveryScanner` rebuilds the runs from the audit log
(a full scan when a database is opened, then only the rows each commit added), off the GUI
thread. Top: the runs, newest first, and the findings. Middle: the timeline of the selected
run (`recovery_timeline`) and the repair of the selected interrupted session, written with
`shepherd_store.recovery.repair` on `Database.write()` (one transaction, refused when it was
already recorded or the log changed). Bottom: the snapshot section (`snapshot_tab`), in full
only where a snapshot exists. The panes are built in `recovery_panes`; which run and session
are selected, across them, is kept by `recovery_selection`.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont, QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QSplitter, QVBoxLayout, QWidget

from shepherd_store import StoreError
from shepherd_store.recovery import RecoveryConflict, RecoveryFinding, RepairResult, Run
from shepherd_store.timefmt import local_now

from . import workers
from .cooldown_tab import read_only_tip
from .database import Database
from .recovery_logic import (
    build_timeline,
    describe_repair,
    describe_result,
    finding_detail,
    headline,
    needs_refresh,
    policy_cooldown,
    run_key,
    subline,
)
from .recovery_models import RESOLVED_COLOR
from .recovery_panes import FindingsPane, RunsPane, SnapshotSection, TimelinePane
from .recovery_repair import RepairPanel
from .recovery_scan import RecoveryState, Scans
from .recovery_selection import RunSelection
from .store_edits import repair
from .table_models import SEVERITY_COLORS
from .widgets import DatabaseTab, ask_yes, plain_label, set_control, show_error

# --- the tab -------------------------------------------------------------------------------


class RecoveryTab(DatabaseTab):
    """Runs, findings, the timeline of a run, the repair, and the snapshot section."""

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(db, "recoveryTab", parent)
        self.state: RecoveryState | None = None
        self.last_result: RepairResult | None = None
        self.scans = Scans()
        self._load_error: str | None = None
        self._refresh_asked = False
        self._build()
        self._follow()

    # --- construction ------------------------------------------------------------------

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        self.notice = self._make_notice("recoveryNotice", "Recovery status")
        self.notice.setVisible(False)
        outer.addWidget(self.notice)
        head = QHBoxLayout()
        self.headline = plain_label(self, "recoveryHeadline")
        self.headline.setAccessibleName("What the audit log shows")
        self.headline.setWordWrap(True)
        font = QFont(self.headline.font())
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.headline.setFont(font)
        head.addWidget(self.headline, 1)
        self.progress = QProgressBar(self)
        set_control(self.progress, "recoveryProgress",
                    "Reading the audit log for the service's runs", "Reading the audit log")
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        head.addWidget(self.progress)
        outer.addLayout(head)
        self.subline = plain_label(self, "recoverySubline")
        self.subline.setAccessibleName("The runs in numbers")
        self.subline.setWordWrap(True)
        outer.addWidget(self.subline)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.setObjectName("recoverySplitter")
        split.setChildrenCollapsible(False)
        self.splitter = split
        top = self.top_splitter = QSplitter(Qt.Orientation.Horizontal, split)
        top.setObjectName("recoveryTopSplitter")
        top.setChildrenCollapsible(False)
        self.runs_pane = RunsPane(top)
        top.addWidget(self.runs_pane)
        self.findings_pane = FindingsPane(top)
        top.addWidget(self.findings_pane)
        top.setStretchFactor(0, 1)
        top.setStretchFactor(1, 1)
        middle = QWidget(split)
        row = QHBoxLayout(middle)
        row.setContentsMargins(0, 0, 0, 0)
        self.timeline_box = TimelinePane(middle)
        self.timeline_box.timeline.sessionClicked.connect(self.select_session)
        row.addWidget(self.timeline_box, 1)
        self.repair_box = RepairPanel(middle)
        self.repair_box.repairRequested.connect(self.repair_selected)
        self.repair_button = self.repair_box.button
        row.addWidget(self.repair_box)
        split.addWidget(top)
        split.addWidget(middle)
        self.snapshot_box = SnapshotSection(self.db, split)
        self.snapshot_box.snapshot.presenceChanged.connect(self._on_snapshot_presence)
        split.addWidget(self.snapshot_box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 3)
        split.setStretchFactor(2, 0)
        outer.addWidget(split, 1)
        self._progress_timer = QTimer(self)
        self._progress_timer.setInterval(150)
        self._progress_timer.timeout.connect(self._show_progress)
        # The panes' parts, by the names the tab has always had.
        self.runs, self.runs_table = self.runs_pane.model, self.runs_pane.table
        self.findings, self.findings_table = self.findings_pane.model, self.findings_pane.table
        self.finding_detail = self.findings_pane.detail
        self.timeline = self.timeline_box.timeline
        self.timeline_title = self.timeline_box.run_title
        self.snapshot = self.snapshot_box.snapshot
        self.snapshot_scroll = self.snapshot_box.scroll_area
        self.selection = RunSelection(self.runs, self.runs_table, self.findings,
                                      self.findings_table, self)
        self.selection.changed.connect(self._on_selection)
        self.selection.sessionChosen.connect(self._on_session_chosen)

    # --- questions to the person (tests answer them by monkeypatching) -----------------

    def confirm(self, text: str) -> bool:
        """Ask to go ahead with the repair described in words."""
        return ask_yes(self, "Repair the interrupted session", text)

    def report(self, text: str) -> None:
        """Show why a repair was not written."""
        show_error(self, "Nothing was written", text)

    # --- loading -------------------------------------------------------------------------

    def _on_opened(self) -> None:
        self.scans.stop()  # a scan of the previous file may still run: stop it
        self._loader.cancel()
        self.state = None
        self.last_result = None
        self.repair_box.status.setText("")
        self._set_notice("")
        self._on_state()
        self._show()
        # The full scan reads the whole log (seconds and tens of MB at a million events):
        # while the tab is hidden it waits to be shown, and never competes with the page
        # the person is looking at.
        if not self.later_if_hidden(self.reload):
            self.reload()

    def _load_job(self) -> Callable[[], object] | None:
        store, policy = self.db.store, self.db.policy
        if store is None:
            return None
        job, full = self.scans.job(store, policy)
        if full:
            self.progress.setRange(0, 0)
            self.progress.setVisible(True)
            self._progress_timer.start()
        return job

    def _show_progress(self) -> None:
        done, total = self.scans.progress or (0, 0)
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(done / total * 1000))

    def _stop_progress(self) -> None:
        self._progress_timer.stop()
        self.scans.progress = None
        self.progress.setVisible(False)

    def _on_loaded(self, result: object) -> None:
        if not isinstance(result, RecoveryState):
            return
        self._stop_progress()
        if self._load_error is not None and self.notice.text() == self._load_error:
            self._set_notice("")  # that failure (e.g. a lock) is over
        self._load_error = None
        first = self.state is None
        self.state = result
        self._refresh_asked = False
        self._show()
        if first and self.isVisible():
            self._fit_runs_width()
        self.loaded.emit()

    def _on_load_failed(self, message: str) -> None:
        self._stop_progress()
        self._load_error = message
        self._set_notice(message)

    def _on_failed(self, message: str) -> None:
        self.scans.stop()
        self._loader.cancel()
        self._stop_progress()
        self.state = None
        self._set_notice(message)
        self._show()

    def _on_state(self) -> None:
        if self.db.error is None:
            reason = self.db.read_only_reason
            if reason is not None and self.db.store is not None:
                self._set_notice(f"Read-only: {reason}. The findings are shown but cannot be "
                                 "repaired; open the database as its owner to repair them.")
            elif self.notice.text().startswith("Read-only"):
                self._set_notice("")
        scanner = self.scans.scanner
        if scanner is not None and scanner.policy is not self.db.policy:
            self.reload()  # labels and cooldowns come from the policy: read it all again
        self._update_repair()

    def _set_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def _tick(self) -> None:
        """Every second: a session whose deadline passed with no sign of the service is
        interrupted now, though nothing was written: read again (no rows, a new report)."""
        state = self.state
        if state is not None and not self._refresh_asked and \
                needs_refresh(state.report, local_now()):
            self._refresh_asked = True
            self._on_changed()

    # --- showing ---------------------------------------------------------------------------

    def _show(self) -> None:
        """Show the state: headline, runs, findings, timeline and repair, keeping the
        selection (the run, the session) across live updates."""
        state = self.state
        self.selection.show(state.report if state is not None else None)
        self._show_headline()
        self._show_finding()
        self._show_timeline()
        self._update_repair()

    def selected_finding(self) -> RecoveryFinding | None:
        return self.selection.selected_finding()

    def _show_headline(self) -> None:
        state = self.state
        if state is None:
            self.headline.setText("No database open" if self.db.store is None else
                                  "Reading the audit log for the service's runs…")
            self.headline.setStyleSheet("")
            self.subline.setText("")
            return
        text, tone = headline(state.report)
        color = {"problem": SEVERITY_COLORS["problem"], "warning": SEVERITY_COLORS["warning"],
                 "good": RESOLVED_COLOR}.get(tone, "")
        self.headline.setText(text)
        self.headline.setStyleSheet(f"color: {color};" if color else "")
        self.subline.setText(subline(state.report))

    def _show_finding(self) -> None:
        state = self.state
        self.finding_detail.setPlainText(
            finding_detail(self.selected_finding(), state.report) if state else "")

    def _show_timeline(self) -> None:
        run = self.selection.selected_run()
        state = self.state
        if run is None or state is None:
            self.timeline_box.show_message("Select a run to see its timeline." if state
                                           else "")
            return
        sessions = run.sessions
        if not run.detailed:
            cached = self.scans.old_sessions.get(run_key(run))
            if cached is None:
                self._read_old_run(run)
                self.timeline_box.show_message("Reading the sessions of this run…")
                return
            sessions = cached
        findings = {f.session_id: f for f in state.report.findings
                    if f.kind == "interrupted_session" and f.session_id}
        self.timeline_box.show_timeline(build_timeline(run, sessions, findings, local_now()),
                                        self.selection.session_id)

    def _read_old_run(self, run: Run) -> None:
        """Sessions of a run older than the report keeps in detail, read off the GUI thread."""
        scans = self.scans
        scanner, key = scans.scanner, run_key(run)
        if scanner is None or key in scans.reading:
            return
        scans.reading.add(key)

        def done(sessions: object) -> None:
            if scanner is scans.scanner and isinstance(sessions, tuple):
                scans.reading.discard(key)
                scans.old_sessions[key] = sessions
                if self.selection.key == key:
                    self._show_timeline()

        def failed(message: str) -> None:
            scans.reading.discard(key)
            self._on_load_failed(message)

        workers.start(lambda _report: scanner.run_sessions(run), done, failed)

    # --- selection -------------------------------------------------------------------------

    def _on_selection(self) -> None:
        self._show_finding()
        self._show_timeline()
        self._update_repair()

    def _on_session_chosen(self, session_id: str) -> None:
        self._show_finding()
        self.timeline.set_selected(session_id)
        self._update_repair()

    def select_session(self, session_id: str) -> None:
        """Choose a session (a click on its bar): its finding, if any, becomes the repair's."""
        self.selection.select_session(session_id)

    def select_run(self, row: int) -> None:
        """Select the run in `row` of the runs table (keyboard and tests)."""
        self.runs_table.selectRow(row)

    # --- the repair ------------------------------------------------------------------------

    def _finding_for_repair(self) -> RecoveryFinding | None:
        session_id = self.selection.session_id
        if self.state is None or session_id is None:
            return None
        return self.state.report.finding(session_id)

    def _update_repair(self) -> None:
        """The repair box for the selected session (its amount kept across live updates)."""
        f = self._finding_for_repair()
        report = self.state.report if self.state is not None else None
        text = "" if f is not None else self.selection.nothing_to_repair(report)
        self.repair_box.show_finding(f, text, self.db.policy, self.db.read_only_reason)

    def _can_edit(self) -> bool:
        reason = self.db.read_only_reason
        if reason is not None:
            self._set_notice(read_only_tip(reason))
            return False
        return self.state is not None

    def repair_selected(self) -> bool:
        """Record the selected interrupted session's play (confirmed). True when written."""
        box = self.repair_box
        f = box.finding
        if f is None or f.session_id is None or not self.repair_button.isEnabled():
            return False
        return self.repair_finding(f, box.amount(), cooldown=box.wants_cooldown())

    def repair_finding(self, finding: RecoveryFinding, seconds: int, *,
                       cooldown: bool = False) -> bool:
        """Confirm, then write the repair of `finding` off the GUI thread; a refusal (already
        recorded, the log changed, read-only) is shown and nothing is written."""
        if not self._can_edit() or self.state is None or finding.session_id is None:
            return False
        report, cooldowns = self.state.report, self.state.cooldowns
        policy = self.db.policy
        length = policy_cooldown(policy, finding.entry_id) if cooldown else None
        text = describe_repair(finding, seconds, cooldown=length,
                               stored_cooldown=cooldowns.get(finding.entry_id or ""),
                               now=local_now())
        if not self.confirm(text):
            return False
        session_id = finding.session_id
        try:
            result = self.db.write(lambda store: repair(
                store, session_id, seconds=seconds, cooldown=cooldown, policy=policy,
                finding=finding, report=report))
        except RecoveryConflict as exc:
            why = {"resolved": "Its play was already recorded (by another inspector or the "
                               "command line).",
                   "changed": "The audit log changed since it was read: the session may have "
                              "ended or the service restarted. The findings are read again; "
                              "check them and repair again if it is still needed."
                   }.get(exc.reason, "")
            self.report(f"{exc}\n\n{why}".strip())
            self.reload()
            return False
        except StoreError as exc:
            self.report(str(exc))
            self.reload()
            return False
        self.last_result = result
        self.repair_box.status.setText(describe_result(
            finding.label or result.entry_id, result.seconds, result.day, result.usage_before,
            result.usage_after, result.cooldown_until, result.cooldown_note))
        self.written.emit()
        self.reload()
        return True

    # --- the snapshot section --------------------------------------------------------------

    def _on_snapshot_presence(self, _present: bool) -> None:
        self._fit_sections()

    def _fit_sections(self) -> None:
        """Share the height: the repair its need, a snapshot (where there is one) nearly
        half, the runs and findings the rest; without a snapshot its section is one line."""
        line = self.snapshot_box.fit()
        total = sum(self.splitter.sizes())
        if total <= 0:
            return
        middle = max(self.repair_box.sizeHint().height(), 200)
        bottom = max(int(total * 0.42), 220) if self.snapshot.present else line
        self.splitter.setSizes([max(total - middle - bottom, 120), middle, bottom])

    def _fit_runs_width(self) -> None:
        """Once per opened database: widen the runs pane if its columns would be cut (never
        narrow it: the person may have chosen its width)."""
        needed = self.runs_pane.needed_width()
        sizes = self.top_splitter.sizes()
        if len(sizes) == 2 and 0 < sizes[0] < needed and sum(sizes) > needed + 300:
            self.top_splitter.setSizes([needed, sum(sizes) - needed])

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized and self.height() > 0:
            self._sized = True  # once; the window then restores the person's own sizes
            self._fit_sections()

    _sized = False
