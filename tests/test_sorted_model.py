"""SortedRowsModel: rows sorted by plain keys, ties by name, selection kept across updates."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from inspector.sorted_model import Index, SortedRowsModel

Row = tuple[str, int]  # (id, value)


class Model(SortedRowsModel):
    def __init__(self) -> None:
        super().__init__(("Name", "Value"), ("The name", "The value"))

    def row_id(self, row: Row) -> str:
        return row[0]

    def sort_key(self, row: Row, column: int) -> Any:
        return row[0] if column == 0 else row[1]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole or not index.isValid():
            return None
        return str(self.rows[index.row()][index.column()])


def ids(model: Model) -> list[str]:
    return [r[0] for r in model.rows]


def test_sorts_by_the_column_with_ties_by_name_either_way(qapp: Any) -> None:
    model = Model()
    assert model.set_rows([("c", 1), ("a", 2), ("b", 1), ("d", 2)])  # a reset
    assert ids(model) == ["a", "b", "c", "d"]
    model.sort(1, Qt.SortOrder.AscendingOrder)
    assert ids(model) == ["b", "c", "a", "d"]
    model.sort(1, Qt.SortOrder.DescendingOrder)
    assert ids(model) == ["a", "d", "b", "c"]  # ties stay A first
    model.sort(0, Qt.SortOrder.DescendingOrder)
    assert ids(model) == ["d", "c", "b", "a"]
    assert model.row_of("b") == 2 and model.row_of("zz") is None
    assert model.headerData(1, Qt.Orientation.Horizontal) == "Value"
    assert model.headerData(1, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) == \
        "The value"
    assert model.headerData(5, Qt.Orientation.Horizontal) is None
    assert model.rowCount() == 4 and model.columnCount() == 2
    assert model.rowCount(model.index(0, 0)) == 0  # a table: no children


def test_new_values_for_the_same_rows_move_persistent_indexes(qapp: Any) -> None:
    model = Model()
    model.set_rows([("a", 1), ("b", 2), ("c", 3)])
    model.sort(1, Qt.SortOrder.DescendingOrder)
    held = QPersistentModelIndex(model.index(model.row_of("a") or 0, 1))
    assert held.row() == 2
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda tl, br, _roles: changed.append((tl.row(), br.row())))
    assert not model.set_rows([("a", 9), ("b", 2), ("c", 3)])  # the same ids: no reset
    assert ids(model) == ["a", "c", "b"]
    assert held.row() == 0 and held.column() == 1  # moved with its row
    assert not resets and changed == [(0, 0)]  # only the row that changed is repainted
    assert not model.set_rows([("a", 9), ("b", 2), ("c", 3)])  # nothing new: no signal
    assert changed == [(0, 0)]
    assert model.set_rows([("a", 9), ("x", 1)])  # other ids: a reset
    assert resets == [True] and ids(model) == ["a", "x"]


def test_replace_row_repaints_one_row_without_moving_it(qapp: Any) -> None:
    model = Model()
    model.set_rows([("a", 1), ("b", 2)])
    changed: list[int] = []
    model.dataChanged.connect(lambda tl, _br, _roles: changed.append(tl.row()))
    model.replace_row(("a", 5))
    assert model.rows[0] == ("a", 5) and changed == [0]
    model.replace_row(("zz", 1))  # unknown: ignored
    assert len(model.rows) == 2 and changed == [0]
    model.resort()
    assert model.index(0, 0).data() == "a"
    assert model.data(QModelIndex()) is None
