"""Importing PySide6 and pyqtgraph without two import habits that cost the window ~8 MB.

Measured at 1,000,000 events (the window's peak after bench_inspector's working session:
156.9 MB with both, 148.7 MB without):

- PySide6 replaces `__import__` and, after every module imported later, asks whether its
  source mentions PySide6 (to learn whether it may use `from __feature__ import`). It reads
  the source with `inspect.getsource`, which keeps the text of each module in `linecache`:
  ~400 modules (numpy, pyqtgraph, ours) that nothing reads again. Clearing the cache
  afterwards leaves much of it behind, as holes between the objects imported meanwhile
  (~4 MB of the peak). `read_sources_uncached` gives PySide6 the same answer from the file
  read directly.
- PySide6 (6.8+) creates a module's classes, and their enums, when first used. pyqtgraph's
  import copies every name of `QtCore`, `QtGui` and `QtWidgets` into mirror modules of its
  own, which makes the classes behind all ~700 names (~5 MB of the peak).
  `import_pyqtgraph` gives pyqtgraph mirrors that look a name up when first asked for.

Each step checks what it relies on and otherwise leaves the import as it is: the window works
the same either way (only its memory differs).
"""

from __future__ import annotations

import functools
import importlib
import linecache
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import PySide6.QtCore  # noqa: F401  (first: its import installs the hook patched here)

#: The PySide6 modules pyqtgraph mirrors (`pyqtgraph.Qt.QtCore`, ...).
_MIRRORED = ("QtCore", "QtGui", "QtWidgets")


def read_sources_uncached() -> bool:
    """Let PySide6's import hook read each module's source without caching it (see the module
    docstring); False where PySide6 has no such hook (then nothing changes)."""
    feature = sys.modules.get("PySide6.support.feature")
    check = getattr(feature, "_mod_uses_pyside", None)
    if feature is None or not callable(check):
        return False
    if check is not _uses_pyside:
        feature._mod_uses_pyside = _uses_pyside  # type: ignore[attr-defined]
    return True


def _uses_pyside(module: types.ModuleType) -> bool:
    """Whether `module`'s source mentions PySide6, as PySide6's own check answers it (a
    module with no readable Python source: no), from the file read once and let go."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return False
    try:
        with open(path, encoding="utf-8") as fh:
            return "PySide6" in fh.read()
    except (OSError, UnicodeDecodeError):
        return False


def import_pyqtgraph() -> types.ModuleType:
    """`import pyqtgraph`, with mirrors of Qt's modules that look names up on first use (see
    the module docstring). The same module as a plain import; the plain import is done where
    pyqtgraph is already imported or PySide6 does not create its classes on demand."""
    if "pyqtgraph" in sys.modules:
        return sys.modules["pyqtgraph"]
    sources = [importlib.import_module(f"PySide6.{name}") for name in _MIRRORED]
    mirrors = [f"pyqtgraph.Qt.{name}" for name in _MIRRORED]
    lazy = all(callable(m.__dict__.get("__dir__")) for m in sources) and \
        not any(name in sys.modules for name in mirrors)
    if not lazy:
        return importlib.import_module("pyqtgraph")
    for name, source in zip(mirrors, sources, strict=True):
        sys.modules[name] = _mirror(name, source)
    try:
        with _names_made_so_far(sources):
            pyqtgraph = importlib.import_module("pyqtgraph")
    except BaseException:
        for name in mirrors:
            sys.modules.pop(name, None)
        raise
    return pyqtgraph


def _mirror(name: str, source: types.ModuleType) -> types.ModuleType:
    """A module that answers every name of `source` when asked (PEP 562 `__getattr__`), and
    holds what pyqtgraph sets on it."""
    mirror = types.ModuleType(name, f"pyqtgraph's mirror of {source.__name__} (names looked "
                                    "up on first use: inspector.qt_imports).")

    def lookup(attr: str) -> Any:
        if attr.startswith("__"):  # (its own module attributes: not the source's)
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        return getattr(source, attr)

    mirror.__getattr__ = lookup  # type: ignore[method-assign]
    mirror.__dir__ = lambda: sorted({*dir(source), *mirror.__dict__})  # type: ignore[method-assign]
    return mirror


@contextmanager
def _names_made_so_far(modules: list[types.ModuleType]) -> Iterator[None]:
    """While pyqtgraph copies "every name" of these modules into its mirrors, `dir` lists only
    the names already made, so the copy creates nothing (the mirrors find the rest)."""
    saved: list[tuple[types.ModuleType, Any]] = []
    try:
        for module in modules:
            listing: Callable[[], list[str]] = module.__dict__["__dir__"]
            saved.append((module, listing))
            module.__dir__ = functools.partial(  # type: ignore[method-assign]
                _made, module, listing)
        yield
    finally:
        for module, listing in saved:
            module.__dir__ = listing  # type: ignore[method-assign]


def _made(module: types.ModuleType, listing: Callable[[], list[str]]) -> list[str]:
    return [name for name in listing() if name in module.__dict__]


def forget_module_sources() -> None:
    """Drop the source text of every module imported so far from `linecache` (what PySide6
    read before `read_sources_uncached`, and any other reader's). A traceback reads a file
    anew when it needs it."""
    linecache.clearcache()


read_sources_uncached()
pg = import_pyqtgraph()
