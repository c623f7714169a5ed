"""`shepherd-store demo PATH`: the inspector's demo database, written by the simulator.

The simulator modules are imported only when the command runs; the service's own database
paths are refused.
"""

from __future__ import annotations

import argparse
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from .cli_common import EXIT_OK, EXIT_USAGE, CliError, Output, _note
from .describe import format_local
from .paths import candidate_paths
from .store import SqliteStore

__all__ = ["cmd_demo"]


def _demo_speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not 1 <= value <= 100_000:
        raise ValueError(f"{text!r} must be from 1 to 100000")
    return value


def cmd_demo(args: argparse.Namespace, out: Output) -> int:
    """`demo PATH`: the inspector's demo database (`simulate_crash.write_demo_history`) and,
    with --live, sessions paced by a demo clock (`Simulator.run_paced`)."""
    import signal

    from .simulate import DemoClock, SimulationStopped, demo_history_end
    from .simulate_crash import CrashingSimulator, write_demo_history

    path = Path(args.path).expanduser()
    for service_db in candidate_paths():
        if path.absolute() == service_db.absolute():
            raise CliError(f"refusing to write demo data into {path}: it is where the "
                           "service keeps its database. Choose another path.", EXIT_USAGE)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    paced = args.live and args.interval is None
    handlers = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with SqliteStore.open(path) as store:
            now = datetime.now(UTC).astimezone()
            end = demo_history_end(now) if paced else now
            sim = CrashingSimulator(store, seed=args.seed)
            try:
                if sim.clock is not None:
                    out.line(f"{path} already holds a history; adding none.")
                elif args.days > 0:
                    sim = write_demo_history(store, args.days, end=end, seed=args.seed,
                                             crashes=args.crashes, stop=stop)
                    n = sim.events_written
                    crashes = len(sim.crashes)
                    told = (f", with {crashes} crash{'es' if crashes != 1 else ''} of the "
                            f"service (`shepherd-store --db {path} recovery` finds "
                            f"{'them' if crashes != 1 else 'it'})") if crashes else ""
                    out.line(f"Wrote {n} events ({args.days} days of history) to {path}{told}.")
                sim.stop = stop
                sim.on_error = lambda exc: _note(f"error (skipped): {exc}")
                if args.live and not stop.is_set():
                    if paced:
                        clock = DemoClock(max(sim.clock or end, end), args.speed)
                        lag = clock.lag.total_seconds()
                        out.line(f"Writing live on a demo clock from "
                                 f"{format_local(clock.now(), seconds=False)}: {args.speed:g}× "
                                 f"real time until it catches up (about "
                                 f"{lag / max(args.speed - 1, 1e-9) / 60:.0f} min), then real "
                                 "time. Ctrl-C to stop.")
                        out.stream.flush()
                        steps = sim.run_paced(clock, stop=stop)
                    else:
                        out.line(f"Writing a session every {args.interval:g} s; Ctrl-C to "
                                 "stop.")
                        out.stream.flush()
                        steps = sim.run_live(interval=args.interval, stop=stop)
                    sim.shutdown()
                    out.line(f"Stopped after {steps} live steps.")
            except SimulationStopped:
                sim.shutdown()
                out.line("Stopped.")
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return EXIT_OK
