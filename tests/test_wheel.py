"""The application installs like one: a built wheel carries its resources and entry points.

Builds the wheel, installs it (without dependencies) into a fresh virtual environment, and
runs a smoke test from outside the checkout, borrowing only the third-party packages
(PySide6, pyqtgraph, numpy) from the test environment through PYTHONPATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

SMOKE = r"""
import importlib, os, pkgutil, sys
from pathlib import Path
assert "site-packages" in __import__("inspector").__file__, __import__("inspector").__file__
# Every module of both packages is in the wheel (a subpackage left out of pyproject's list
# would only show when its code first runs: the window builds its tabs lazily).
for package in ("shepherd_store", "inspector"):
    root_module = importlib.import_module(package)
    for info in pkgutil.walk_packages(root_module.__path__, package + "."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
from PySide6.QtWidgets import QApplication
app = QApplication([])
from inspector.icons import app_icon, kind_icon, resource_root
root = resource_root()
assert "site-packages" in str(root), root
for name in ("shepherd-inspector.svg", "shepherd-inspector.desktop",
             "io.github.shepherd.Inspector.metainfo.xml", "icons/session.svg"):
    assert root.joinpath(*name.split("/")).is_file(), name
assert not app_icon().isNull() and not kind_icon("warning").isNull()
from inspector.app import open_window
window = open_window(sys.argv[1], read_only=True)
window.show()
app.processEvents()
assert window.audit.model.rowCount() == 23
window.tabs.setCurrentWidget(window.recovery)  # every tab, built on first show
app.processEvents()
assert not window.grab().isNull()
print("smoke ok")
"""


@pytest.mark.slow
def test_wheel_installs_with_resources_and_runs(tmp_path: Path, rust_v0: Path) -> None:
    dist = tmp_path / "dist"
    # Verbose, so the build backend's own warnings reach us: packaging must not warn.
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "--no-build-isolation", "-v", "-w", str(dist), str(REPO)],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-3000:]
    warnings = [line for line in (build.stdout + build.stderr).splitlines()
                if "Warning" in line or "deprecated" in line.lower()
                or "would be ignored" in line]
    assert warnings == []
    wheels = list(dist.glob("shepherd_inspector-*.whl"))
    assert len(wheels) == 1
    env_dir = tmp_path / "fresh"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(wheels[0])], check=True, cwd=tmp_path)
    env = dict(os.environ, PYTHONPATH=sysconfig.get_paths()["purelib"],
               QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([str(py), "-c", SMOKE, str(rust_v0)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "smoke ok" in result.stdout
    for script in ("shepherd-inspector", "shepherd-store"):
        help_run = subprocess.run([str(env_dir / "bin" / script), "--help"], cwd=tmp_path,
                                  env=env, capture_output=True, text=True, timeout=60)
        assert help_run.returncode == 0, help_run.stderr[-2000:]
        assert "usage:" in help_run.stdout
