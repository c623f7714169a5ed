"""Icons from the package's `resources/` (via importlib.resources, so wheels work too)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon, QPixmap


def resource_root() -> Traversable:
    """Where the assets are: the installed `inspector.resources`, or `resources/` of a
    source checkout (where the directory sits beside the packages)."""
    try:
        return resources.files("inspector.resources")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "resources"


def _svg_icon(*parts: str) -> QIcon:
    source = resource_root().joinpath(*parts)
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
