"""`shepherd-store check`: integrity, facts, and every row the Rust service cannot read.

The `check` module does the reading (in short statements, so the service's writes never
wait); this one warns before a whole-file PRAGMA holds the lock, and prints the report.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from .cli_common import (
    EXIT_ACTION,
    EXIT_CORRUPT,
    EXIT_OK,
    Output,
    ProgressLine,
    _note,
    _open_read,
)
from .cli_text import Column, render_table, sanitize, wrap
from .store import SqliteStore

if TYPE_CHECKING:
    from .cli_common import CliStore

__all__ = ["cmd_check"]


def cmd_check(args: argparse.Namespace, out: Output) -> int:
    """`check`: integrity, facts, and rows the Rust service cannot read."""
    from .check import CHUNKED, check
    from .schema import Layout

    def warn_whole_file_check(store: CliStore, pragma: str) -> None:
        """Say, before it starts, that a whole-file check is one statement holding the lock."""
        try:  # (the size of a database on another computer is not known here)
            size = os.path.getsize(store.path) if isinstance(store, SqliteStore) else 0
        except OSError:
            size = 0
        if store.journal_mode.lower() == "wal":
            effect = ("In WAL mode the service's writes go on meanwhile, but the -wal file "
                      "cannot be checkpointed and grows.")
        else:
            effect = ("In rollback-journal mode (this file's) the service's writes wait for "
                      "it meanwhile, and fail after 5 s (\"database is locked\"), losing what "
                      "they wrote. Stop the service first, or check a copy.")
        estimate = f"about {max(size / 100e6, 0.1):.1f} s or more for its {_size(size)}" \
            if size else "its whole run"
        _note(f"note: PRAGMA {pragma} is one statement over the whole file: it holds the "
              f"database's read lock for {estimate} (1 s per 100 MB is typical; longer when "
              f"the file is not cached). {effect}")

    progress = ProgressLine(out.progress, "Checking the audit log…")
    with _open_read(args) as store:
        if args.full or args.quick:
            warn_whole_file_check(store, "integrity_check" if args.full else "quick_check")
        if isinstance(store, SqliteStore):
            report = check(store, quick=args.quick, full=args.full, progress=progress)
        else:  # (run there, where the file is)
            report = store.check(quick=args.quick, full=args.full)
    progress.clear()
    if report.integrity_seconds is not None:
        _note(f"PRAGMA {report.integrity_pragma} held the database's read lock for "
              f"{report.integrity_seconds:.1f} s.")
    size = "" if report.size_bytes is None else f" ({_size(report.size_bytes)})"
    layout = ("rust (as the shepherdd service writes it)" if report.layout is Layout.RUST else
              "seed (created by this library; the Rust service uses the rust layout)")
    ok = report.integrity_ok
    how = report.integrity_pragma
    if how == CHUNKED:
        how = ("every row and index entry read in short statements; --full adds SQLite's "
               "whole-file integrity_check")
    integrity = ("ok" if ok else "FAILED: " + "; ".join(report.integrity[:5])) + f" ({how})"
    ids = report.audit_ids
    other = report.other_tables
    for key, value, colour in (
            ("Database", f"{report.path}{size}", ""),
            ("Layout", layout, ""),
            ("Journal", f"{report.journal_mode}, user_version {report.user_version}", ""),
            ("Integrity", integrity, "green" if ok else "red"),
            ("Audit log", f"{report.events_checked} events checked"
             + (f" (ids {ids[0]} to {ids[1]})" if ids else "")
             + ("" if report.complete else ", INCOMPLETE"), ""),
            ("Tables", ", ".join(report.tables) + (f"; not Shepherd's, left alone: "
                                                    f"{', '.join(other)}" if other else ""),
             "")):
        lines = wrap(sanitize(value), out.width, " " * 11)
        lines[0] = f"{key + ':':<11}{lines[0][11:]}"
        for line in lines:
            out.line(line[:11] + out.style.paint(line[11:], colour))
    out.line()
    if report.problem_count == 0:
        out.line("No row the Rust service cannot read." if report.complete else
                 "The check did not finish.")
    else:
        n = report.problem_count
        out.line(out.style.paint(f"{n} row{'s' if n != 1 else ''} the Rust service cannot "
                                 "read:", "red"))
        cols = [Column("TABLE"), Column("ROW", flex=True, min_width=8),
                Column("PROBLEM", flex=True, min_width=20), Column("STORED", flex=True)]
        rows = [[p.table, p.key, p.problem, p.value] for p in report.problems]
        for line in render_table(cols, rows, out.width, out.style):
            out.line(line)
        if n > len(report.problems):
            out.line(f"... and {n - len(report.problems)} more.")
    if not ok:
        return EXIT_CORRUPT
    return EXIT_ACTION if report.problem_count or not report.complete else EXIT_OK


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"
