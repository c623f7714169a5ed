"""Icons from the package's `resources/` (via importlib.resources, so wheels work too)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon, QPixmap


def _svg_icon(*parts: str) -> QIcon:
    source = resources.files("resources").joinpath(*parts)
    if isinstance(source, Path) and source.is_file():
        icon = QIcon(str(source))  # the SVG icon engine renders sharp at every size
        # Selected rows: keep the icon as drawn (the default tint hides it in the highlight).
        icon.addFile(str(source), QSize(), QIcon.Mode.Selected)
        return icon
    data = source.read_bytes()  # e.g. a zipped install: rasterise once, generously
    pixmap = QPixmap()
    pixmap.loadFromData(data, "SVG")
    return QIcon(pixmap)


@cache
def kind_icon(kind: str) -> QIcon:
    """The icon of an event kind (`session`, `warning`, ...; `unknown` for anything else)."""
    try:
        return _svg_icon("icons", f"{kind}.svg")
    except FileNotFoundError:
        return _svg_icon("icons", "unknown.svg")


@cache
def app_icon() -> QIcon:
    """The application icon."""
    return _svg_icon("shepherd-inspector.svg")
