"""The Usage tab's control bar: range (a preset or From/To days), bar length, chart mode,
the entry shown alone, Fit and Export.

The combos say what they choose ("Last 30 days", "Week bars", "Stacked"): only the dates
need words, which keeps the tab narrow enough for a small window. A chosen range is read
at once (`rangeChosen`); edited days wait until the typing pauses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFontMetrics, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QMenu,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QToolButton,
    QWidget,
)

from shepherd_store.usage import MAX_RANGE_DAYS, Bucket, DayRange, Preset, preset_range

from .usage_bars import Mode
from .usage_summary import swatch
from .widgets import plain_tip, set_control

RANGES: tuple[tuple[str, Preset | None], ...] = (
    ("Last 7 days", Preset.WEEK), ("Last 30 days", Preset.MONTH),
    ("Last 90 days", Preset.QUARTER), ("Last year", Preset.YEAR),
    ("Everything", Preset.ALL), ("Custom", None))
BUCKETS: tuple[tuple[str, Bucket | None], ...] = (
    ("Auto bars", None), ("Day bars", Bucket.DAY), ("Week bars", Bucket.WEEK),
    ("Month bars", Bucket.MONTH))
MODES: tuple[tuple[str, Mode], ...] = (
    ("Stacked", Mode.STACKED), ("Side by side", Mode.SIDE_BY_SIDE), ("One entry", Mode.SINGLE))
ENTRY_COMBO_MAX = 320  # px; the "One entry" box elides longer labels (the list has them whole)
CUSTOM_DELAY_MS = 300  # edited From/To days are read once the typing pauses this long


def elide_entry(metrics: QFontMetrics, text: str, entry: str, width: int) -> str:
    """`text` ("Label (id)") in `width` pixels: the label shortened and the id kept while the
    id takes at most half the room, else shortened at the end."""
    if metrics.horizontalAdvance(text) <= width:
        return text
    suffix = f" ({entry})"
    suffix_w = metrics.horizontalAdvance(suffix)
    if entry and text.endswith(suffix) and suffix_w <= width / 2:
        label = text[:-len(suffix)]
        return metrics.elidedText(label, Qt.TextElideMode.ElideRight, width - suffix_w) + suffix
    return metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)


class EntryCombo(QComboBox):
    """The "One entry" choice: the list shows every entry whole ("Label (id)"); the box is
    as wide as its longest entry up to `ENTRY_COMBO_MAX` and, when the chosen one is
    longer, shortens its label and keeps the id ("Sudoku for Kids W… (sudoku)"); its
    tooltip has it whole."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: list[tuple[str, str, str]] = []  # (text, entry, colour)

    def set_entries(self, wanted: list[tuple[str, str, str]]) -> None:
        """The list: (text, entry, colour) each, in its colour; the choice is kept."""
        if wanted == self._items:
            return
        self._items = wanted
        current = self.currentData()
        self.blockSignals(True)
        self.clear()
        for text, entry, color in wanted:
            self.add_entry(text, entry, color)
        index = self.findData(current)
        self.setCurrentIndex(max(index, 0))
        self.blockSignals(False)

    def add_entry(self, text: str, entry: str, color: str) -> None:
        """One more entry at the end of the list."""
        self.addItem(swatch(color), text, entry)
        self.setItemData(self.count() - 1, plain_tip(text), Qt.ItemDataRole.ToolTipRole)
        # the list opens as wide as its longest entry, even when the box is narrower
        view = self.view()
        view.setMinimumWidth(min(view.sizeHintForColumn(0) + 24, 4 * ENTRY_COMBO_MAX))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QStylePainter(self)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, opt)
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        room = field.width() - 2  # as the style draws it: 1 px each side, after the icon
        if not opt.currentIcon.isNull():  # type: ignore[attr-defined]
            room -= opt.iconSize.width() + 4  # type: ignore[attr-defined]
        opt.currentText = elide_entry(  # type: ignore[attr-defined]
            self.fontMetrics(), opt.currentText,  # type: ignore[attr-defined]
            str(self.currentData() or ""), max(room, 20))
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)


class ControlBar(QHBoxLayout):
    """The row of controls above the chart (its widgets are the tab's children).

    `exports` are the Export menu's (text, objectName, slot) actions; `today` gives the
    day a preset range ends on.
    """

    #: A range was chosen (a preset, or edited days after a pause): read it.
    rangeChosen = Signal()

    def __init__(self, parent: QWidget, today: Callable[[], date],
                 exports: Sequence[tuple[str, str, Callable[[], None]]]) -> None:
        super().__init__()
        self._today = today
        self.range_combo = QComboBox(parent)
        for text, preset in RANGES:
            self.range_combo.addItem(text, preset)
        self.range_combo.setCurrentIndex(1)
        set_control(self.range_combo, "usageRange", "Which days to show, ending today",
                 "Date range")
        self.from_edit = QDateEdit(parent)
        self.to_edit = QDateEdit(parent)
        for edit, name, tip, acc in (
                (self.from_edit, "usageFrom", "First day of a custom range", "From day"),
                (self.to_edit, "usageTo", "Last day of a custom range", "To day")):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setDateRange(QDate(1, 1, 1), QDate(9999, 12, 31))
            set_control(edit, name, tip, acc)
        self.bucket_combo = QComboBox(parent)
        for text, bucket in BUCKETS:
            self.bucket_combo.addItem(text, bucket)
        set_control(self.bucket_combo, "usageBucket",
                 "One bar per day, week (Monday to Sunday) or month; Auto picks by the "
                 "range's length", "Bar length")
        self.mode_combo = QComboBox(parent)
        for text, mode in MODES:
            self.mode_combo.addItem(text, mode)
        set_control(self.mode_combo, "usageMode",
                 "Stack entries, put them side by side, or show one entry alone", "Chart mode")
        self.entry_combo = EntryCombo(parent)
        self.entry_combo.setMinimumContentsLength(10)
        self.entry_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.entry_combo.setMaximumWidth(ENTRY_COMBO_MAX)
        set_control(self.entry_combo, "usageEntry", "The entry shown in “One entry” mode",
                 "Entry shown alone")
        self.entry_combo.setEnabled(False)
        self.fit_button = QToolButton(parent)
        self.fit_button.setText("Fit")
        set_control(self.fit_button, "usageFit",
                 "Show the whole range again (drag to pan, scroll to zoom)", "Fit chart")
        self.export_button = QToolButton(parent)
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        set_control(self.export_button, "usageExport",
                 "Save the chart as PNG or SVG, or its data as CSV", "Export")
        menu = QMenu(self.export_button)
        for text, name, slot in exports:
            action = QAction(text, menu)
            action.setObjectName(name)
            action.triggered.connect(slot)
            menu.addAction(action)
        self.export_button.setMenu(menu)

        self.setSpacing(6)
        self.addWidget(self.range_combo)
        for label_text, widget in (("from", self.from_edit), ("to", self.to_edit)):
            label = QLabel(label_text, parent)
            label.setBuddy(widget)
            self.addWidget(label)
            self.addWidget(widget)
        self.addSpacing(8)
        self.addWidget(self.bucket_combo)
        self.addWidget(self.mode_combo)
        self.addWidget(self.entry_combo)
        self.addStretch(1)
        self.addWidget(self.fit_button)
        self.addWidget(self.export_button)

        self._custom_timer = QTimer(self)
        self._custom_timer.setSingleShot(True)
        self._custom_timer.setInterval(CUSTOM_DELAY_MS)
        self._custom_timer.timeout.connect(self.rangeChosen)
        self.range_combo.currentIndexChanged.connect(self._on_range_chosen)
        self.from_edit.dateChanged.connect(self._on_custom_dates)
        self.to_edit.dateChanged.connect(self._on_custom_dates)
        self.show_dates(preset_range(Preset.MONTH, today()))

    @property
    def preset(self) -> Preset | None:
        """The chosen preset, or None for a custom range."""
        value = self.range_combo.currentData()
        return Preset(value) if value is not None else None

    def custom_range(self) -> DayRange:
        """The days of the From/To fields (capped to `MAX_RANGE_DAYS`)."""
        rng = DayRange.from_dates(self.from_edit.date().toPython(),  # type: ignore[arg-type]
                                  self.to_edit.date().toPython())  # type: ignore[arg-type]
        if rng.days > MAX_RANGE_DAYS:
            rng = DayRange(rng.last - MAX_RANGE_DAYS + 1, rng.last)
        return rng

    def show_dates(self, rng: DayRange) -> None:
        """Show `rng` in the From/To fields (without reading it)."""
        for edit, day in ((self.from_edit, rng.start), (self.to_edit, rng.end)):
            edit.blockSignals(True)
            edit.setDate(QDate(day.year, day.month, day.day))
            edit.blockSignals(False)

    def set_range(self, preset: Preset | None, custom: DayRange | None = None) -> None:
        """Choose a preset, or a custom range (`rangeChosen` at once)."""
        if custom is not None:
            self.show_dates(custom)
        index = next(i for i, (_t, p) in enumerate(RANGES) if p == preset)
        if index == self.range_combo.currentIndex():
            self.rangeChosen.emit()
        else:
            self.range_combo.setCurrentIndex(index)

    def _on_range_chosen(self, _index: int) -> None:
        preset = self.preset
        if preset is not None and preset is not Preset.ALL:
            self.show_dates(preset_range(preset, self._today()))
        self.rangeChosen.emit()

    def _on_custom_dates(self, *_args: object) -> None:
        if self.preset is not None:
            self.range_combo.blockSignals(True)
            self.range_combo.setCurrentIndex(len(RANGES) - 1)
            self.range_combo.blockSignals(False)
        self._custom_timer.start()
