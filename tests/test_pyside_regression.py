"""PySide6 6.12.0 on CPython 3.11 drops a reference to None on every Qt call returning nothing
and aborts after ~5,000 calls ("Fatal Python error: none_dealloc"); see DESIGN.md,
"Measured facts". Keep the pin, and prove 20,000 such calls survive."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CALLS = 20_000

SCRIPT = f"""
    import sys
    from PySide6.QtGui import QColor, QPen
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication([])
    widget = QWidget()
    pen = QPen()
    before = sys.getrefcount(None)
    calls = (
        lambda i: widget.resize(100 + i % 50, 80),
        lambda i: widget.setToolTip(f"tip {{i % 7}}"),
        lambda i: pen.setWidth(i % 5),
        lambda i: pen.setColor(QColor(i % 256, 0, 0)),
        lambda i: widget.setObjectName("w"),
    )
    for i in range({CALLS}):
        result = calls[i % len(calls)](i)
        assert result is None
    del result
    drift = before - sys.getrefcount(None)
    widget.close()
    print(f"survived {CALLS} calls, None refcount drift {{drift}}", flush=True)
"""


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def test_twenty_thousand_none_returning_calls_survive() -> None:
    import PySide6  # noqa: F401  (a dependency: missing, the test fails)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    match = re.search(rf"survived {CALLS} calls, None refcount drift (-?\d+)", proc.stdout)
    assert match, proc.stdout
    # With the bug every call loses one reference; a sound build stays within noise.
    assert abs(int(match.group(1))) < 1000
    assert "none_dealloc" not in proc.stderr


def test_installed_pyside6_satisfies_the_pin() -> None:
    import PySide6 as pyside
    version = _version(pyside.__version__)
    assert version >= (6, 8)
    if sys.version_info < (3, 12):
        assert version < (6, 12), f"PySide6 {pyside.__version__} aborts CPython 3.11"


def test_pyproject_keeps_the_pin() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = [d.replace(" ", "").replace('"', "'") for d in project["dependencies"]]
    assert "PySide6-Essentials>=6.8,<6.12;python_version<'3.12'" in deps
