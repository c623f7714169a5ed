"""The snapshot section of the Recovery tab: a stored crash-recovery snapshot, its
diagnosis, and edits.

The shipped service (shepherdd) never saves a snapshot (docs/DESIGN.md): its crashes are
found in the audit log (`recovery_tab`). A snapshot row exists only where another version of
the service or a tool wrote one; for those databases this section shows it in full, for the
others one honest line.

Left (`snapshot_panes`): the stored snapshot (time and age, the active session with a live
"time left") and the findings of `shepherd_store.diagnose`, each with its explanation, what
to do and, where one click fixes it, a button. Right (`snapshot_editor`): a form and a raw
JSON editor kept in step, validated live by the library's own rules, with a preview (a diff)
of the change before it is saved. This module reads, decides and writes: every write goes
through `shepherd_store.overrides`, compared with the text the person saw. The words are in
`snapshot_logic`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from shepherd_store import SqliteStore, StoreError
from shepherd_store.diagnose import (
    FIX_ADD_USAGE,
    FIX_CLEAR_SESSION,
    FIX_DELETE_SNAPSHOT,
    UsageGap,
    diagnose,
)
from shepherd_store.overrides import OverrideConflict
from shepherd_store.policy import Policy
from shepherd_store.timefmt import format_day, local_now

from .cooldown_tab import read_only_tip
from .database import Database
from .formatting import format_duration
from .snapshot_editor import SnapshotEditor
from .snapshot_logic import (
    FIX_NAMES,
    NO_SNAPSHOT_TEXT,
    SnapshotState,
    change_preview,
    default_minutes,
    describe_add_usage,
    describe_clear,
    describe_conflict,
    describe_delete,
    describe_save,
    honest,
    pretty,
    session_words,
)
from .snapshot_panes import SnapshotDiagnosis, SnapshotSummary
from .store_edits import add_usage, clear_active_session, delete_snapshot, save_snapshot_text
from .widgets import (
    DatabaseTab,
    ask_retry,
    ask_yes,
    plain_label,
    set_control,
    show_error,
)

__all__ = ["NO_SNAPSHOT_TEXT", "SnapshotState", "SnapshotTab", "default_minutes", "load_state",
           "pretty"]

MAX_CONFLICT_ROUNDS = 3


def load_state(store: SqliteStore, policy: Policy | None) -> SnapshotState:
    """Read the snapshot and diagnose it (worker thread)."""
    now = local_now()
    text = store.load_snapshot_text()
    findings = [honest(f) for f in diagnose(store, now=now, policy=policy)]
    return SnapshotState(text, findings, now)


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
        self.summary = SnapshotSummary(left)
        left_box.addWidget(self.summary)
        self.diagnosis = SnapshotDiagnosis(left)
        self.diagnosis.findingShown.connect(self._update_actions)
        self.diagnosis.apply_fix.clicked.connect(self.apply_selected_fix)
        left_box.addWidget(self.diagnosis, 1)
        right = QWidget(split)
        right_box = QVBoxLayout(right)
        right_box.setContentsMargins(0, 0, 0, 0)
        # The form's new values start at this module's clock (looked up on each call: the
        # tests and the screenshots pin `local_now` here).
        self.editor = SnapshotEditor(self.db, lambda: local_now(), right)
        self.editor.changed.connect(self._update_actions)
        self.editor.revert_button.clicked.connect(self.revert)
        self.editor.save_button.clicked.connect(self.save)
        save_key = QShortcut(QKeySequence.StandardKey.Save, self)
        save_key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        # A closure, not the bound method: PySide holds it strongly, so the tab is never left
        # to the garbage collector (DatabaseTab's reader refers back to it), which may run
        # on a worker thread and must not delete widgets there. (The form's "Now" button
        # held the tab so before the editor had a module of its own.)
        save_key.activated.connect(lambda: self.save())
        right_box.addWidget(self.editor, 1)
        right_box.addWidget(self._build_fixes(right))
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 4)
        split.setVisible(False)
        outer.addStretch(0)
        # The panes' controls, by the names the tab has always had.
        s, d, e = self.summary, self.diagnosis, self.editor
        self.headline, self.verdict, self.fields, self.raw_view = \
            s.headline, s.verdict, s.fields, s.raw_view
        self.findings, self.findings_table, self.finding_detail, self.apply_fix = \
            d.model, d.table, d.detail, d.apply_fix
        self.raw_edit, self.validation, self.preview = e.raw_edit, e.validation, e.preview
        self.revert_button, self.save_button = e.revert_button, e.save_button
        self.form_timestamp, self.form_has_session, self.form_entry, self.form_session = \
            e.form_timestamp, e.form_has_session, e.form_entry, e.form_session
        self.form_started, self.form_deadline, self.form_warnings = \
            e.form_started, e.form_deadline, e.form_warnings

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
            self.clear_button, self.delete_button, self.usage_button, self.editor.save_button,
            self.editor.revert_button, self.diagnosis.apply_fix)}
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
        self.editor.dirty = False
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
        changed = self.state is None or state.text != self.editor.seen
        self.state = state
        self.diagnosis.show_findings(state.findings)
        self._show_summary()
        if changed:
            if self.editor.dirty:
                self._set_notice(
                    "The snapshot was changed by another program while you were editing "
                    "(shown on the left). Your edit is kept; saving will show you the new "
                    "one first.")
            else:
                self.editor.load(state.text)
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
        present = self.editor.dirty or (state is not None and state.text is not None)
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

    def _show_summary(self) -> None:
        state = self.state
        self.summary.clear(state.findings if state is not None else [])
        self._update_presence()
        self.summary.show_state(state, self.db.labels, self.db.store is None)
        self._tick()

    def _tick(self) -> None:
        """Move the clock: age and time left (no database reads)."""
        snap = self.state.snapshot if self.state is not None else None
        if snap is not None:
            self.summary.tick(snap, local_now())

    def revert(self) -> None:
        """Forget the edits and show the stored snapshot."""
        self.editor.load(self.state.text if self.state is not None else self.editor.seen)
        self._set_notice("")
        self._on_state()

    # --- actions ---------------------------------------------------------------------------

    def _update_actions(self) -> None:
        reason = self.db.read_only_reason
        state = self.state
        stored = state is not None and state.text is not None
        snap = state.snapshot if state is not None else None
        clearable = stored and (snap is None or snap.active_session is not None)
        finding = self.diagnosis.selected()
        editor, apply_fix = self.editor, self.diagnosis.apply_fix
        enabled = {
            self.clear_button: clearable,
            self.delete_button: stored,
            self.usage_button: state is not None and state.gap is not None,
            editor.save_button: editor.pending is not None and editor.pending != editor.seen,
            editor.revert_button: editor.dirty,
            apply_fix: finding is not None and finding.fix is not None,
        }
        for button, on in enabled.items():
            base = self._base_tips[button]
            if button is apply_fix and finding is not None and finding.fix is not None:
                apply_fix.setText(f"Apply the suggested fix: {FIX_NAMES[finding.fix]}…")
            elif button is apply_fix:
                apply_fix.setText("Apply the suggested fix")
            if reason is not None and button is not editor.revert_button:
                button.setEnabled(False)
                button.setToolTip(f"{base}\n\n{read_only_tip(reason)}")
            else:
                button.setEnabled(bool(on))
                button.setToolTip(base)
        editor.set_read_only(reason)

    def _can_edit(self) -> bool:
        reason = self.db.read_only_reason
        if reason is not None:
            self._set_notice(read_only_tip(reason))
            return False
        return self.state is not None

    def apply_selected_fix(self) -> None:
        """Carry out the selected finding's fix."""
        f = self.diagnosis.selected()
        if f is None or f.fix is None:
            return
        {FIX_CLEAR_SESSION: self.clear_session, FIX_DELETE_SNAPSHOT: self.delete,
         FIX_ADD_USAGE: self.add_unaccounted}[f.fix]()

    def clear_session(self) -> bool:
        """Replace the snapshot by one without an active session (confirmed)."""
        return self._replace(lambda store, expected: clear_active_session(
            store, expected=expected, now=local_now()),
            lambda seen: describe_clear(self._session_words(seen)))

    def delete(self) -> bool:
        """Delete the snapshot row (confirmed)."""
        return self._replace(lambda store, expected: delete_snapshot(store, expected=expected),
                             lambda seen: describe_delete(self._session_words(seen)))

    def save(self) -> bool:
        """Save the edited snapshot (confirmed, with the preview)."""
        pending = self.editor.pending
        if pending is None or not self.editor.save_button.isEnabled():
            return False
        return self._replace(lambda store, expected: save_snapshot_text(
            store, pending, expected=expected), lambda seen: describe_save(
            self._session_words(seen), self._session_words(pending),
            change_preview(seen, pending)))

    def _replace(self, write: Callable[[SqliteStore, str | None], object],
                 describe: Callable[[str | None], str]) -> bool:
        """Confirm, write against the text seen; on a conflict show the new one and let
        the person decide again. True when written."""
        if not self._can_edit():
            return False
        seen = self.editor.seen
        for _round in range(MAX_CONFLICT_ROUNDS):
            if not self.confirm(describe(seen)):
                return False
            try:
                self.db.write(lambda store, seen=seen: write(store, seen))
            except OverrideConflict as exc:
                current = exc.current
                if not self.decide_conflict(describe_conflict(
                        self._session_words(seen), self._session_words(current), current)):
                    self.editor.load(current)  # keep the service's: show it, drop the edit
                    self._set_notice("")
                    self.reload()
                    return False
                seen = self.editor.seen = current
                continue
            except StoreError as exc:
                self.report(str(exc))
                self.reload()
                return False
            self.editor.dirty = False
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
        if not self.confirm(describe_add_usage(gap, label, minutes)):
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

    def _session_words(self, text: str | None) -> str:
        """The stored `text` in a few words, at this module's clock."""
        return session_words(text, self.db.labels, local_now())
