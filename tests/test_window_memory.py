"""The window does not keep the source text of the modules it imported (PySide6 reads every
module imported after it into `linecache`; see `inspector.app.forget_module_sources`)."""

from __future__ import annotations

import linecache
from pathlib import Path

from conftest import fixture_path
from pytestqt.qtbot import QtBot

from inspector.app import open_window


def test_module_sources_are_not_kept_once_the_window_is_open(qtbot: QtBot, tmp_path: Path
                                                             ) -> None:
    import pyqtgraph

    import inspector.main_window

    linecache.getlines(inspector.main_window.__file__)  # as PySide6's import hook does
    linecache.getlines(pyqtgraph.__file__)
    window = open_window(fixture_path("rust-clean.db"), read_only=True)
    qtbot.addWidget(window)
    cached = set(linecache.cache)
    assert inspector.main_window.__file__ not in cached
    assert pyqtgraph.__file__ not in cached
    window.close()
