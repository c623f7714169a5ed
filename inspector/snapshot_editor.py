"""The snapshot section's editor: a form and a raw JSON editor kept in step, validated as the
person types by the library's own rules, with a preview (a diff) of what saving would change.

It edits and checks only: what saving would store is `pending` (None while the edit is
invalid, with the reason in `pending_error`), compared with `seen`, the stored text the
person is looking at. The snapshot tab (`snapshot_tab`) writes it, and follows `changed`.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from PySide6.QtCore import QDateTime, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QDateTimeEdit,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from shepherd_store import SerializationError
from shepherd_store.overrides import normalize_snapshot_text
from shepherd_store.snapshot import SessionSnapshot, StateSnapshot, decode_snapshot, encode_snapshot

from .cooldown_tab import read_only_tip
from .database import Database
from .snapshot_logic import change_preview, pretty
from .table_models import SEVERITY_COLORS
from .widgets import plain_label, set_control

RAW_TIP = "The snapshot as JSON. It is checked as you type with the service's own rules."


def to_qt(value: datetime) -> QDateTime:
    """A datetime as Qt's local date-time (whole seconds)."""
    return QDateTime.fromSecsSinceEpoch(math.floor(value.timestamp()))


class SnapshotEditor(QGroupBox):
    """The form, the raw editor, the validation and the preview, with Revert and Save (the
    tab connects those two); `changed` after each edit and load."""

    changed = Signal()

    def __init__(self, db: Database, clock: Callable[[], datetime],
                 parent: QWidget | None = None) -> None:
        super().__init__("Edit the snapshot", parent)
        self.setObjectName("snapshotEditor")
        self.db = db
        self.clock = clock  # the tab's: new form values start at its "now"
        self.seen: str | None = None  # the stored text the person is looking at
        self.pending: str | None = None  # what saving would store (None: invalid or none)
        self.pending_error: str | None = None
        self.dirty = False
        self._originals: dict[str, datetime] = {}
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_form(self))
        raw_caption = QLabel("Raw JSON (checked as you type):", self)
        layout.addWidget(raw_caption)
        self.raw_edit = QPlainTextEdit(self)
        set_control(self.raw_edit, "rawEditor", RAW_TIP, "Snapshot JSON")
        self.raw_edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.raw_edit.textChanged.connect(self._on_raw_edited)
        raw_caption.setBuddy(self.raw_edit)
        layout.addWidget(self.raw_edit, 1)
        self.validation = plain_label(self, "snapshotValidation")
        self.validation.setWordWrap(True)
        self.validation.setAccessibleName("Validation")
        layout.addWidget(self.validation)
        caption = QLabel("Preview of the change:", self)
        layout.addWidget(caption)
        self.preview = QPlainTextEdit(self)
        set_control(self.preview, "snapshotPreview",
                    "What saving would change, as a diff of the stored and the new JSON",
                    "Preview of the change")
        self.preview.setReadOnly(True)
        self.preview.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        caption.setBuddy(self.preview)
        layout.addWidget(self.preview, 1)
        row = QHBoxLayout()
        self.revert_button = QPushButton("Revert", self)
        set_control(self.revert_button, "revertButton",
                    "Throw away your edits and show the stored snapshot again")
        self.save_button = QPushButton("Save snapshot…", self)
        set_control(self.save_button, "saveSnapshotButton",
                    "Save the edited snapshot (you see the change and confirm first) (Ctrl+S)")
        row.addStretch(1)
        row.addWidget(self.revert_button)
        row.addWidget(self.save_button)
        layout.addLayout(row)

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

    # --- loading ---------------------------------------------------------------------------

    def load(self, text: str | None) -> None:
        """Show the stored `text` (now the one seen) in the form and the raw editor; nothing
        is pending afterwards."""
        self.seen = text
        self.dirty = False
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
        self.pending = None
        self.pending_error = None
        self._update_preview()

    def _fill_form(self, snap: StateSnapshot | None) -> None:
        now = self.clock().replace(microsecond=0)
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

    def set_read_only(self, reason: str | None) -> None:
        """Allow editing, or not, for the reason given (None: writable)."""
        self._update_form_enabled()
        self.raw_edit.setReadOnly(reason is not None)
        self.raw_edit.setToolTip(RAW_TIP if reason is None else
                                 f"{RAW_TIP}\n\n{read_only_tip(reason)}")

    # --- the form ----------------------------------------------------------------------------

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

    # --- edits -------------------------------------------------------------------------------

    def _on_form_edited(self, *_args: object) -> None:
        self._update_form_enabled()
        self.dirty = True
        try:
            text: str | None = encode_snapshot(self.form_snapshot())
            error = None
        except (ValueError, SerializationError) as exc:
            text, error = None, str(exc)
        self.pending, self.pending_error = text, error
        if text is not None:
            self.raw_edit.blockSignals(True)
            self.raw_edit.setPlainText(pretty(text))
            self.raw_edit.blockSignals(False)
        self._update_preview()

    def _on_raw_edited(self) -> None:
        self.dirty = True
        try:
            text: str | None = normalize_snapshot_text(self.raw_edit.toPlainText())
            error = None
        except SerializationError as exc:
            text, error = None, str(exc)
        self.pending, self.pending_error = text, error
        if text is not None:
            self._fill_form(decode_snapshot(text))
        self._update_preview()

    def _update_preview(self) -> None:
        if self.pending is None and self.pending_error is None:
            self.validation.setText("")
            self.preview.setPlainText("Edit the form or the JSON to see the change here.")
        elif self.pending is None:
            self.validation.setText(f"✗ Cannot be saved: {self.pending_error}")
            self.validation.setStyleSheet(f"color: {SEVERITY_COLORS['problem']};")
            self.preview.setPlainText("Nothing to preview until the snapshot is valid.")
        else:
            self.validation.setText("✓ Valid: the service can read this snapshot.")
            self.validation.setStyleSheet("color: #2E7D32;")
            self.preview.setPlainText(change_preview(self.seen, self.pending))
        self.changed.emit()
