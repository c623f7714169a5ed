"""The window's imports leave out what PySide6 and pyqtgraph would keep for nothing
(`inspector.qt_imports`): module sources in `linecache`, and every Qt class made at once.
Each check runs in a fresh interpreter, as the window starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _fresh(code: str) -> Any:
    """What `code` (run in a new interpreter, offscreen) printed as its last line, as JSON."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_window_keeps_no_module_source_and_makes_qt_classes_when_used() -> None:
    found = _fresh("""
        import json, linecache, sys
        import inspector.app
        import numpy, pyqtgraph
        import PySide6.QtWidgets as widgets
        cached = set(linecache.cache)
        print(json.dumps({
            "pyqtgraph": pyqtgraph.__file__ in cached,
            "numpy": numpy.__file__ in cached,
            "ours": inspector.app.__file__ in cached or
                    sys.modules["inspector.usage_chart"].__file__ in cached,
            "qwizard_made": "QWizard" in widgets.__dict__,
            "mirror_finds_it": pyqtgraph.Qt.QtWidgets.QWizard is widgets.QWizard,
            "qwizard_made_now": "QWizard" in widgets.__dict__,
            "set_by_pyqtgraph": pyqtgraph.Qt.QtGui.QFileSystemModel is widgets.QFileSystemModel,
            "plot_widget": pyqtgraph.PlotWidget.__mro__[1].__name__,
        }))
    """)
    assert found == {"pyqtgraph": False, "numpy": False, "ours": False,
                     "qwizard_made": False, "mirror_finds_it": True, "qwizard_made_now": True,
                     "set_by_pyqtgraph": True, "plot_widget": "GraphicsView"}


def test_pyqtgraph_already_imported_is_the_module_returned() -> None:
    found = _fresh("""
        import json, sys
        import pyqtgraph
        from inspector.qt_imports import pg
        print(json.dumps({"same": pg is pyqtgraph,
                          "own_mirror": type(sys.modules["pyqtgraph.Qt.QtCore"].__spec__)
                          .__name__}))
    """)
    assert found == {"same": True, "own_mirror": "ModuleSpec"}


def test_the_source_check_answers_as_pysides_own() -> None:
    found = _fresh("""
        import json, sys
        import PySide6.QtCore
        original = sys.modules["PySide6.support.feature"]._mod_uses_pyside
        import inspector.qt_imports as q, inspector.usage_chart, json as j, sqlite3, _sqlite3
        mods = [inspector.usage_chart, j, sqlite3, _sqlite3, q, PySide6.QtCore]
        print(json.dumps([[original(m), q._uses_pyside(m)] for m in mods]))
    """)
    assert found == [[True, True], [False, False], [False, False], [False, False],
                     [True, True], [False, False]]
