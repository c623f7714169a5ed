"""A Shepherd database on another computer, over SSH (issue #17).

`RemoteStore` (`client`) reads it with the calls and answers of a local `SqliteStore` and,
when asked, edits it through the same overrides; it runs the system `ssh` client, which
starts `python -m shepherd_store.remote serve --stdio --db PATH` there (`server`,
`serve_main`). Addresses are `ssh://[user@]host[:port]/path` (`url`). The modules:
`url`, `protocol` (the JSON-lines messages), `codec` (the typed values that cross),
`server`, `ops` (what may be asked), `edits` (each edit applied once), `watcher` (change
notices), `launch` (ssh command lines, the library copied over), `connection` (one ssh
process and its threads), `link` (connecting, reconnecting, closing) and `client`.
"""

from __future__ import annotations

from .client import RemoteStore, new_edit_id
from .server import serve_main
from .url import RemoteUrl, looks_remote, parse_url

__all__ = ["RemoteStore", "RemoteUrl", "looks_remote", "new_edit_id", "parse_url", "serve_main"]
