"""Remote database addresses: `ssh://[user@]host[:port]/path/shepherdd.db`.

The path is the database's path on the remote computer: absolute (`ssh://pc/var/lib/
shepherdd/shepherdd.db`), or from the remote user's home with `/~/`
(`ssh://pc/~/.local/share/shepherdd/shepherdd.db`). Percent escapes (`%20`) are decoded in
the user and the path; an IPv6 host goes in brackets (`ssh://[::1]:2222/...`). Anything
`looks_remote` says is remote but `parse_url` cannot read is refused with a message that
shows the expected form, never taken for a local file name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from ..errors import RemoteUrlError

__all__ = ["RemoteUrl", "looks_remote", "parse_url"]

_FORM = "ssh://[user@]host[:port]/path/to/shepherdd.db"
#: Host names and IPv4 addresses as ssh takes them (also an alias of ~/.ssh/config).
_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+(%[A-Za-z0-9._-]+)?")
_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.$-]*")


@dataclass(frozen=True)
class RemoteUrl:
    """Where a database is: `host` (a name, an address or an ssh alias), the ssh `user` and
    `port` (None: ssh's default or ~/.ssh/config's), and `path` on that computer (`~/...` is
    from the remote user's home)."""

    host: str
    path: str
    user: str | None = None
    port: int | None = None

    @property
    def destination(self) -> str:
        """What ssh is given to connect: `[user@]host`."""
        return self.host if self.user is None else f"{self.user}@{self.host}"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = "" if self.user is None else f"{quote(self.user, safe='')}@"
        port = "" if self.port is None else f":{self.port}"
        path = self.path if self.path.startswith("/") else f"/{self.path}"
        return f"ssh://{user}{host}{port}{quote(path, safe='/~')}"


def looks_remote(text: str) -> bool:
    """Whether `text` is meant as a remote address (it starts with `ssh:`), not a local path.

    (A local file whose name starts with `ssh:` is reached as `./ssh:...`.)"""
    return text[:4].lower() == "ssh:"


def parse_url(text: str) -> RemoteUrl:
    """The address in `text`; raises `RemoteUrlError` saying what is wrong with it."""
    if not looks_remote(text):
        raise _bad(text, "it does not start with ssh://")
    if not text[4:].startswith("//"):
        raise _bad(text, "the scheme must be followed by // (ssh://host/path)")
    rest = text[6:]
    if "?" in rest or "#" in rest:
        raise _bad(text, "it has a ? or # part, which an ssh address cannot have")
    if any(c.isspace() or ord(c) < 32 for c in rest):
        raise _bad(text, "it contains spaces or control characters (write a space as %20)")
    authority, slash, path = rest.partition("/")
    if not slash or not path.strip("/"):
        raise _bad(text, "the path of the database on that computer is missing")
    user: str | None = None
    if "@" in authority:
        raw_user, _at, authority = authority.rpartition("@")
        user = unquote(raw_user)
        if not _USER.fullmatch(user):
            raise _bad(text, f"the user name {user!r} is not one ssh accepts")
    host, port = _host_port(text, authority)
    path = unquote(path)
    if "\x00" in path:
        raise _bad(text, "the path contains a NUL character")
    path = path if path.startswith("~") else f"/{path}"
    return RemoteUrl(host=host, path=path, user=user, port=port)


def _host_port(text: str, authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        host, bracket, after = authority[1:].partition("]")
        if not bracket or not _IPV6.fullmatch(host) or ":" not in host:
            raise _bad(text, "the IPv6 address in brackets is malformed")
        if after and not after.startswith(":"):
            raise _bad(text, "only :port may follow the bracketed address")
        port_text = after[1:] if after else None
    else:
        host, colon, port_text_ = authority.partition(":")
        port_text = port_text_ if colon else None
        if not host:
            raise _bad(text, "the host is missing")
        if not _HOST.fullmatch(host):
            raise _bad(text, f"the host {host!r} is not a host name or address")
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise _bad(text, f"the port {port_text!r} is not a number from 1 to 65535")
    return host, int(port_text)


def _bad(text: str, why: str) -> RemoteUrlError:
    return RemoteUrlError(f"Not a remote database address: {text[:200]!r}: {why}. "
                          f"Write it as {_FORM}.")
