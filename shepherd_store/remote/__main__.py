"""`python -m shepherd_store.remote serve --stdio --db PATH [--write]`: what `RemoteStore`
runs on the computer that holds the database (see `server`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .server import serve_main

USAGE = "usage: python -m shepherd_store.remote serve --stdio --db PATH [--write]\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "serve":
        sys.stderr.write(USAGE)
        return 2
    return serve_main(args[1:], prog="python -m shepherd_store.remote serve")


if __name__ == "__main__":
    sys.exit(main())
