"""The Usage chart's legend: one checkable, coloured item per drawn entry, "Other (N
entries)" when some are summed, then what the chart's marks mean ("over the daily limit",
the average line). Unchecking an entry hides it (`hiddenChanged`).

Items are kept and updated in place, so live changes never reset what the user unchecked.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from .formatting import entry_display
from .usage_summary import ENTRY_ROLE, swatch, symbol_icon
from .usage_view_state import OTHER_COLOR
from .widgets import plain_tip, set_control

LEGEND_EXTRA_ROLE = Qt.ItemDataRole.UserRole + 3  # legend rows that are not entries


class Legend(QListWidget):
    """The legend: one checkable, coloured item per entry, wrapped into rows.

    As tall as its rows need, up to four (then it scrolls), recomputed whenever its width
    changes, so it neither wastes the chart's room nor hides entries.
    """

    MAX_ROWS = 4

    #: The user checked or unchecked an entry (or "Other"): see `hidden`.
    hiddenChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        set_control(self, "usageLegend",
                 "Entries in the chart: uncheck one to hide it, check it to show it again",
                 "Legend")
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSpacing(2)
        self.setIconSize(QSize(16, 16))
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFrameShape(QListWidget.Shape.NoFrame)
        #: The entries not to draw (None: the "Other" layer).
        self.hidden: set[str | None] = set()
        self._items: dict[str, QListWidgetItem] = {}
        self._other_item: QListWidgetItem | None = None
        self._extra_items: dict[str, QListWidgetItem] = {}  # "over", "average"
        self.itemChanged.connect(self._on_item_changed)

    def set_entries(self, entries: list[str], others: int, other_label: str,
                    labels: dict[str, str], colors: Mapping[str, str]) -> None:
        """One item per drawn entry, by id, then "Other (N entries)" (`other_label`) when
        `others` entries are summed."""
        self.blockSignals(True)
        keep = set(entries)
        for entry in list(self._items):
            if entry not in keep:
                item = self._items.pop(entry)
                self.takeItem(self.row(item))
        if others and self._other_item is None:
            self._other_item = QListWidgetItem(swatch(OTHER_COLOR), "")
            self._other_item.setFlags(Qt.ItemFlag.ItemIsEnabled
                                      | Qt.ItemFlag.ItemIsUserCheckable)
            self._other_item.setCheckState(Qt.CheckState.Checked)
            # after the entries, before "over the daily limit" and the average
            self.insertItem(self.count() - len(self._extra_items), self._other_item)
        elif not others and self._other_item is not None:
            self.takeItem(self.row(self._other_item))
            self._other_item = None
        if self._other_item is not None:
            self._other_item.setText(other_label)
            self._other_item.setToolTip(
                f"The {others} entries beyond the {len(entries)} with the most usage, "
                "summed. Select one in the table and choose “One entry” to see it alone.")
            state = Qt.CheckState.Unchecked if None in self.hidden else Qt.CheckState.Checked
            if self._other_item.checkState() != state:
                self._other_item.setCheckState(state)
        for entry in entries:
            found = self._items.get(entry)
            if found is None:
                item = QListWidgetItem()
                item.setData(ENTRY_ROLE, entry)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                self._items[entry] = item
                self.insertItem(sorted(self._items).index(entry), item)
            else:
                item = found
            name, color = labels.get(entry) or entry, colors.get(entry, "#7F7F7F")
            if item.text() != name:
                item.setText(name)
                item.setToolTip(plain_tip(entry_display(entry, labels)))
            if item.data(Qt.ItemDataRole.UserRole) != color:
                item.setData(Qt.ItemDataRole.UserRole, color)
                item.setIcon(swatch(color))
            state = Qt.CheckState.Unchecked if entry in self.hidden else Qt.CheckState.Checked
            if item.checkState() != state:
                item.setCheckState(state)
        self.blockSignals(False)

    def set_extras(self, texts: Mapping[str, str], fg: QColor) -> None:
        """The legend's last rows: "over the daily limit" and the average line with its
        figure, each when `texts` has it (by kind: "over", "average"); `fg` draws their
        symbols."""
        self.blockSignals(True)
        for kind in ("over", "average"):
            item = self._extra_items.get(kind)
            text = texts.get(kind)
            if text is None:
                if item is not None:
                    self.takeItem(self.row(item))
                    del self._extra_items[kind]
                continue
            if item is None:
                item = QListWidgetItem(symbol_icon(kind, fg, 16), text)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                item.setData(LEGEND_EXTRA_ROLE, kind)
                item.setToolTip(
                    "The part of an entry's bar beyond its daily limit is hatched; the "
                    "thick tick in the entry's colour is its limit, drawn on the bars on "
                    "which it was reached." if kind == "over" else
                    "The dashed line: the average per day over the whole range of what the "
                    "chart stacks (days without usage count); a week or month bar shows "
                    "it for its number of days. Not drawn side by side.")
                row = self.count()
                if kind == "over" and "average" in self._extra_items:
                    row = self.row(self._extra_items["average"])
                self.insertItem(row, item)
                self._extra_items[kind] = item
            elif item.text() != text:
                item.setText(text)
        self.blockSignals(False)
        self.fit_height()

    def set_entry_visible(self, entry: str, visible: bool) -> None:
        """Show or hide one entry (what its check box does)."""
        item = self._items.get(entry)
        if item is not None:
            item.setCheckState(Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked)

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if item.data(LEGEND_EXTRA_ROLE) is not None:
            return  # "over the daily limit" and the average explain; they do not hide
        entry = item.data(ENTRY_ROLE)  # None for the "Other" item
        if item.checkState() == Qt.CheckState.Checked:
            self.hidden.discard(entry)
        else:
            self.hidden.add(entry)
        self.hiddenChanged.emit()

    def fit_height(self) -> None:
        """Set the height the wrapped rows need at the current width."""
        count = self.count()
        if not count:
            self.setFixedHeight(0)
            return
        gap = 2 * self.spacing()
        row_h = max(self.sizeHintForRow(0), 16) + gap
        width = max(1, self.width() - 2 * self.frameWidth() - 4)
        used, rows = 0, 1
        for i in range(count):
            w = self.sizeHintForIndex(self.model().index(i, 0)).width() + gap
            if used + w > width and used:
                rows, used = rows + 1, 0
            used += w
        height = min(rows, self.MAX_ROWS) * row_h + 2 * self.frameWidth() + 4
        if self.height() != height:
            self.setFixedHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.fit_height()
