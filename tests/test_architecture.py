"""The architecture holds (DESIGN.md, "Two packages"): the library never touches Qt, the window
never speaks SQL, and no module or class grows past what one person can keep in mind.

Imports and calls are read with `ast`, never with text searches: a comment or a docstring
that mentions `PRAGMA data_version` is not SQL, and `import sqlite3` inside a function is
still an import.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIBRARY = REPO / "shepherd_store"
WINDOW = REPO / "inspector"
#: What the library must never load, not even through another module: the window's stack.
QT_STACK = ("PySide6", "shiboken6", "pyqtgraph", "numpy", "inspector")
#: The one thing of `sqlite3` the window may use: the library version in the About box.
SQLITE3_ALLOWED = {"sqlite_version"}
#: Calls that run SQL on a connection or cursor.
SQL_CALLS = {"execute", "executemany", "executescript"}
#: SQL statements as they appear in string literals (this project writes SQL in capitals).
SQL_TEXT = re.compile(r"\bSELECT\b[\s\S]+\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|"
                      r"\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b|\bPRAGMA\s+\w+|"
                      r"\b(CREATE|DROP|ALTER)\s+(TABLE|INDEX|VIEW|TRIGGER)\b|"
                      r"\bBEGIN\s+(IMMEDIATE|EXCLUSIVE|DEFERRED|TRANSACTION)\b")
MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 400


def modules(folder: Path) -> list[Path]:
    paths = sorted(folder.rglob("*.py"))
    assert paths, f"no modules in {folder}: the test would prove nothing"
    return paths


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def imported(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, top-level module name) of every absolute import, at any depth."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def docstrings(tree: ast.Module) -> set[int]:
    """ids of the string constants that are docstrings (prose, not code)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(REPO)}:{line}"


# --- shepherd_store: the standard library only ---------------------------------------------


def test_the_library_imports_only_the_standard_library() -> None:
    allowed = set(sys.stdlib_module_names) | {"shepherd_store", "__future__"}
    found = [f"{where(path, line)} imports {name}" for path in modules(LIBRARY)
             for line, name in imported(parse(path)) if name not in allowed]
    assert found == []


def test_importing_every_library_module_loads_no_qt() -> None:
    # In a fresh interpreter: this test process has Qt loaded already.
    names = sorted(".".join(("shepherd_store", *p.relative_to(LIBRARY).with_suffix("").parts))
                   .removesuffix(".__init__") for p in modules(LIBRARY)
                   if p.name != "__main__.py")  # a __main__ runs its command when imported
    script = (
        "import importlib, json, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {QT_STACK!r})))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(names) > 10, names
    assert json.loads(result.stdout) == []


# --- inspector: no SQL of its own ------------------------------------------------------------


def sql_in(path: Path) -> list[str]:
    """Where `path` imports from sqlite3, uses the sqlite3 module for more than its version,
    calls a connection's or cursor's SQL methods, or holds an SQL statement in a string
    (docstrings are prose and do not count); as "line: what"."""
    tree = parse(path)
    aliases = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for a in node.names if a.name == "sqlite3"}
    prose = docstrings(tree)
    attributes = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlite3":
            found.append((line, "from sqlite3 import ..."))
        elif isinstance(node, ast.Name) and node.id in aliases and id(node) not in attributes:
            found.append((line, "uses the sqlite3 module itself"))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                node.value.id in aliases and node.attr not in SQLITE3_ALLOWED:
            found.append((line, f"sqlite3.{node.attr}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in SQL_CALLS:
            found.append((line, f"calls .{node.func.attr}()"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                id(node) not in prose and SQL_TEXT.search(node.value):
            found.append((line, f"SQL text {node.value[:60]!r}"))
    return [f"{line}: {what}" for line, what in sorted(found)]


def test_the_window_issues_no_sql() -> None:
    # The window reads and writes through shepherd_store only; it may name SQLite's version.
    found = [f"{path.relative_to(REPO)}:{f}" for path in modules(WINDOW) for f in sql_in(path)]
    assert found == []


def test_the_sql_check_sees_each_way_sql_could_creep_in(tmp_path: Path) -> None:
    # The check above proves something only if it catches these (and spares the version).
    path = tmp_path / "bad.py"
    path.write_text(
        '"""A docstring may say PRAGMA data_version and SELECT x FROM y."""\n'
        "import sqlite3 as db\n"
        "VERSION = db.sqlite_version\n"
        "def read(conn):\n    return conn.execute('SELECT id FROM audit_log').fetchall()\n"
        "def connect(path):\n    return db.connect(path)\n"
        "QUERY = 'DELETE FROM cooldowns WHERE entry_id = ?'\n"
        "def late():\n    from sqlite3 import connect\n    return connect\n"
        "MODULE = db\n",
        encoding="utf-8")
    assert sql_in(path) == [
        "5: SQL text 'SELECT id FROM audit_log'", "5: calls .execute()", "7: sqlite3.connect",
        "8: SQL text 'DELETE FROM cooldowns WHERE entry_id = ?'",
        "10: from sqlite3 import ...", "12: uses the sqlite3 module itself"]


# --- sizes -----------------------------------------------------------------------------------


def test_no_module_over_600_lines_and_no_class_over_400() -> None:
    too_big = []
    for folder in (LIBRARY, WINDOW, REPO / "benchmarks"):
        for path in modules(folder):
            text = path.read_text(encoding="utf-8")
            if (lines := len(text.splitlines())) > MAX_MODULE_LINES:
                too_big.append(f"{path.relative_to(REPO)}: {lines} lines")
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.ClassDef) and node.end_lineno is not None and \
                        (size := node.end_lineno - node.lineno + 1) > MAX_CLASS_LINES:
                    too_big.append(f"{where(path, node.lineno)}: class {node.name}, "
                                   f"{size} lines")
    assert not too_big, "too big:\n" + "\n".join(too_big)
