"""A table model that keeps its rows sorted itself, for tables of thousands of entries.

A `QSortFilterProxyModel` compares rows by asking Python for both cells of every
comparison, again after every `dataChanged`: with 50,000 entries the Cooldowns tab froze
for 9 s on open and again on every one-second tick, and a `QStandardItemModel` took 0.4 ms
per row just to fill. Here a subclass gives each row an id and a sort key per column; the
model sorts with `sorted()` (50,000 rows in tens of milliseconds), re-sorts only when
asked, and moves the view's selection along through persistent indexes.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt

from .table_models import ColumnsModel, Index

__all__ = ["Index", "SortedRowsModel"]


class SortedRowsModel(ColumnsModel[Any]):
    """Rows (any objects) in the order of one column; subclasses say how to show them.

    Subclasses implement `row_id` (unique per row), `sort_key` and `data`; `tie_key` orders
    rows that sort equal (by default their ids), and is the sort key of `tie_column`.
    """

    tie_column = 0

    def __init__(self, columns: tuple[str, ...], tips: tuple[str, ...] = (), *,
                 column: int = 0, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder,
                 parent: QObject | None = None) -> None:
        super().__init__(columns, tips, parent)
        self.rows: list[Any] = []
        self._where: dict[str, int] = {}
        self.sort_column = column
        self.sort_order = order

    # --- for subclasses ----------------------------------------------------------------

    def row_id(self, row: Any) -> str:
        """The row's unique id (an entry id)."""
        raise NotImplementedError

    def sort_key(self, row: Any, column: int) -> Any:
        """What `column` sorts `row` by (cheap: called for every row on each sort)."""
        raise NotImplementedError

    def tie_key(self, row: Any) -> Any:
        """How rows that sort equal are ordered (A first, whichever way the column runs)."""
        return self.row_id(row)

    # --- content -----------------------------------------------------------------------

    def set_rows(self, rows: list[Any]) -> bool:
        """New rows. The same ids: only rows that differ are repainted, and rows move only
        if the order changed, so views keep their selection, scroll position and column
        widths. Other ids reset the views: returns True then."""
        ids = [self.row_id(r) for r in rows]
        if len(ids) == len(self._where) and self._where.keys() >= set(ids):
            before = self.rows
            changed = [r for r in rows if before[self._where[self.row_id(r)]] != r]
            if not changed:
                return False
            self.rows_changed([self.row_id(r) for r in changed])
            ordered = self._sorted(rows)
            if [self.row_id(r) for r in ordered] == [self.row_id(r) for r in before]:
                self.rows = ordered
            else:
                self._resort(ordered)
            places = [self._where[self.row_id(r)] for r in changed]
            self.changed_all(first_row=min(places), last_row=max(places))
            return False
        self.rows_changed(None)
        self.beginResetModel()
        self.rows = self._sorted(rows)
        self._where = {self.row_id(r): i for i, r in enumerate(self.rows)}
        self.endResetModel()
        return True

    def rows_changed(self, ids: list[str] | None) -> None:
        """Rows with these ids (None: all) are about to change: drop what was cached."""

    def replace_row(self, row: Any) -> None:
        """Swap in a new version of one row (same id) without re-sorting."""
        i = self._where.get(self.row_id(row))
        if i is not None:
            self.rows[i] = row
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(self.columns) - 1))

    def changed_all(self, first: int = 0, last: int | None = None,
                    roles: list[int] | None = None, *, first_row: int = 0,
                    last_row: int | None = None) -> None:
        """Tell the views the cells of columns `first` to `last` changed (in every row, or
        in rows `first_row` to `last_row`)."""
        if self.rows:
            last = len(self.columns) - 1 if last is None else last
            last_row = len(self.rows) - 1 if last_row is None else last_row
            self.dataChanged.emit(self.index(first_row, first), self.index(last_row, last),
                                  roles or [])

    def row_of(self, row_id: str) -> int | None:
        """The row number of `row_id`, if it has a row."""
        return self._where.get(row_id)

    # --- sorting -----------------------------------------------------------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sort_column, self.sort_order = column, order
        self.resort()

    def resort(self) -> None:
        """Put the rows in order again (after their sort keys changed)."""
        self._resort(self.rows)

    def _sorted(self, rows: list[Any]) -> list[Any]:
        column = self.sort_column
        reverse = self.sort_order == Qt.SortOrder.DescendingOrder
        if column == self.tie_column:  # one sort does: the column is the tie key
            return sorted(rows, key=self.tie_key, reverse=reverse)
        by_tie = sorted(rows, key=self.tie_key)
        return sorted(by_tie, key=lambda r: self.sort_key(r, column), reverse=reverse)

    def _resort(self, rows: list[Any]) -> None:
        """Order `rows` (the same ids as now), moving persistent indexes with their rows."""
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        ids = [self.row_id(self.rows[i.row()]) if 0 <= i.row() < len(self.rows) else None
               for i in old]
        self.rows = self._sorted(rows)
        self._where = {self.row_id(r): i for i, r in enumerate(self.rows)}
        new = [self.index(self._where[r], i.column()) if r in self._where else QModelIndex()
               for r, i in zip(ids, old, strict=True)]
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()
