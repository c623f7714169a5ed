"""Run a command as the child of this small process and record the command's own peak RSS.

    python -S -I benchmarks/_peak_rss.py OUT -- COMMAND [ARG ...]

Why a wrapper: Linux carries the memory high-water mark of the process that spawned a child
across its exec, so `wait4`'s ru_maxrss of a child of a 360 MB benchmark says 360 MB
whatever the child used (and ru_maxrss of RUSAGE_CHILDREN is the largest child ever
waited for). Spawned from this ~10 MB interpreter instead, the figure is the command's own
peak (never below this process's size, which any Python program exceeds). The command
keeps this process's stdin, stdout and stderr. OUT gets "pid N" as soon as it runs, then
"maxrss_kb N" and "status N" once it has exited; this process exits with its status.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    out, command = argv[1], argv[3:]
    pid = os.posix_spawnp(command[0], command, dict(os.environ))
    with open(out, "w", encoding="ascii") as fh:
        fh.write(f"pid {pid}\n")
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(out, "a", encoding="ascii") as fh:
        fh.write(f"maxrss_kb {usage.ru_maxrss}\nstatus {code}\n")
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
