"""The Cooldowns tab's table: every entry's cooldown, sorted, with a live countdown.

`tick(now)` repaints only the countdown and status cells, with no database reads; rows move
only when a cooldown ends while the table is sorted by status (see `SortedRowsModel` for why
the model sorts itself).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QBrush, QColor

from shepherd_store.policy import Policy
from shepherd_store.timefmt import local_now

from .cooldown_logic import CooldownRow, countdown
from .formatting import clip, entry_display, format_duration, format_local
from .sorted_model import SortedRowsModel
from .table_models import Index
from .widgets import plain_tip

COLUMNS = ("Entry", "Cooldown until", "Time remaining", "Status", "Configured cooldown")
COL_ENTRY, COL_UNTIL, COL_REMAINING, COL_STATUS, COL_CONFIGURED = range(len(COLUMNS))
EntryRole = Qt.ItemDataRole.UserRole + 1
_STATUS_COLORS = {"active": "#B71C1C", "expired": "#616161", "none": "#616161",
                  "unreadable": "#E65100"}


class CooldownModel(SortedRowsModel):
    """Rows of `CooldownRow`; `tick(now)` repaints the live columns without any reads."""

    def __init__(self, parent: QObject | None = None, *,
                 clock: Callable[[], datetime] = local_now) -> None:
        super().__init__(COLUMNS, column=COL_ENTRY, parent=parent)
        self.labels: dict[str, str] = {}
        self.policy: Policy | None = None
        self.clock = clock  # the tab's: what `now` is when new rows arrive
        self.now = clock()
        self._next_change: datetime | None = None  # the next active cooldown to end

    def set_rows(self, rows: list[CooldownRow]) -> bool:
        self.now = self.clock()
        reset = super().set_rows(rows)
        self._next_change = self._next_expiry()
        return reset

    def set_context(self, labels: dict[str, str], policy: Policy | None) -> None:
        if (labels, policy) == (self.labels, self.policy):
            return  # this follows every commit of the service: nothing to repaint
        self.labels, self.policy = labels, policy
        if self.sort_column in (COL_ENTRY, COL_CONFIGURED):
            self.resort()
        self.changed_all()

    def tick(self, now: datetime) -> None:
        """Move the clock: only the countdown and status cells are repainted.

        Rows move only when a cooldown ends while the table is sorted by status.
        """
        self.now = now
        if self._next_change is not None and now >= self._next_change:
            self._next_change = self._next_expiry()
            if self.sort_column == COL_STATUS:
                self.resort()
        self.changed_all(COL_REMAINING, COL_STATUS,
                         [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole,
                          Qt.ItemDataRole.ToolTipRole])

    def _next_expiry(self) -> datetime | None:
        ends = [u for r in self.rows if (u := r.until) is not None and u > self.now]
        return min(ends, default=None)

    def update_raw(self, entry_id: str, raw: str | None) -> None:
        """Show a value learned from a write or a conflict before the next reload."""
        self.replace_row(CooldownRow(entry_id, raw))

    def name(self, entry_id: str) -> str:
        """The entry as people call it (its label, else its id)."""
        return self.labels.get(entry_id) or entry_id

    def configured(self, entry_id: str) -> int | str | None:
        """The policy's cooldown in seconds, None for none, "" when unknown."""
        if self.policy is None or entry_id not in self.policy.entries:
            return ""
        return self.policy.entries[entry_id].cooldown_seconds

    # --- SortedRowsModel ---------------------------------------------------------------

    def row_id(self, row: CooldownRow) -> str:
        return row.entry_id

    def tie_key(self, row: CooldownRow) -> tuple[str, str]:
        return self.name(row.entry_id).casefold(), row.entry_id

    def data(self, index: Index,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index)
        if row is None:
            return None
        col = index.column()
        if role == EntryRole:
            return row.entry_id
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tip(self._tooltip(row, col))
        if role == Qt.ItemDataRole.ForegroundRole and col in (COL_STATUS, COL_REMAINING):
            return QBrush(QColor(_STATUS_COLORS[row.status(self.now)]))
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{COLUMNS[col]}: {self._display(row, col)}"
        return None

    def _display(self, row: CooldownRow, col: int) -> str:
        until, status = row.until, row.status(self.now)
        if col == COL_ENTRY:
            return clip(entry_display(row.entry_id, self.labels), 200)
        if col == COL_UNTIL:
            if status == "unreadable":
                return clip(f"unreadable: {row.raw}", 80)
            return format_local(until) if until is not None else "—"
        if col == COL_REMAINING:
            return countdown(until - self.now) if until is not None and status == "active" \
                else "—"
        if col == COL_STATUS:
            return status
        configured = self.configured(row.entry_id)
        if configured == "":
            return "—"
        return format_duration(configured) if isinstance(configured, int) else "none"

    def sort_key(self, row: CooldownRow, col: int) -> Any:
        if col == COL_ENTRY:
            return self.tie_key(row)
        if col in (COL_UNTIL, COL_REMAINING):
            until = row.until
            return until.timestamp() if until is not None else float("-inf")
        if col == COL_STATUS:
            return ("active", "unreadable", "expired", "none").index(row.status(self.now))
        configured = self.configured(row.entry_id)
        return configured if isinstance(configured, int) else -1

    def _tooltip(self, row: CooldownRow, col: int) -> str:
        stored = f"Stored value: {row.raw}" if row.raw is not None else "No cooldown row stored"
        if col == COL_STATUS and row.status(self.now) == "unreadable":
            return (f"{stored}\nThe service cannot read this value and treats it as no "
                    "cooldown. Clear it or set a new time.")
        if col == COL_STATUS and row.status(self.now) == "expired" and row.until is not None:
            return f"Expired {format_duration(self.now - row.until)} ago.\n{stored}"
        if col == COL_CONFIGURED:
            if self.policy is None:
                return "Open the policy file (--config) to see each entry's cooldown length."
            if row.entry_id not in self.policy.entries:
                return f"{row.entry_id} is not in the policy file {self.policy.path}."
            return f"Cooldown length after each session, from {self.policy.path}."
        return f"{entry_display(row.entry_id, self.labels)}\n{stored}"
