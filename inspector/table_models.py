"""The base of the window's read-only tables, and the severity marks of their findings.

Each of these tables is a sequence of rows under a tuple of column titles (with optional
header tooltips): Qt asks every such model the same questions (how many rows and columns,
what the header says), so `ColumnsModel` answers them once and a subclass says only what
a cell shows (`data`) and how its rows arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

Index = QModelIndex | QPersistentModelIndex
RowT = TypeVar("RowT")

#: How a finding's severity is shown, in words and colour (the snapshot's diagnosis and
#: the Recovery tab's findings).
SEVERITY_TEXT = {"problem": "✖ problem", "warning": "▲ warning", "info": "● info"}
SEVERITY_COLORS = {"problem": "#B71C1C", "warning": "#E65100", "info": "#1565C0"}


class ColumnsModel(QAbstractTableModel, Generic[RowT]):
    """Rows under named columns (flat: no row has children); subclasses implement `data`."""

    def __init__(self, columns: tuple[str, ...], tips: tuple[str, ...] = (),
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.columns = columns
        self.tips = tips
        self.rows: Sequence[RowT] = ()

    def reset_rows(self, rows: Sequence[RowT]) -> None:
        """Show `rows` instead of the present ones (the views start again: a reset)."""
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def row_at(self, index: Index) -> RowT | None:
        """The row `index` points at; None for an invalid index or one past the rows."""
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        return self.rows[index.row()]

    # --- Qt model interface ------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section]
        if role == Qt.ItemDataRole.ToolTipRole and section < len(self.tips):
            return self.tips[section]
        return None
