"""The Usage tab's summary table: one row per entry, sorted by the model itself.

A `QStandardItemModel` behind a sorting proxy took 0.4 ms per entry to fill: 5,000 entries
froze the window for 1.8 s. This model keeps the rows (`SummaryRow`: the entry's
`EntrySummary` and its week against last week) as they are, formats a row's texts only
when a view asks for it, and sorts by plain values (`SortedRowsModel`). Every figure has
its unit: durations as `format_duration` writes them everywhere, days as "N days".
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from PySide6.QtCore import QObject, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from shepherd_store.timefmt import format_day
from shepherd_store.usage_compare import format_change

from .formatting import entry_display, format_duration
from .sorted_model import Index, SortedRowsModel
from .usage_data import SummaryRow
from .usage_limits import paint_average_symbol, paint_over_symbol
from .widgets import plain_tip

COLUMNS = ("Entry", "Total", "Avg / day", "Busiest day", "Days used", "Today",
           "This week", "Last week", "Change", "Daily limit", "Limit reached")
COLUMN_TIPS = ("The entry, as the policy file or the audit log names it",
               "Usage over the whole range", "Total divided by the days of the range",
               "The day with the most usage, and how much", "Days with any usage",
               "Usage today",
               "Usage this week so far (Monday to today)",
               "Usage on the same days of last week (Monday to the same weekday)",
               "This week against the same days of last week",
               "The daily limit of the policy file",
               "Days in the range on which the daily limit was reached")
WEEK_COLUMNS = (6, 7, 8)
LIMIT_COLUMNS = (9, 10)
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 2


#: The value each column sorts by (cheap: sorting never formats text); 0 is by name.
_SORT_KEYS: tuple[Callable[[SummaryRow], Any], ...] = (
    lambda r: 0,
    lambda r: r.summary.total_seconds,
    lambda r: r.summary.average_seconds,
    lambda r: r.summary.busiest_seconds,
    lambda r: r.summary.days_used,
    lambda r: r.summary.today_seconds,
    lambda r: r.week.this_week,
    lambda r: r.week.last_week,
    lambda r: r.week.change,
    lambda r: r.summary.quota_seconds or 0,
    lambda r: r.summary.quota_days,
)
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def days_text(days: int) -> str:
    """`1 day`, `12 days`."""
    return f"{days} day{'s' if days != 1 else ''}"


@lru_cache(maxsize=64)
def swatch(color: str, size: int = 12) -> QIcon:
    """A square icon of one colour (legend, entry list and table)."""
    pix = QPixmap(size, size)
    pix.fill(QColor(color))
    return QIcon(pix)


def symbol_icon(kind: str, fg: QColor, size: int = 12) -> QIcon:
    """The legend's icon for "over the daily limit" (`over`) or the average line."""
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    try:
        rect = QRectF(0, 0, size, size)
        if kind == "over":
            paint_over_symbol(painter, rect, dark=fg.lightness() >= 128)
        else:
            paint_average_symbol(painter, rect, fg)
    finally:
        painter.end()
    return QIcon(pix)


class SummaryModel(SortedRowsModel):
    """Rows of `SummaryRow`, most usage first until the header chooses otherwise."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(COLUMNS, COLUMN_TIPS, column=1, order=Qt.SortOrder.DescendingOrder,
                         parent=parent)
        self.labels: dict[str, str] = {}
        self.colors: dict[str, str] = {}
        self._texts: dict[str, list[str]] = {}
        #: The entries whose figures the last `set_summaries` changed.
        self.changed_ids: list[str] = []
        #: The weekdays the week columns compare ("Mon–Wed"), for their tooltips.
        self.weekdays = ""

    def set_summaries(self, rows: list[SummaryRow], labels: dict[str, str],
                      colors: dict[str, str]) -> bool:
        """New figures, labels and colours; True when the views were reset (`set_rows`)."""
        self.changed_ids = []
        if (labels, colors) == (self.labels, self.colors):
            return self.set_rows(rows)
        self.labels, self.colors = dict(labels), dict(colors)
        self._texts = {}
        if self.set_rows(rows):
            return True
        self.resort()  # names sort the first column and break ties
        self.changed_all()
        return False

    def rows_changed(self, ids: list[str] | None) -> None:
        self.changed_ids = list(ids) if ids is not None else [r.entry_id for r in self.rows]
        if ids is None:
            self._texts = {}
        else:
            for entry in ids:
                self._texts.pop(entry, None)

    def texts(self, entry: str) -> list[str]:
        """The cell texts of `entry`'s row (empty when it has none)."""
        row = self.row_of(entry)
        return list(self._row_texts(self.rows[row])) if row is not None else []

    def week_tip(self, row: SummaryRow) -> str:
        """This week against last week in one sentence (the week columns' tooltip)."""
        week = row.week
        days = f" ({self.weekdays})" if self.weekdays else ""
        if week.change > 0:
            verdict = f"{format_duration(week.change)} more than last week"
        elif week.change < 0:
            verdict = f"{format_duration(-week.change)} less than last week"
        else:
            verdict = "the same as last week"
        return plain_tip(f"{self.name(row.entry_id)}{days}: this week "
                         f"{format_duration(week.this_week)}, the same days last week "
                         f"{format_duration(week.last_week)}: {verdict}")

    def name(self, entry: str) -> str:
        """The entry as people call it (its label, else its id)."""
        return self.labels.get(entry) or entry

    def _row_texts(self, row: SummaryRow) -> list[str]:
        texts = self._texts.get(row.entry_id)
        if texts is None:
            r, week = row.summary, row.week
            busiest = ("—" if r.busiest_day is None else
                       f"{format_day(r.busiest_day)} ({format_duration(r.busiest_seconds)})")
            texts = self._texts[r.entry_id] = [
                self.name(r.entry_id),
                format_duration(r.total_seconds),
                format_duration(round(r.average_seconds)),
                busiest,
                days_text(r.days_used),
                format_duration(r.today_seconds),
                format_duration(week.this_week),
                format_duration(week.last_week),
                format_change(week.change) if week.this_week or week.last_week else "—",
                "none" if r.quota_seconds is None else format_duration(r.quota_seconds),
                days_text(r.quota_days) if r.quota_seconds else "—",
            ]
        return texts

    # --- SortedRowsModel ---------------------------------------------------------------

    def row_id(self, row: SummaryRow) -> str:
        return row.entry_id

    def tie_key(self, row: SummaryRow) -> tuple[str, str]:
        return self.name(row.entry_id).casefold(), row.entry_id

    def sort_key(self, row: SummaryRow, column: int) -> Any:
        return self.tie_key(row) if column == 0 else _SORT_KEYS[column](row)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        r, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._row_texts(r)[col]
        if role == ENTRY_ROLE:
            return r.entry_id
        if role == Qt.ItemDataRole.TextAlignmentRole and col:
            return _RIGHT
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            return swatch(self.colors.get(r.entry_id, "#7F7F7F"))
        if role == Qt.ItemDataRole.ToolTipRole and col == 0:
            return plain_tip(entry_display(r.entry_id, self.labels))
        if role == Qt.ItemDataRole.ToolTipRole and col in (6, 7, 8):
            return self.week_tip(r)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{COLUMNS[col]}: {self._row_texts(r)[col]}"
        return None
