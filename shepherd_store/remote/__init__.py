"""A Shepherd database on another computer, over SSH (issue #17).

`RemoteStore` (`client`) reads it with the calls and answers of a local `SqliteStore` and,
when asked, edits it through the same overrides; it runs the system `ssh` client, which
starts `python -m shepherd_store.remote serve --stdio --db PATH` there (`server`,
`serve_main`). Addresses are `ssh://[user@]host[:port]/path` (`url`). The modules:
`url`, `protocol` (the JSON-lines messages), `codec` (the typed values that cross),
`server`, `ops` (what may be asked), `edits` (each edit applied once), `watcher` (change
notices), `launch` (ssh command lines, the library copied over), `connection` (one ssh
process and its threads), `link` (connecting, reconnecting, closing) and `client`.

The names below are imported when first asked for, so asking `looks_remote` or
`parse_url` of an address does not import the client and the server (about 60 ms).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import RemoteStore, new_edit_id
    from .server import serve_main
    from .url import RemoteUrl, looks_remote, parse_url

__all__ = ["RemoteStore", "RemoteUrl", "looks_remote", "new_edit_id", "parse_url", "serve_main"]

#: Where each public name lives.
_HOMES = {"RemoteStore": "client", "new_edit_id": "client", "serve_main": "server",
          "RemoteUrl": "url", "looks_remote": "url", "parse_url": "url"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
