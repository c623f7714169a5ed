"""The Cooldowns tab: every entry's cooldown, counting down live, and safe manual edits.

Rows come from the cooldowns table, usage, the audit log and the policy (when given), read
off the GUI thread. A 1 s timer only repaints the countdown (no database reads per tick).
Edits go through `shepherd_store.overrides` on `Database.write()`: one transaction each,
compared with the raw value the person saw. If the service changed a cooldown meanwhile, the
person is shown the new value and decides again; nothing is overwritten silently.

The rows and the sentences are decided in `cooldown_logic` (no Qt), the table in
`cooldown_model`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from PySide6.QtCore import QDateTime, QItemSelection, QItemSelectionModel, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from shepherd_store import OverrideRecord, StoreError
from shepherd_store.overrides import (
    CooldownChange,
    OverrideConflict,
    extended_until,
)
from shepherd_store.timefmt import local_now

from .cooldown_logic import (
    CooldownRow,
    change_words,
    conflict_words,
    countdown,
    latest_changes,
    load_rows,
    status_sentence,
    when_text,
)
from .cooldown_model import (
    COL_CONFIGURED,
    COL_ENTRY,
    COL_REMAINING,
    COL_STATUS,
    COL_UNTIL,
    COLUMNS,
    CooldownModel,
    EntryRole,
)
from .database import Database
from .formatting import clip, entry_display, format_duration, format_local
from .store_edits import apply_cooldowns
from .widgets import (
    DatabaseTab,
    ask_retry,
    ask_yes,
    plain_label,
    set_control,
    show_error,
)

__all__ = [
    "COLUMNS", "COL_CONFIGURED", "COL_ENTRY", "COL_REMAINING", "COL_STATUS", "COL_UNTIL",
    "CooldownModel", "CooldownRow", "CooldownTab", "EntryRole", "countdown", "latest_changes",
    "load_rows", "read_only_tip", "when_text",
]

EXTEND_MINUTES = (5, 15, 30)
DEFAULT_ADD = timedelta(minutes=30)  # a new cooldown's length when the policy does not say
MAX_CONFLICT_ROUNDS = 3


def read_only_tip(reason: str) -> str:
    """What a disabled edit control says: why, and how to get write access."""
    return (f"Editing is disabled: {reason}. To make changes, open the database as its owner "
            "(the account that runs shepherdd, e.g. with sudo -u) and turn read-only mode off.")


# --- the tab -----------------------------------------------------------------------------


class CooldownTab(DatabaseTab):
    """Cooldowns of every entry, with clear / extend / set / add, confirmed in words."""

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(db, "cooldownTab", parent)
        self.changes: dict[str, OverrideRecord] = {}
        # The clock is looked up on each call: the screenshots pin this module's `local_now`.
        self.model = CooldownModel(self, clock=lambda: local_now())
        self._build()
        self._follow()

    # --- construction ------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.notice = self._make_notice("cooldownNotice", "Cooldown status")
        layout.addWidget(self.notice)

        self.edit_actions: dict[str, QAction] = {}
        bar = QHBoxLayout()
        self.buttons: dict[str, QToolButton] = {}
        specs: list[tuple[str, str, str, Callable[[], None], QKeySequence | None]] = [
            ("clearCooldownButton", "Clear now",
             "Make the selected entries available again now (Delete)", self.clear_selected,
             QKeySequence(Qt.Key.Key_Delete)),
        ]
        for minutes in EXTEND_MINUTES:
            specs.append((f"extend{minutes}Button", f"+{minutes} min",
                          f"Extend the selected cooldowns by {minutes} minutes (from their end, "
                          "or from now when none is running)", self._extender(minutes), None))
        specs += [
            ("extendCustomButton", "Extend…",
             "Extend the selected cooldowns by an amount you choose (Ctrl+E)",
             self.extend_custom, QKeySequence("Ctrl+E")),
            ("setUntilButton", "Set until…",
             "Set the selected cooldowns to end at a date and time you pick, in local time "
             "(Ctrl+T)", self.set_until_selected, QKeySequence("Ctrl+T")),
            ("addCooldownButton", "Add cooldown…",
             "Add a cooldown to the selected entries that have none (Ctrl+N)",
             self.add_selected, QKeySequence("Ctrl+N")),
        ]
        for name, text, tip, slot, key in specs:
            action = QAction(text, self)
            action.setIconText(text)  # keep the "…": the dialog-opening actions need it
            action.setObjectName(name.replace("Button", "Action"))
            action.setToolTip(tip)
            if key is not None:
                action.setShortcut(key)
                action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                self.addAction(action)
            action.triggered.connect(slot)
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setObjectName(name)
            button.setAccessibleName(tip.split(" (")[0])
            self.edit_actions[name] = action
            self.buttons[name] = button
            bar.addWidget(button)
        bar.addStretch(1)
        layout.addLayout(bar)

        self.table = QTableView(self)
        set_control(self.table, "cooldownTable",
                    "Every entry the database knows, with its cooldown. Select entries, then "
                    "use the buttons above or the context menu.", "Cooldowns")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_ENTRY, Qt.SortOrder.AscendingOrder)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_ENTRY, QHeaderView.ResizeMode.Stretch)
        for col, width in ((COL_UNTIL, 190), (COL_REMAINING, 170), (COL_STATUS, 110),
                           (COL_CONFIGURED, 170)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(col, width)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        layout.addWidget(self.table, 3)
        self.detail = QPlainTextEdit(self)
        set_control(self.detail, "cooldownDetail",
                    "The selected entries in full: stored value, configured length and the "
                    "last manual change", "Cooldown details")
        self.detail.setReadOnly(True)
        self.detail.setPlaceholderText("Select entries to see their stored values here.")
        layout.addWidget(self.detail, 1)
        zone = local_now().strftime("%Z, UTC%z")
        self.caption = plain_label(self, "cooldownCaption",
                                   f"Times are local ({zone[:-2]}:{zone[-2:]}). The countdown "
                                   "runs live; the table refreshes when the service writes.")
        layout.addWidget(self.caption)

    def _extender(self, minutes: int) -> Callable[[], None]:
        def extend() -> None:
            self.extend_selected(timedelta(minutes=minutes))
        return extend

    def _context_menu(self, pos: Any) -> None:
        menu = QMenu(self)
        for action in self.edit_actions.values():
            menu.addAction(action)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    # --- questions to the person (tests answer them by monkeypatching) -----------------

    def confirm(self, text: str) -> bool:
        """Ask to go ahead with a change described in words."""
        return ask_yes(self, "Change cooldowns", text)

    def decide_conflict(self, text: str) -> bool:
        """Tell that the service changed a value meanwhile; True to decide again."""
        return ask_retry(self, "The cooldown changed", text, retry="Review my change again")

    def report(self, text: str) -> None:
        """Show why a change failed."""
        show_error(self, "Cooldown not changed", text)

    def ask_minutes(self) -> int | None:
        """How many minutes to extend by (None: cancelled)."""
        value, ok = QInputDialog.getInt(self, "Extend cooldowns", "Extend by (minutes):", 10,
                                        1, 7 * 24 * 60)
        return int(value) if ok else None

    def ask_until(self, initial: datetime) -> datetime | None:
        """A local date and time, picked in a dialog (None: cancelled)."""
        dialog = QDialog(self)
        dialog.setWindowTitle("Cooldown until")
        edit = QDateTimeEdit(QDateTime.fromSecsSinceEpoch(int(initial.timestamp())), dialog)
        set_control(edit, "untilPicker", "When the entries become available again (local time)")
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, dialog)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        box = QVBoxLayout(dialog)
        box.addWidget(QLabel("Available again at (local time):", dialog))
        box.addWidget(edit)
        box.addWidget(buttons)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return datetime.fromtimestamp(edit.dateTime().toSecsSinceEpoch()).astimezone()

    # --- loading -------------------------------------------------------------------------

    def _tick(self) -> None:
        self.model.tick(local_now())

    def _load_job(self) -> Callable[[], object] | None:
        store, policy = self.db.store, self.db.policy
        if store is None:
            return None
        return lambda: (load_rows(store, policy), latest_changes(store))

    def _on_loaded(self, result: object) -> None:
        if isinstance(result, tuple):
            self._show_rows(*result)

    def _on_load_failed(self, message: str) -> None:
        self.notice.setText(message)
        self.notice.setVisible(True)

    def _show_rows(self, rows: list[CooldownRow],
                   changes: dict[str, OverrideRecord] | None = None) -> None:
        keep = self.selected_entries()
        current = self.table.currentIndex()
        current_entry = current.data(EntryRole) if current.isValid() else None
        self.model.set_context(self.db.labels, self.db.policy)
        self.model.set_rows(rows)
        self.changes = changes or {}
        self._select(keep, current_entry)
        self._on_state()
        self._show_detail()
        self.loaded.emit()

    def _select(self, entries: list[str], current: str | None) -> None:
        selection = QItemSelection()
        sm = self.table.selectionModel()
        for entry in entries:
            row = self.model.row_of(entry)
            if row is None:
                continue
            selection.select(self.model.index(row, 0),
                             self.model.index(row, len(COLUMNS) - 1))
        sm.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if current is not None and (row := self.model.row_of(current)) is not None:
            sm.setCurrentIndex(self.model.index(row, 0),
                               QItemSelectionModel.SelectionFlag.NoUpdate)

    def _on_failed(self, message: str) -> None:
        self._loader.cancel()
        self.model.set_rows([])
        self.notice.setText(message)
        self._on_state()

    def _on_state(self) -> None:
        self.model.set_context(self.db.labels, self.db.policy)
        reason = self.db.read_only_reason
        if self.db.error is not None:
            self.notice.setText(self.db.error)
        elif reason is not None and self.db.store is not None:
            self.notice.setText(f"Read-only: {reason}. Cooldowns are shown but cannot be "
                                "changed; open the database as its owner to edit them.")
        else:
            self.notice.setText("")
        self.notice.setVisible(bool(self.notice.text()))
        self._update_actions()

    def _on_selection(self, *_args: object) -> None:
        self._update_actions()
        self._show_detail()

    def _show_detail(self) -> None:
        """The selected entries in full (plain text; refreshed on selection and reload)."""
        now = self.model.now
        blocks = []
        for row in self._selected_rows()[:50]:
            name = entry_display(row.entry_id, self.model.labels)
            lines = [clip(name, 300)]
            lines.append("  " + status_sentence(row, now))
            lines.append(f"  Stored value: {clip(row.raw, 200)}" if row.raw is not None
                         else "  Stored value: no cooldown row")
            configured = self.model.configured(row.entry_id)
            if isinstance(configured, int) and self.model.policy is not None:
                lines.append(f"  Configured: {format_duration(configured)} after each "
                             f"session ({self.model.policy.path})")
            record = self.changes.get(row.entry_id)
            if record is not None:
                c = record.change
                lines.append(f"  Last manual change: {clip(c.user, 60)}, "
                             f"{format_local(record.timestamp)}: {clip(c.previous or 'none', 60)}"
                             f" → {clip(c.new or 'none', 60)}")
            blocks.append("\n".join(lines))
        self.detail.setPlainText("\n\n".join(blocks))

    # --- selection and actions -----------------------------------------------------------

    def selected_entries(self) -> list[str]:
        """Entry ids of the selected rows, in display order."""
        rows = sorted(self.table.selectionModel().selectedRows(), key=lambda i: i.row())
        return [str(i.data(EntryRole)) for i in rows]

    def select_entries(self, entries: list[str]) -> None:
        """Select these entries (tests, and keeping the selection across reloads)."""
        self._select(entries, entries[0] if entries else None)

    def _selected_rows(self) -> list[CooldownRow]:
        out = []
        for entry in self.selected_entries():
            row = self.model.row_of(entry)
            if row is not None:
                out.append(self.model.rows[row])
        return out

    def _update_actions(self) -> None:
        reason = self.db.read_only_reason
        rows = self._selected_rows()
        has_row = any(r.raw is not None for r in rows)
        has_none = any(r.raw is None for r in rows)
        for name, action in self.edit_actions.items():
            tip = action.toolTip().split("\n\nEditing is disabled")[0]
            if reason is not None:
                action.setEnabled(False)
                action.setToolTip(f"{tip}\n\n{read_only_tip(reason)}")
                continue
            if name == "clearCooldownButton":
                enabled = has_row
            elif name == "addCooldownButton":
                enabled = has_none
            else:
                enabled = bool(rows)
            action.setEnabled(enabled)
            action.setToolTip(tip)

    def clear_selected(self) -> None:
        """Clear now: the selected entries become available immediately."""
        self._edit(lambda row, now: None, only=lambda r: r.raw is not None)

    def extend_selected(self, by: timedelta) -> None:
        """Extend by `by`: from the cooldown's end when active, else from now."""
        self._edit(lambda row, now: extended_until(row.until, by, now))

    def extend_custom(self) -> None:
        """Extend by a number of minutes the person types."""
        if not self._can_edit():
            return
        minutes = self.ask_minutes()
        if minutes:
            self.extend_selected(timedelta(minutes=minutes))

    def set_until_selected(self) -> None:
        """Set the selected cooldowns to end at a picked local date and time."""
        if not self._can_edit():
            return
        rows = self._selected_rows()
        now = local_now()
        initial = next((r.until for r in rows if r.until is not None and r.until > now),
                       now + DEFAULT_ADD)
        until = self.ask_until(initial.replace(microsecond=0))
        if until is not None:
            self._edit(lambda row, _now: until)

    def add_selected(self) -> None:
        """Add a cooldown to the selected entries without one (default: the policy length)."""
        if not self._can_edit():
            return
        rows = [r for r in self._selected_rows() if r.raw is None]
        if not rows:
            return
        configured = self.model.configured(rows[0].entry_id)
        length = timedelta(seconds=configured) if isinstance(configured, int) else DEFAULT_ADD
        until = self.ask_until((local_now() + length).replace(microsecond=0))
        if until is not None:
            self._edit(lambda row, _now: until, only=lambda r: r.raw is None)

    def _can_edit(self) -> bool:
        reason = self.db.read_only_reason
        if reason is not None:  # the actions are disabled; a shortcut must not get through
            self.notice.setText(read_only_tip(reason))
            self.notice.setVisible(True)
            return False
        return bool(self._selected_rows())

    def _edit(self, target: Callable[[CooldownRow, datetime], datetime | None], *,
              only: Callable[[CooldownRow], bool] = lambda r: True) -> bool:
        """Plan, confirm in words and write one edit; on a conflict show the new values and
        let the person decide again. Returns True when something was written."""
        if not self._can_edit():
            return False
        rows = [r for r in self._selected_rows() if only(r)]
        for _round in range(MAX_CONFLICT_ROUNDS):
            now = local_now()
            changes = [CooldownChange(r.entry_id, r.raw, target(r, now)) for r in rows]
            changes = [c for c, r in zip(changes, rows, strict=True)
                       if not (c.until is None and r.raw is None)]
            if not changes:
                return False
            if not self.confirm(self.describe(changes, now)):
                return False
            try:
                written = self.db.write(
                    lambda store, changes=changes: apply_cooldowns(store, changes))
            except OverrideConflict as exc:
                for entry, current in exc.conflicts.items():
                    if entry is not None:
                        self.model.update_raw(entry, current)
                if not self.decide_conflict(self.describe_conflict(changes, exc)):
                    self.reload()
                    return False
                rows = [CooldownRow(r.entry_id, exc.conflicts.get(r.entry_id, r.raw))
                        if r.entry_id in exc.conflicts else r for r in rows]
                continue
            except StoreError as exc:
                self.report(str(exc))
                self.reload()
                return False
            for entry, raw in written.items():
                self.model.update_raw(entry, raw)
            self._update_actions()
            self._show_detail()
            self.written.emit()
            return True
        self.report("The cooldowns kept changing while you decided; nothing was written. "
                    "Try again when the service is idle.")
        return False

    # --- words (cooldown_logic) ------------------------------------------------------------

    def describe(self, changes: list[CooldownChange], now: datetime) -> str:
        """The confirmation text: one sentence per entry, in local time."""
        return change_words(changes, now, self.model.name)

    def describe_conflict(self, changes: list[CooldownChange], exc: OverrideConflict) -> str:
        """What the service changed meanwhile, in words; nothing was written."""
        return conflict_words(changes, exc, local_now(), self.model.name)
