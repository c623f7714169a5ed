"""Light and dark: follow the system's colour scheme, or a forced one (`--theme`).

Qt 6.5+ reports the desktop's scheme through `QStyleHints.colorScheme`. Where the platform
theme cannot restyle widgets itself (offscreen, bare X11, some desktops), the Fusion style
with an explicit palette keeps both schemes readable; views that draw their own colours
(charts) ask `is_dark()`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

_forced: str | None = None


def is_dark() -> bool:
    """Whether the application is showing its dark palette."""
    app = QGuiApplication.instance()
    if not isinstance(app, QGuiApplication):
        return False
    window = app.palette().color(QPalette.ColorRole.Window)
    return window.lightness() < 128


def dark_palette() -> QPalette:
    """A calm dark palette with enough contrast for tables and charts."""
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2B2D31", QPalette.ColorRole.WindowText: "#E6E6E6",
        QPalette.ColorRole.Base: "#1F2023", QPalette.ColorRole.AlternateBase: "#292B2F",
        QPalette.ColorRole.ToolTipBase: "#3A3D42", QPalette.ColorRole.ToolTipText: "#F0F0F0",
        QPalette.ColorRole.Text: "#E6E6E6", QPalette.ColorRole.Button: "#35383D",
        QPalette.ColorRole.ButtonText: "#E6E6E6", QPalette.ColorRole.BrightText: "#FF6B6B",
        QPalette.ColorRole.Link: "#6CB4FF", QPalette.ColorRole.Highlight: "#2F6FB7",
        QPalette.ColorRole.HighlightedText: "#FFFFFF", QPalette.ColorRole.PlaceholderText:
        "#9A9DA3", QPalette.ColorRole.Mid: "#4A4D52", QPalette.ColorRole.Dark: "#202124",
        QPalette.ColorRole.Light: "#505358", QPalette.ColorRole.Shadow: "#111214",
    }
    for role, color in roles.items():
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7D8086"))
    return p


def apply_theme(app: QApplication, scheme: str = "auto") -> None:
    """Use the system's scheme (`auto`) or force `light` / `dark`, and follow changes."""
    global _forced
    _forced = None if scheme == "auto" else scheme
    app.setStyle("Fusion")
    _apply(app)
    if scheme == "auto":
        app.styleHints().colorSchemeChanged.connect(lambda _s: _apply(app))


def _apply(app: QApplication) -> None:
    wanted = _forced
    if wanted is None:
        wanted = "dark" if app.styleHints().colorScheme() == Qt.ColorScheme.Dark else "light"
    app.setPalette(dark_palette() if wanted == "dark" else app.style().standardPalette())
