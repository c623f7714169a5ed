"""Where the service keeps its database: the default path shared by the inspector and the CLI."""

from __future__ import annotations

import os
from pathlib import Path

SYSTEM_DB = Path("/var/lib/shepherdd/shepherdd.db")


def candidate_paths() -> list[Path]:
    """The places to look, in order: `$SHEPHERD_DB`, the system path, the per-user path."""
    out: list[Path] = []
    env = os.environ.get("SHEPHERD_DB")
    if env:
        out.append(Path(env).expanduser())
    out.append(SYSTEM_DB)
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    out.append(Path(data_home) / "shepherdd" / "shepherdd.db")
    return out


def default_database() -> Path | None:
    """The first candidate that exists, or None."""
    for path in candidate_paths():
        if path.exists():
            return path
    return None
