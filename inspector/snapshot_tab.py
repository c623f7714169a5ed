"""The snapshot section of the Recovery tab: a stored crash-recovery snapshot, its
diagnosis, and edits.

The shipped service (shepherdd) never saves a snapshot (docs/DESIGN.md): its crashes are
found in the audit log (`recovery_tab`). A snapshot row exists only where another version of
the service or a tool wrote one; for those databases this section shows it in full, for the
others one honest line.

Left: the stored snapshot (time and age, the active session with a live "time left") and the
findings of `shepherd_store.diagnose`, each with its explanation, what to do and, where one
click fixes it, a button. Right: a form and a raw JSON editor kept in step, validated live by
the library's own rules, with a preview (a diff) of the change before it is saved. Every
write goes through `shepherd_store.overrides`, compared with the text the person saw.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QDateTime,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QFontDatabase, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDateTimeEdit,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from shepherd_store import SerializationError, SqliteStore, StoreError
from shepherd_store.diagnose import (
    FIX_ADD_USAGE,
    FIX_CLEAR_SESSION,
    FIX_DELETE_SNAPSHOT,
    Finding,
    UsageGap,
    diagnose,
)
from shepherd_store.overrides import (
    OverrideConflict,
    add_usage,
    clear_active_session,
    delete_snapshot,
    normalize_snapshot_text,
    save_snapshot_text,
)
from shepherd_store.policy import Policy
from shepherd_store.snapshot import SessionSnapshot, StateSnapshot, decode_snapshot, encode_snapshot
from shepherd_store.timefmt import format_day, local_now

from .cooldown_tab import countdown, read_only_tip, when_text
from .database import Database
from .formatting import (
    break_long_lines,
    clip,
    entry_display,
    format_duration,
    format_local,
    short_id,
)
from .widgets import (
    DatabaseTab,
    ask_retry,
    ask_yes,
    plain_label,
    plain_tip,
    set_control,
    show_error,
)

_Index = QModelIndex | QPersistentModelIndex
FINDING_COLUMNS = ("Severity", "Finding")
SEVERITY_TEXT = {"problem": "✖ problem", "warning": "▲ warning", "info": "● info"}
SEVERITY_COLORS = {"problem": "#B71C1C", "warning": "#E65100", "info": "#1565C0"}
FIX_NAMES = {FIX_CLEAR_SESSION: "Clear the active session",
             FIX_DELETE_SNAPSHOT: "Delete the snapshot",
             FIX_ADD_USAGE: "Add the unaccounted minutes"}
MAX_CONFLICT_ROUNDS = 3
MAX_RAW_CHARS = 200_000  # an enormous stored snapshot is shown cut, never fatal
NO_SNAPSHOT_TEXT = ("No snapshot saved. The shipped service (shepherdd) never saves one; "
                    "crashes are found from the audit log above.")
#: The library's words where they describe a service that saves snapshots; shepherdd as
#: shipped does not (docs/DESIGN.md), so the section says what is true of it instead.
HONEST_TEXT = {
    "no_snapshot": (
        "The database holds no crash-recovery snapshot. The shipped service (shepherdd) "
        "never saves one; a crash shows in the audit log instead (the runs above).",
        "Nothing to do."),
    "snapshot_unreadable": (
        None,
        "Delete the snapshot (the shipped service neither saves nor reads one), or correct "
        "it in the raw JSON editor."),
}


def pretty(text: str | None) -> str:
    """Indented JSON for people (the text itself when it is not JSON); cut when huge, and
    lines too long for Qt to lay out quickly broken (see `break_long_lines`)."""
    if text is None:
        return "(no snapshot)"
    if len(text) > MAX_RAW_CHARS:
        return break_long_lines(text[:MAX_RAW_CHARS]) + \
            f"\n… ({len(text) - MAX_RAW_CHARS:,} more characters)"
    try:
        return break_long_lines(json.dumps(json.loads(text), indent=2, ensure_ascii=False))
    except (ValueError, RecursionError):
        return break_long_lines(text)


def change_preview(old: str | None, new: str | None) -> str:
    """A unified diff of the stored snapshot and the one that would be saved."""
    if old == new:
        return "No changes: saving would store the same text."
    diff = difflib.unified_diff(pretty(old).splitlines(), pretty(new).splitlines(),
                                "stored now", "after saving", lineterm="", n=20)
    return "\n".join(diff) or "Only the formatting differs; the values stay the same."


@dataclass(frozen=True)
class SnapshotState:
    """What one load read: the stored text and the diagnosis of it."""

    text: str | None
    findings: list[Finding]
    now: datetime

    @property
    def snapshot(self) -> StateSnapshot | None:
        if self.text is None:
            return None
        try:
            return decode_snapshot(self.text)
        except SerializationError:
            return None

    @property
    def error(self) -> str | None:
        if self.text is None:
            return None
        try:
            decode_snapshot(self.text)
        except SerializationError as exc:
            return str(exc)
        return None

    @property
    def gap(self) -> UsageGap | None:
        return next((f.gap for f in self.findings if f.gap is not None), None)


def honest(finding: Finding) -> Finding:
    """`finding`, with the words that would claim the service saves snapshots replaced."""
    words = HONEST_TEXT.get(finding.code)
    if words is None:
        return finding
    explanation, action = words
    return replace(finding, explanation=explanation or finding.explanation,
                   action=action or finding.action)


def load_state(store: SqliteStore, policy: Policy | None) -> SnapshotState:
    """Read the snapshot and diagnose it (worker thread)."""
    now = local_now()
    text = store.load_snapshot_text()
    findings = [honest(f) for f in diagnose(store, now=now, policy=policy)]
    return SnapshotState(text, findings, now)


class FindingModel(QAbstractTableModel):
    """The diagnosis, one finding per row."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.findings: list[Finding] = []

    def set_findings(self, findings: list[Finding]) -> None:
        self.beginResetModel()
        self.findings = list(findings)
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.findings)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(FINDING_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return FINDING_COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.findings):
            return None
        f = self.findings[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return SEVERITY_TEXT[f.severity] if index.column() == 0 else f.title
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 0:
            return QBrush(QColor(SEVERITY_COLORS[f.severity]))
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tip(f"{f.explanation}\n\nWhat to do: {f.action}")
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{f.severity}: {f.title}"
        return None


class SnapshotTab(DatabaseTab):
    """The saved snapshot, its diagnosis, a form and raw editor, and the one-click fixes.

    Without a snapshot (every database the shipped service wrote) only `absent`, one line
    saying so, is shown; `presenceChanged` tells the Recovery tab when that changes.
    """

    presenceChanged = Signal(bool)

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(db, "snapshotPane", parent)
        self.present = False  # whether the snapshot and its editor are shown
        self.state: SnapshotState | None = None
        self._seen: str | None = None  # the stored text the person is looking at
        self._pending: str | None = None  # what saving would store (None: invalid or none)
        self._pending_error: str | None = None
        self._dirty = False
        self._originals: dict[str, datetime] = {}
        self._load_error: str | None = None  # the notice a failed load put up, if any
        self._build()
        self._follow()

    # --- construction ------------------------------------------------------------------

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        self.notice = self._make_notice("snapshotNotice", "Snapshot status")
        self.notice.setVisible(False)
        outer.addWidget(self.notice)
        self.absent = plain_label(self, "snapshotAbsent", "")
        self.absent.setAccessibleName("Snapshot")
        self.absent.setWordWrap(True)
        outer.addWidget(self.absent)
        self.split = split = QSplitter(Qt.Orientation.Horizontal, self)
        split.setObjectName("snapshotSplitter")
        split.setChildrenCollapsible(False)
        outer.addWidget(split, 1)
        left = QWidget(split)
        left_box = QVBoxLayout(left)
        left_box.setContentsMargins(0, 0, 0, 0)
        left_box.addWidget(self._build_summary(left))
        left_box.addWidget(self._build_diagnosis(left), 1)
        right = QWidget(split)
        right_box = QVBoxLayout(right)
        right_box.setContentsMargins(0, 0, 0, 0)
        right_box.addWidget(self._build_editor(right), 1)
        right_box.addWidget(self._build_fixes(right))
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 4)
        split.setVisible(False)
        outer.addStretch(0)

    def _build_summary(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Saved snapshot", parent)
        box.setObjectName("snapshotSummary")
        layout = QVBoxLayout(box)
        self.headline = plain_label(box, "snapshotHeadline")
        self.headline.setAccessibleName("What the snapshot says")
        font = QFont(self.headline.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.headline.setFont(font)
        self.headline.setWordWrap(True)
        layout.addWidget(self.headline)
        self.verdict = plain_label(box, "snapshotVerdict")
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
            value = plain_label(box, f"snapshot_{key}")
            value.setAccessibleName(title)
            caption = QLabel(title + ":", box)
            caption.setBuddy(value)
            form.addRow(caption, value)
            self.fields[key] = value
        layout.addLayout(form)
        self.raw_view = QPlainTextEdit(box)
        set_control(self.raw_view, "snapshotRawView",
                    "The stored snapshot text, exactly as it is in the database", "Stored text")
        self.raw_view.setReadOnly(True)
        self.raw_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.raw_view.setMaximumHeight(120)
        self.raw_view.setVisible(False)
        layout.addWidget(self.raw_view)
        return box

    def _build_diagnosis(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Diagnosis", parent)
        box.setObjectName("snapshotDiagnosis")
        layout = QVBoxLayout(box)
        self.findings = FindingModel(self)
        self.findings_table = QTableView(box)
        set_control(self.findings_table, "findingsTable",
                    "What the snapshot means, given the log, usage and cooldowns. Select a "
                    "finding to read it in full.", "Findings")
        self.findings_table.setModel(self.findings)
        self.findings_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.findings_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.findings_table.verticalHeader().setVisible(False)
        self.findings_table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents)
        self.findings_table.horizontalHeader().setStretchLastSection(True)
        self.findings_table.setMaximumHeight(150)
        self.findings_table.selectionModel().currentRowChanged.connect(self._show_finding)
        layout.addWidget(self.findings_table)
        self.finding_detail = QPlainTextEdit(box)
        set_control(self.finding_detail, "findingDetail",
                    "The selected finding: what it means and what to do", "Finding details")
        self.finding_detail.setReadOnly(True)
        layout.addWidget(self.finding_detail, 1)
        self.apply_fix = QPushButton("Apply the suggested fix", box)
        set_control(self.apply_fix, "applyFixButton",
                    "Carry out the fix this finding suggests (you confirm first)")
        self.apply_fix.clicked.connect(self.apply_selected_fix)
        layout.addWidget(self.apply_fix)
        return box

    def _build_editor(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Edit the snapshot", parent)
        box.setObjectName("snapshotEditor")
        layout = QVBoxLayout(box)
        layout.addWidget(self._build_form(box))
        raw_caption = QLabel("Raw JSON (checked as you type):", box)
        layout.addWidget(raw_caption)
        self.raw_edit = QPlainTextEdit(box)
        set_control(self.raw_edit, "rawEditor", self._base_raw_tip, "Snapshot JSON")
        self.raw_edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.raw_edit.textChanged.connect(self._on_raw_edited)
        raw_caption.setBuddy(self.raw_edit)
        layout.addWidget(self.raw_edit, 1)
        self.validation = plain_label(box, "snapshotValidation")
        self.validation.setWordWrap(True)
        self.validation.setAccessibleName("Validation")
        layout.addWidget(self.validation)
        caption = QLabel("Preview of the change:", box)
        layout.addWidget(caption)
        self.preview = QPlainTextEdit(box)
        set_control(self.preview, "snapshotPreview",
                    "What saving would change, as a diff of the stored and the new JSON",
                    "Preview of the change")
        self.preview.setReadOnly(True)
        self.preview.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        caption.setBuddy(self.preview)
        layout.addWidget(self.preview, 1)
        row = QHBoxLayout()
        self.revert_button = QPushButton("Revert", box)
        set_control(self.revert_button, "revertButton",
                    "Throw away your edits and show the stored snapshot again")
        self.revert_button.clicked.connect(self.revert)
        self.save_button = QPushButton("Save snapshot…", box)
        set_control(self.save_button, "saveSnapshotButton",
                    "Save the edited snapshot (you see the change and confirm first) (Ctrl+S)")
        self.save_button.clicked.connect(self.save)
        save_key = QShortcut(QKeySequence.StandardKey.Save, self)
        save_key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        save_key.activated.connect(self.save)
        row.addStretch(1)
        row.addWidget(self.revert_button)
        row.addWidget(self.save_button)
        layout.addLayout(row)
        return box

    def _build_form(self, parent: QWidget) -> QWidget:
        page = QWidget(parent)
        page.setObjectName("snapshotForm")
        form = QFormLayout(page)
        form.setContentsMargins(0, 0, 0, 0)

        def stamp_edit(name: str, tip: str) -> QDateTimeEdit:
            edit = QDateTimeEdit(page)
            set_control(edit, name, tip)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
            edit.setCalendarPopup(True)
            edit.dateTimeChanged.connect(self._on_form_edited)
            return edit

        self.form_timestamp = stamp_edit("formTimestamp",
                                         "When the snapshot was saved (local time)")
        now_button = QPushButton("Now", page)
        set_control(now_button, "formNowButton", "Set the snapshot time to now")
        now_button.clicked.connect(
            lambda: self.form_timestamp.setDateTime(QDateTime.currentDateTime()))
        stamp_row = QHBoxLayout()
        stamp_row.addWidget(self.form_timestamp, 1)
        stamp_row.addWidget(now_button)
        form.addRow("Snapshot time:", stamp_row)
        self.form_has_session = QCheckBox("A session is running", page)
        set_control(self.form_has_session, "formHasSession",
                    "Whether the snapshot has an active session; untick for none")
        self.form_has_session.toggled.connect(self._on_form_edited)
        form.addRow("", self.form_has_session)
        self.form_entry = QLineEdit(page)
        set_control(self.form_entry, "formEntry", "The entry id of the running application")
        self.form_entry.textEdited.connect(self._on_form_edited)
        form.addRow("Entry id:", self.form_entry)
        self.form_session = QLineEdit(page)
        set_control(self.form_session, "formSessionId",
                    "The session's UUID (the service cannot read anything else)")
        self.form_session.textEdited.connect(self._on_form_edited)
        new_id = QPushButton("New id", page)
        set_control(new_id, "formNewIdButton", "Put a new random UUID in the session id")
        new_id.clicked.connect(self._new_session_id)
        session_row = QHBoxLayout()
        session_row.addWidget(self.form_session, 1)
        session_row.addWidget(new_id)
        form.addRow("Session id:", session_row)
        self.form_started = stamp_edit("formStartedAt", "When the session started (local time)")
        form.addRow("Started at:", self.form_started)
        self.form_deadline = stamp_edit("formDeadline",
                                        "When the session must end (local time)")
        form.addRow("Deadline:", self.form_deadline)
        self.form_warnings = QLineEdit(page)
        set_control(self.form_warnings, "formWarnings",
                    "Warnings already given, in seconds before the deadline, e.g. 300, 60")
        self.form_warnings.textEdited.connect(self._on_form_edited)
        form.addRow("Warnings given (s):", self.form_warnings)
        self.form_session_widgets: list[QWidget] = [
            self.form_entry, self.form_session, new_id, self.form_started, self.form_deadline,
            self.form_warnings]
        self.form_widgets: list[QWidget] = [
            self.form_timestamp, now_button, self.form_has_session, *self.form_session_widgets]
        return page

    def _build_fixes(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Quick fixes", parent)
        box.setObjectName("snapshotFixes")
        row = QHBoxLayout(box)
        self.clear_button = QPushButton("Clear active session…", box)
        set_control(self.clear_button, "clearSessionButton",
                    "Save a snapshot with no active session, so a service that resumes "
                    "sessions from it does not resume this one")
        self.clear_button.clicked.connect(self.clear_session)
        self.delete_button = QPushButton("Delete snapshot…", box)
        set_control(self.delete_button, "deleteSnapshotButton",
                    "Remove the snapshot row (the shipped service never writes one)")
        self.delete_button.clicked.connect(self.delete)
        self.usage_button = QPushButton("Add unaccounted minutes…", box)
        set_control(self.usage_button, "addUsageButton",
                    "Add the minutes the service never counted to that day's usage")
        self.usage_button.clicked.connect(self.add_unaccounted)
        for b in (self.clear_button, self.delete_button, self.usage_button):
            row.addWidget(b)
        self._base_tips = {b: b.toolTip() for b in (
            self.clear_button, self.delete_button, self.usage_button, self.save_button,
            self.revert_button, self.apply_fix)}
        return box

    # --- questions to the person (tests answer them by monkeypatching) -----------------

    def confirm(self, text: str) -> bool:
        """Ask to go ahead with a change described in words."""
        return ask_yes(self, "Change the snapshot", text)

    def decide_conflict(self, text: str) -> bool:
        """Show what the service saved meanwhile; True to go on with the change anyway."""
        return ask_retry(self, "The snapshot changed", text, retry="Review my change again",
                         cancel="Keep the service's snapshot")

    def report(self, text: str) -> None:
        """Show why a change failed."""
        show_error(self, "Snapshot not changed", text)

    def ask_usage_minutes(self, gap: UsageGap, label: str) -> int | None:
        """How many minutes to add for `gap` (None: cancelled)."""
        low, high = gap.min_seconds // 60, max(math.ceil(gap.max_seconds / 60), 1)
        value, ok = QInputDialog.getInt(
            self, "Add unaccounted minutes",
            f"Between {format_duration(gap.min_seconds)} and "
            f"{format_duration(gap.max_seconds)} of {label} were never counted on "
            f"{format_day(gap.day)}.\nMinutes to add:", default_minutes(gap), low, high)
        return int(value) if ok else None

    # --- loading -------------------------------------------------------------------------

    def _on_opened(self) -> None:
        self._dirty = False
        self._set_notice("")
        self._on_state()
        self.reload()

    def _load_job(self) -> Callable[[], object] | None:
        store, policy = self.db.store, self.db.policy
        if store is None:
            return None
        return lambda: load_state(store, policy)

    def _on_loaded(self, state: object) -> None:
        if isinstance(state, SnapshotState):
            if self._load_error is not None and self.notice.text() == self._load_error:
                self._set_notice("")  # that failure (e.g. a lock) is over
            self._load_error = None
            self._show_state(state)

    def _on_load_failed(self, message: str) -> None:
        self._load_error = message
        self._set_notice(message)

    def _show_state(self, state: SnapshotState) -> None:
        changed = self.state is None or state.text != self._seen
        self.state = state
        selected = self._selected_finding()
        self.findings.set_findings(state.findings)
        codes = [f.code for f in state.findings]
        keep = codes.index(selected.code) if selected and selected.code in codes else 0
        if state.findings:
            self.findings_table.selectRow(keep)
        self._show_finding()
        self._show_summary()
        if changed:
            if self._dirty:
                self._set_notice(
                    "The snapshot was changed by another program while you were editing "
                    "(shown on the left). Your edit is kept; saving will show you the new "
                    "one first.")
            else:
                self._seen = state.text
                self._load_editors(state.text)
        self._update_actions()
        self.loaded.emit()

    def _on_failed(self, message: str) -> None:
        self._loader.cancel()
        self.state = None
        self.findings.set_findings([])
        self._show_summary()
        self._set_notice(message)
        self._update_actions()

    def _on_state(self) -> None:
        if self.db.error is None:
            reason = self.db.read_only_reason
            if reason is not None and self.db.store is not None:
                self._set_notice(f"Read-only: {reason}. The snapshot is shown but cannot be "
                                 "changed; open the database as its owner to edit it.")
            elif self.notice.text().startswith("Read-only"):
                self._set_notice("")
        self._show_summary()
        self._update_actions()

    def _set_notice(self, text: str) -> None:
        self.notice.setText(text)
        self._update_presence()

    def _update_presence(self) -> None:
        """Show the snapshot and its editor, or the one line saying there is none."""
        state = self.state
        present = self._dirty or (state is not None and state.text is not None)
        text = self.notice.text()
        # Without a snapshot there is nothing to edit: the Recovery tab above already says
        # why the file cannot be read or changed.
        self.notice.setVisible(bool(text) and present)
        if state is None:
            self.absent.setText(text or ("No database open" if self.db.store is None
                                         else "Reading the snapshot…"))
        else:
            self.absent.setText(NO_SNAPSHOT_TEXT)
        self.absent.setVisible(not present)
        self.split.setVisible(present)
        if present != self.present:
            self.present = present
            self.presenceChanged.emit(present)

    # --- the summary -----------------------------------------------------------------------

    def _show_summary(self) -> None:
        state = self.state
        for key in self.fields:
            self.fields[key].setText("")
            self.fields[key].setToolTip("")
        self.raw_view.setVisible(False)
        self._show_verdict()
        self._update_presence()
        if state is None:
            self.headline.setText("No database open" if self.db.store is None else "Loading…")
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
            labels = self.db.labels
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
        self._tick()

    def _show_verdict(self) -> None:
        """The most serious finding under the headline, in its severity's colour."""
        findings = self.state.findings if self.state is not None else []
        if not findings:
            self.verdict.setText("")
            return
        top = findings[0]
        self.verdict.setText(f"{SEVERITY_TEXT[top.severity]}: {top.title}"
                             + (f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""))
        self.verdict.setStyleSheet(f"color: {SEVERITY_COLORS[top.severity]};")

    def _tick(self) -> None:
        """Move the clock: age and time left (no database reads)."""
        snap = self.state.snapshot if self.state is not None else None
        if snap is None:
            return
        now = local_now()
        age = now - snap.timestamp
        self.fields["age"].setText(f"{countdown(age)} ago" if age >= timedelta(0) else
                                   f"{countdown(-age)} in the future (clock change?)")
        s = snap.active_session
        if s is not None:
            left = s.deadline - now
            self.fields["left"].setText(f"{countdown(left)} left" if left > timedelta(0)
                                        else f"overdue by {countdown(-left)}")

    def _selected_finding(self) -> Finding | None:
        index = self.findings_table.currentIndex()
        if not index.isValid() or index.row() >= len(self.findings.findings):
            return None
        return self.findings.findings[index.row()]

    def _show_finding(self, *_args: object) -> None:
        f = self._selected_finding()
        if f is None:
            self.finding_detail.setPlainText("")
        else:
            fix = f"\n\nOne-click fix: {FIX_NAMES[f.fix]}." if f.fix else ""
            self.finding_detail.setPlainText(
                f"{f.title} ({f.severity})\n\n{f.explanation}\n\nWhat to do: {f.action}{fix}")
        self._update_actions()

    # --- the editors -----------------------------------------------------------------------

    def _load_editors(self, text: str | None) -> None:
        """Show `text` in the form and the raw editor; nothing is pending afterwards."""
        self._dirty = False
        snap: StateSnapshot | None = None
        if text is not None:
            try:
                snap = decode_snapshot(text)
            except SerializationError:
                snap = None
        self._fill_form(snap)
        self.raw_edit.blockSignals(True)
        self.raw_edit.setPlainText(pretty(text) if text is not None else "")
        self.raw_edit.blockSignals(False)
        self._pending = None
        self._pending_error = None
        self._update_preview()

    def _fill_form(self, snap: StateSnapshot | None) -> None:
        now = local_now().replace(microsecond=0)
        s = snap.active_session if snap is not None else None
        self._originals = {}
        if snap is not None:
            self._originals["timestamp"] = snap.timestamp
        if s is not None:
            self._originals["started"] = s.started_at
            self._originals["deadline"] = s.deadline
        for w in self.form_widgets:
            w.blockSignals(True)
        try:
            self.form_timestamp.setDateTime(to_qt(snap.timestamp if snap else now))
            self.form_has_session.setChecked(s is not None)
            self.form_entry.setText(s.entry_id if s else "")
            self.form_session.setText(s.session_id if s else str(uuid.uuid4()))
            self.form_started.setDateTime(to_qt(s.started_at if s else now))
            self.form_deadline.setDateTime(to_qt(s.deadline if s else now + timedelta(hours=1)))
            self.form_warnings.setText(", ".join(str(w) for w in s.warnings_issued) if s else "")
        finally:
            for w in self.form_widgets:
                w.blockSignals(False)
        self._update_form_enabled()

    def _update_form_enabled(self) -> None:
        editable = self.db.writable
        for w in self.form_widgets:
            w.setEnabled(editable)
        for w in self.form_session_widgets:
            w.setEnabled(editable and self.form_has_session.isChecked())

    def _form_value(self, key: str, edit: QDateTimeEdit) -> datetime:
        """The edit's time, keeping the stored value (with its offset and fraction) if
        the person did not change it."""
        secs = edit.dateTime().toSecsSinceEpoch()
        original = self._originals.get(key)
        if original is not None and math.floor(original.timestamp()) == secs:
            return original
        return datetime.fromtimestamp(secs).astimezone()

    def form_snapshot(self) -> StateSnapshot:
        """The snapshot the form describes; raise ValueError naming a bad field."""
        timestamp = self._form_value("timestamp", self.form_timestamp)
        if not self.form_has_session.isChecked():
            return StateSnapshot(timestamp, None)
        entry = self.form_entry.text().strip()
        if not entry:
            raise ValueError("the entry id is empty")
        try:
            warnings = tuple(int(w) for w in re.split(r"[\s,]+", self.form_warnings.text())
                             if w)
        except ValueError:
            raise ValueError("warnings must be whole numbers of seconds, e.g. 300, 60") from None
        session = SessionSnapshot(
            session_id=self.form_session.text().strip(), entry_id=entry,
            started_at=self._form_value("started", self.form_started),
            deadline=self._form_value("deadline", self.form_deadline),
            warnings_issued=warnings)
        return StateSnapshot(timestamp, session)

    def _new_session_id(self) -> None:
        self.form_session.setText(str(uuid.uuid4()))
        self._on_form_edited()

    def _on_form_edited(self, *_args: object) -> None:
        self._update_form_enabled()
        self._dirty = True
        try:
            text: str | None = encode_snapshot(self.form_snapshot())
            error = None
        except (ValueError, SerializationError) as exc:
            text, error = None, str(exc)
        self._pending, self._pending_error = text, error
        if text is not None:
            self.raw_edit.blockSignals(True)
            self.raw_edit.setPlainText(pretty(text))
            self.raw_edit.blockSignals(False)
        self._update_preview()

    def _on_raw_edited(self) -> None:
        self._dirty = True
        try:
            text: str | None = normalize_snapshot_text(self.raw_edit.toPlainText())
            error = None
        except SerializationError as exc:
            text, error = None, str(exc)
        self._pending, self._pending_error = text, error
        if text is not None:
            self._fill_form(decode_snapshot(text))
        self._update_preview()

    def _update_preview(self) -> None:
        if self._pending is None and self._pending_error is None:
            self.validation.setText("")
            self.preview.setPlainText("Edit the form or the JSON to see the change here.")
        elif self._pending is None:
            self.validation.setText(f"✗ Cannot be saved: {self._pending_error}")
            self.validation.setStyleSheet(f"color: {SEVERITY_COLORS['problem']};")
            self.preview.setPlainText("Nothing to preview until the snapshot is valid.")
        else:
            self.validation.setText("✓ Valid: the service can read this snapshot.")
            self.validation.setStyleSheet("color: #2E7D32;")
            self.preview.setPlainText(change_preview(self._seen, self._pending))
        self._update_actions()

    def revert(self) -> None:
        """Forget the edits and show the stored snapshot."""
        if self.state is not None:
            self._seen = self.state.text
        self._load_editors(self._seen)
        self._set_notice("")
        self._on_state()

    # --- actions ---------------------------------------------------------------------------

    def _update_actions(self) -> None:
        reason = self.db.read_only_reason
        state = self.state
        stored = state is not None and state.text is not None
        snap = state.snapshot if state is not None else None
        clearable = stored and (snap is None or snap.active_session is not None)
        finding = self._selected_finding()
        enabled = {
            self.clear_button: clearable,
            self.delete_button: stored,
            self.usage_button: state is not None and state.gap is not None,
            self.save_button: self._pending is not None and self._pending != self._seen,
            self.revert_button: self._dirty,
            self.apply_fix: finding is not None and finding.fix is not None,
        }
        for button, on in enabled.items():
            base = self._base_tips[button]
            if button is self.apply_fix and finding is not None and finding.fix is not None:
                self.apply_fix.setText(f"Apply the suggested fix: {FIX_NAMES[finding.fix]}…")
            elif button is self.apply_fix:
                self.apply_fix.setText("Apply the suggested fix")
            if reason is not None and button is not self.revert_button:
                button.setEnabled(False)
                button.setToolTip(f"{base}\n\n{read_only_tip(reason)}")
            else:
                button.setEnabled(bool(on))
                button.setToolTip(base)
        self._update_form_enabled()
        self.raw_edit.setReadOnly(reason is not None)
        self.raw_edit.setToolTip(self._base_raw_tip if reason is None else
                                 f"{self._base_raw_tip}\n\n{read_only_tip(reason)}")

    _base_raw_tip = ("The snapshot as JSON. It is checked as you type with the service's own "
                     "rules.")

    def _can_edit(self) -> bool:
        reason = self.db.read_only_reason
        if reason is not None:
            self._set_notice(read_only_tip(reason))
            return False
        return self.state is not None

    def apply_selected_fix(self) -> None:
        """Carry out the selected finding's fix."""
        f = self._selected_finding()
        if f is None or f.fix is None:
            return
        {FIX_CLEAR_SESSION: self.clear_session, FIX_DELETE_SNAPSHOT: self.delete,
         FIX_ADD_USAGE: self.add_unaccounted}[f.fix]()

    def clear_session(self) -> bool:
        """Replace the snapshot by one without an active session (confirmed)."""
        return self._replace(lambda store, expected: clear_active_session(
            store, expected=expected, now=local_now()), self._describe_clear)

    def delete(self) -> bool:
        """Delete the snapshot row (confirmed)."""
        return self._replace(lambda store, expected: delete_snapshot(store, expected=expected),
                             self._describe_delete)

    def save(self) -> bool:
        """Save the edited snapshot (confirmed, with the preview)."""
        pending = self._pending
        if pending is None or not self.save_button.isEnabled():
            return False
        return self._replace(lambda store, expected: save_snapshot_text(
            store, pending, expected=expected), lambda seen: self._describe_save(seen, pending))

    def _replace(self, write: Callable[[SqliteStore, str | None], object],
                 describe: Callable[[str | None], str]) -> bool:
        """Confirm, write against the text seen; on a conflict show the new one and let
        the person decide again. True when written."""
        if not self._can_edit():
            return False
        seen = self._seen
        for _round in range(MAX_CONFLICT_ROUNDS):
            if not self.confirm(describe(seen)):
                return False
            try:
                self.db.write(lambda store, seen=seen: write(store, seen))
            except OverrideConflict as exc:
                current = exc.current
                if not self.decide_conflict(self._describe_conflict(seen, current)):
                    self._seen = current  # keep the service's: show it, drop the edit
                    self._load_editors(current)
                    self._set_notice("")
                    self.reload()
                    return False
                seen = self._seen = current
                continue
            except StoreError as exc:
                self.report(str(exc))
                self.reload()
                return False
            self._dirty = False
            self._set_notice("")
            self.written.emit()
            self.reload()
            return True
        self.report("The snapshot kept changing while you decided; nothing was written.")
        return False

    def add_unaccounted(self) -> bool:
        """Add the minutes the service never counted to that day's usage (confirmed)."""
        if not self._can_edit() or self.state is None or self.state.gap is None:
            return False
        gap = self.state.gap
        label = self.db.labels.get(gap.entry_id) or gap.entry_id
        minutes = self.ask_usage_minutes(gap, label)
        if not minutes:
            return False
        text = (f"Add {format_duration(minutes * 60)} to {label}'s usage on "
                f"{format_day(gap.day)}?\n\nBetween {format_duration(gap.min_seconds)} and "
                f"{format_duration(gap.max_seconds)} of session {short_id(gap.session_id)} "
                "were never counted because the service did not end it.\n\nThe change is "
                "recorded as a manual change.")
        if not self.confirm(text):
            return False
        try:
            self.db.write(lambda store: add_usage(store, gap.entry_id, gap.day, minutes * 60,
                                                  reason=gap.reason))
        except StoreError as exc:
            self.report(str(exc))
            return False
        self.written.emit()
        self.reload()
        return True

    # --- words ---------------------------------------------------------------------------

    def _session_words(self, text: str | None) -> str:
        if text is None:
            return "no snapshot"
        try:
            snap = decode_snapshot(text)
        except SerializationError:
            return "an unreadable snapshot"
        now = local_now()
        s = snap.active_session
        if s is None:
            return f"a snapshot from {when_text(snap.timestamp, now)} with no session running"
        label = self.db.labels.get(s.entry_id) or s.entry_id
        return (f"a snapshot from {when_text(snap.timestamp, now)} with {label} running "
                f"(started {when_text(s.started_at, now)}, deadline "
                f"{when_text(s.deadline, now)})")

    def _describe_clear(self, seen: str | None) -> str:
        return (f"The stored snapshot is {self._session_words(seen)}.\n\nIt will be replaced "
                "by one with no session running, stamped now, so a service that resumes "
                "sessions from the snapshot does not resume this one. Usage and cooldowns are "
                "not changed.\n\nThe change is recorded as a manual change.")

    def _describe_delete(self, seen: str | None) -> str:
        return (f"The stored snapshot is {self._session_words(seen)}.\n\nIt will be deleted. "
                "The shipped service (shepherdd) never saves or reads one, so nothing it does "
                "changes.\n\nThe change is recorded as a manual change.")

    def _describe_save(self, seen: str | None, new: str) -> str:
        return (f"The stored snapshot is {self._session_words(seen)}.\nAfter saving it is "
                f"{self._session_words(new)}.\n\n{change_preview(seen, new)}\n\nThe change "
                "is recorded as a manual change.")

    def _describe_conflict(self, seen: str | None, current: str | None) -> str:
        return (f"The snapshot changed after you looked (another program saved it), so "
                f"nothing was written.\n\nYou saw {self._session_words(seen)}.\nNow it is "
                f"{self._session_words(current)}:\n\n{pretty(current)}\n\nReview your change "
                "against the new snapshot, or keep the service's.")


def default_minutes(gap: UsageGap) -> int:
    """The minutes offered for a gap: its upper bound (the service stopped or restarted at
    the latest then), rounded to whole minutes, at least 1."""
    return max(round(gap.max_seconds / 60), 1)


def warnings_text(warnings: tuple[int, ...]) -> str:
    """`5 min, 1 min before the deadline`, or `none`."""
    if not warnings:
        return "none"
    return ", ".join(format_duration(w) for w in warnings) + " before the deadline"


def to_qt(value: datetime) -> QDateTime:
    """A datetime as Qt's local date-time (whole seconds)."""
    return QDateTime.fromSecsSinceEpoch(math.floor(value.timestamp()))
