"""Starting the inspector: `shepherd-inspector [PATH | ssh://[user@]host[:port]/PATH]
[--read-only] [--demo] [--config TOML]` (an `ssh://` address opens the database of another
computer through the system ssh client, read-only until File ▸ Read-only allows edits).
The databases open together when the window last closed are opened again beside it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QApplication, QMessageBox

from shepherd_store.paths import default_database

from . import qt_imports  # (before the window's modules: see its docstring)
from .allocator import return_freed_memory
from .formatting import TimeStyle, set_time_style
from .icons import app_icon
from .main_window import MainWindow
from .theme import apply_theme


def open_window(path: str | Path | None, *, read_only: bool = False,
                config: str | Path | None = None) -> MainWindow:
    """Build the main window on `path` without entering the event loop.

    A bad or missing file never raises: the window shows what is wrong. With no path, the
    window explains where shepherdd keeps its database and offers the demo.
    """
    if QApplication.instance() is None:
        raise RuntimeError("create a QApplication before open_window()")
    return_freed_memory()
    window = MainWindow()
    window.action_read_only.setChecked(read_only)
    if config is not None:
        window.load_policy(config)
    if path is not None:
        window.open_path(path, read_only=read_only)
    else:
        window.show_first_run()
    qt_imports.forget_module_sources()
    return window


def locale_time_style(locale: QLocale) -> TimeStyle:
    """The date order and clock of a Qt locale; ISO for the C/POSIX locale."""
    if locale.language() == QLocale.Language.C:
        return TimeStyle()
    date_format = locale.dateFormat(QLocale.FormatType.ShortFormat)
    letters = [c for c in date_format.lower() if c in "dmy"]
    order = "".join(dict.fromkeys(letters))
    separator = next((c for c in date_format if not c.isalpha() and not c.isspace()), "-")
    hour12 = "ap" in locale.timeFormat(QLocale.FormatType.ShortFormat).lower()
    if sorted(order) != ["d", "m", "y"]:
        return TimeStyle(hour12=hour12)
    return TimeStyle(order=order, separator=separator, hour12=hour12)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="shepherd-inspector",
        description="Browse, chart and safely edit the Shepherd screen-time service's database.")
    p.add_argument("path", nargs="?", help="the database (default: $SHEPHERD_DB, then "
                   "/var/lib/shepherdd/shepherdd.db, then ~/.local/share/shepherdd/shepherdd.db)"
                   ", or ssh://[user@]host[:port]/path/shepherdd.db on another computer")
    p.add_argument("--read-only", action="store_true", help="never write to the database")
    p.add_argument("--demo", action="store_true",
                   help="open a fresh demo database with a simulated service writing live")
    p.add_argument("--config", metavar="TOML", help="the service's policy file (labels, quotas)")
    p.add_argument("--theme", choices=("auto", "light", "dark"), default="auto",
                   help="colour scheme (default: follow the system)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the application; returns the exit status."""
    args = _parser().parse_args(argv)
    if QApplication.instance() is None:
        # Without its system libraries or a display Qt aborts in QApplication(): say what to do.
        from .qt_requirements import startup_problem

        if (problem := startup_problem()) is not None:
            print(problem, file=sys.stderr)
            return 1
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("shepherd-inspector")
    app.setApplicationDisplayName("Shepherd Inspector")
    app.setOrganizationName("Shepherd")
    app.setWindowIcon(app_icon())
    apply_theme(app, args.theme)
    set_time_style(locale_time_style(QLocale.system()))
    from . import workers
    from .signals import SignalQuit

    quitter = SignalQuit(app)  # Ctrl-C and SIGTERM quit as Ctrl+Q does (130 / 143)
    demo = None

    def start_demo(window: MainWindow) -> None:
        nonlocal demo
        from .demo import DemoService

        if demo is None:
            demo = DemoService()
            quitter.at_forced_exit(demo.discard)
            demo.start()
        if args.config is None:
            window.load_policy(demo.policy_path)
        window.open_path(demo.path, read_only=False)

    path = args.path or (None if args.demo else default_database())
    window = open_window(path, read_only=args.read_only, config=args.config)
    window.demoRequested.connect(lambda: start_demo(window))
    if args.demo and args.path is None:
        start_demo(window)
    # The databases open together last time come back beside it (remote ones connect in
    # the background, read-only).
    reopened = window.reopen_databases()
    if path is None and not args.demo and not reopened:
        answer = QMessageBox.question(
            window, "No database found",
            "No Shepherd database was found on this computer. Open the demo instead?")
        if answer == QMessageBox.StandardButton.Yes:
            start_demo(window)
    window.show()
    try:
        return quitter.exec(app)
    finally:
        workers.wait_idle(3000)  # a cancelled export kills its child process meanwhile
        window.wait_closed(2.0)  # remote databases' ssh, closed on threads
        if demo is not None:
            demo.cleanup()
        quitter.close()
