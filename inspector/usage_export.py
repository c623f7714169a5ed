"""The Usage tab's exports: the chart with a legend of what it draws as PNG or SVG, and the
data behind it as CSV (`shepherd_store.usage.csv_rows`).

The picture is the chart as on screen (drawn through its scene, so SVG stays vector) with
the legend's rows below it; labels are drawn with `drawText`, which never interprets markup.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator

from shepherd_store.timefmt import format_day
from shepherd_store.usage import DailyUsage, DayRange, csv_rows

from .usage_chart import UsageChart
from .usage_limits import paint_average_symbol, paint_over_symbol

#: (kind, swatch, text position, label, colour) of one row of the exported legend.
LegendRow = tuple[str, QRectF, QPointF, str, str]


def default_path(rng: DayRange, suffix: str) -> str:
    """Where the save dialog proposes to save an export of `rng`."""
    return str(Path.home() / f"shepherd-usage-{format_day(rng.start)}-"
                             f"{format_day(rng.end)}.{suffix}")


def legend_layout(font: QFont, rows: list[tuple[str, str, str]], width: float
                  ) -> tuple[list[LegendRow], float]:
    """Kind, swatch, text position, label and colour of each legend row (`rows`, from
    `UsageChart.legend_rows`) wrapped into `width`; and the height they take."""
    fm = QFontMetricsF(font)
    pad, row_h = 8.0, fm.height() + 6
    x, y = pad, pad
    out = []
    for kind, label, color in rows:
        text = fm.elidedText(label, Qt.TextElideMode.ElideRight,
                             max(60.0, min(280.0, width - 3 * pad - 18)))
        w = 12 + 6 + fm.horizontalAdvance(text) + 18
        if x + w > width - pad and x > pad:
            x, y = pad, y + row_h
        swatch = QRectF(x, y + (row_h - 12) / 2, 12, 12)
        out.append((kind, swatch,
                    QPointF(x + 18, y + (row_h + fm.ascent() - fm.descent()) / 2),
                    text, color))
        x += w
    return out, (y + row_h + pad if out else 0.0)


def export_size(chart: UsageChart) -> QSize:
    """Size of the exported picture: the chart as on screen plus its legend rows."""
    _rows, legend_h = legend_layout(chart.font(), chart.legend_rows(), chart.width())
    return QSize(chart.width(), chart.height() + round(legend_h))


def paint_export(chart: UsageChart, painter: QPainter) -> None:
    """Draw the chart (vector, via the scene) and its legend (entries, limit, average)."""
    chart.hide_hover()
    size = export_size(chart)
    painter.fillRect(QRectF(0, 0, size.width(), size.height()), chart.backgroundBrush())
    source = chart.mapToScene(chart.viewport().rect()).boundingRect()
    chart.scene().render(painter, QRectF(0, 0, chart.width(), chart.height()), source)
    rows, _h = legend_layout(chart.font(), chart.legend_rows(), chart.width())
    painter.save()
    painter.translate(0, chart.height())
    painter.setFont(chart.font())
    for kind, swatch, pos, text, color in rows:
        if kind == "over":
            paint_over_symbol(painter, swatch, color, chart.dark)
        elif kind == "average":
            paint_average_symbol(painter, swatch, chart.fg)
        else:
            painter.fillRect(swatch, QColor(color))
        painter.setPen(chart.fg)
        painter.drawText(pos, text)
    painter.restore()


def save_png(chart: UsageChart, path: str | Path) -> None:
    """Save the chart and a legend of the entries shown as a PNG (at twice the screen
    resolution); raises OSError on failure."""
    size = export_size(chart)
    image = QImage(size * 2, QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(2)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    try:
        paint_export(chart, painter)
    finally:
        painter.end()
    if not image.save(str(path), "PNG"):  # type: ignore[call-overload]
        raise OSError(f"cannot write {path}")


def save_svg(chart: UsageChart, path: str | Path, description: str | None) -> None:
    """Save the chart and its legend as an SVG (vector) image; raises OSError on failure."""
    size = export_size(chart)
    gen = QSvgGenerator()
    gen.setFileName(str(path))
    gen.setSize(size)
    gen.setViewBox(QRect(0, 0, size.width(), size.height()))
    gen.setTitle("Shepherd usage")
    if description is not None:
        gen.setDescription(description)
    painter = QPainter()
    if not painter.begin(gen):
        raise OSError(f"cannot write {path}")
    try:
        paint_export(chart, painter)
    finally:
        painter.end()
    if not Path(path).exists():
        raise OSError(f"cannot write {path}")


def save_csv(daily: DailyUsage, labels: Mapping[str, str], quotas: Mapping[str, int],
             path: str | Path) -> None:
    """Save the data behind the chart: one row per entry per day of the range."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(csv_rows(daily, labels, quotas))
