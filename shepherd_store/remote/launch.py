"""Starting the remote side: the `ssh` command lines, the library copied to a per-user cache
(`bootstrap`), and what to tell the person when the remote computer lacks Python or the
library.

The system `ssh` client is used as it is, so the user's keys, agent, `~/.ssh/config`, known
hosts and jump hosts work. Options given here come first on its command line (ssh keeps the
first value it sees of an option), then this module's defaults: no terminal (`-T`), no X11
or agent forwarding (`-x -a`: the child's computer gets no access to the parent's agent),
none of the config's port forwardings, and keep-alives so a dead link is noticed in about
45 s. Remote commands are POSIX `sh`, passed through `sh -c` with every word quoted, so the
remote user's login shell does not matter.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import shlex
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..errors import ConnectionLostError, RemoteSetupError, StoreError
from .url import RemoteUrl

__all__ = ["NEED_UPLOAD", "LibraryZip", "SshSettings", "library_zip", "startup_error"]

DEFAULT_PYTHON = "python3"
DEFAULT_CACHE = "~/.cache/shepherd-store"
SSH_DEFAULTS = ("-T", "-x", "-a", "-o", "ClearAllForwardings=yes",
                "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3")
#: The exit status of the bootstrap command when the cached copy is not there yet.
NEED_UPLOAD = 97
#: The Python the library needs on the remote computer.
NEEDED_PYTHON = (3, 11)
_NO_MODULE = re.compile(r"No module named '?(shepherd_store[\w.]*)'?")


@dataclass(frozen=True)
class LibraryZip:
    """This library's package files as one zip, and the cache folder it goes to: named by
    the library's version and the zip's digest (`0.1.0+1a2b3c4d5e6f`), so a changed library
    never runs an older copy."""

    data: bytes
    digest: str

    @property
    def version(self) -> str:
        return f"{__version__}+{self.digest[:12]}"


@functools.cache
def library_zip() -> LibraryZip:
    """The installed `shepherd_store` package (its `.py` files and `py.typed`), zipped the
    same way every time (sorted, fixed dates), so its digest names its content."""
    root = Path(__file__).resolve().parent.parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            if path.suffix != ".py" and path.name != "py.typed":
                continue
            info = zipfile.ZipInfo(f"shepherd_store/{path.relative_to(root).as_posix()}",
                                   date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    data = buffer.getvalue()
    return LibraryZip(data, hashlib.sha256(data).hexdigest())


def _words(value: str | list[str] | tuple[str, ...] | None, env: str,
           default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        value = os.environ.get(env) or None
    if value is None:
        return default
    return tuple(shlex.split(value) if isinstance(value, str) else value)


@dataclass(frozen=True)
class SshSettings:
    """How to reach the remote side: the address, the ssh command and options (`options`:
    from the constructor or `$SHEPHERD_SSH_OPTIONS`), an ssh config file (`-F`), the remote
    python command (`$SHEPHERD_REMOTE_PYTHON`, default `python3`) and the remote cache folder
    of `bootstrap` (`~/` is the remote user's home)."""

    url: RemoteUrl
    ssh: tuple[str, ...] = ("ssh",)
    options: tuple[str, ...] = ()
    config: str | None = None
    python: tuple[str, ...] = (DEFAULT_PYTHON,)
    cache: str = DEFAULT_CACHE

    @classmethod
    def make(cls, url: RemoteUrl, *, ssh_options: str | list[str] | None = None,
             remote_python: str | list[str] | None = None, ssh_config: str | None = None,
             ssh_command: str | list[str] | None = None,
             remote_cache: str | None = None) -> SshSettings:
        """Settings from the arguments given, else the environment, else the defaults."""
        python = _words(remote_python, "SHEPHERD_REMOTE_PYTHON", (DEFAULT_PYTHON,))
        if not python:
            raise RemoteSetupError("the remote python command is empty")
        return cls(url=url, ssh=_words(ssh_command, "SHEPHERD_SSH", ("ssh",)),
                   options=_words(ssh_options, "SHEPHERD_SSH_OPTIONS", ()),
                   config=ssh_config, python=python, cache=remote_cache or DEFAULT_CACHE)

    @property
    def where(self) -> str:
        return self.url.host

    def argv(self, remote_command: str) -> list[str]:
        """The ssh command line that runs `remote_command` (one string) on the remote side."""
        argv = [*self.ssh, *self.options, *SSH_DEFAULTS]
        if self.url.port is not None:
            argv += ["-p", str(self.url.port)]
        if self.config is not None:
            argv += ["-F", self.config]
        return [*argv, "--", self.url.destination, remote_command]

    def _sh(self, script: str, *args: str) -> str:
        """`sh -c SCRIPT sh ARGS...`, quoted for any login shell."""
        return shlex.join(["sh", "-c", script, "sh", *args])

    def serve_command(self, *, write: bool, bootstrap: LibraryZip | None) -> str:
        """`<python> -m shepherd_store.remote serve --stdio --db PATH [--write]`; with
        `bootstrap`, run from the cached zip (exit status `NEED_UPLOAD` if it is not there)."""
        serve = [*self.python, "-m", "shepherd_store.remote", "serve", "--stdio",
                 "--db", self.url.path, *(["--write"] if write else [])]
        if bootstrap is None:
            return self._sh('exec "$@"', *serve)
        script = (f'Z={self._cached_zip(bootstrap)}; test -f "$Z" || exit {NEED_UPLOAD}; '
                  'exec env PYTHONPATH="$Z" "$@"')
        return self._sh(script, *serve)

    def upload_command(self, bootstrap: LibraryZip) -> str:
        """Writes the zip arriving on stdin to the cache, whole or not at all."""
        folder = self._remote_path(f"{self.cache.rstrip('/')}/{bootstrap.version}")
        size = len(bootstrap.data)
        script = (f'set -e; D={folder}; umask 022; mkdir -p "$D"; T="$D/.upload.$$"; '
                  'trap \'rm -f "$T"\' EXIT; cat > "$T"; '
                  f'test "$(wc -c < "$T" | tr -d " ")" = {size}; '
                  'mv -f "$T" "$D/shepherd_store.zip"')
        return self._sh(script)

    def version_command(self) -> str:
        """Prints the remote python's version as `3.11` (to say what to install)."""
        return self._sh('exec "$@"', *self.python, "-c",
                        "import sys; print('%d.%d' % sys.version_info[:2])")

    def _cached_zip(self, bootstrap: LibraryZip) -> str:
        return self._remote_path(
            f"{self.cache.rstrip('/')}/{bootstrap.version}/shepherd_store.zip")

    @staticmethod
    def _remote_path(path: str) -> str:
        """`path` as a word of the remote sh script (`~/x` from the remote home)."""
        if path.startswith("~/"):
            return f'"$HOME"/{shlex.quote(path[2:])}'
        return shlex.quote(path)


def startup_error(settings: SshSettings, status: int | None, stderr: str,
                  python_version: str | None = None, *, bootstrap: bool) -> StoreError:
    """What to tell the person when the remote side ended before it said hello: ssh's own
    failure, no python there, no library there, a python too old, or else what it said."""
    host, python = settings.where, shlex.join(settings.python)
    said = stderr.strip()[-1500:]
    if status == 255:
        return ConnectionLostError(
            f"Cannot connect to {settings.url.destination} with ssh"
            + (f": {said}" if said else " (ssh exit status 255)"), path=str(settings.url))
    setting = "SHEPHERD_REMOTE_PYTHON (or the remote_python argument)"
    if status in (126, 127):  # (sh: not found, not executable)
        return RemoteSetupError(
            f"{host} has no {python}: install Python {'.'.join(map(str, NEEDED_PYTHON))} or "
            f"newer there (Debian, Ubuntu: sudo apt install python3), or set {setting} to "
            f"the python to use there. ({said or f'exit status {status}'})",
            path=str(settings.url))
    if python_version is not None and _older(python_version):
        return RemoteSetupError(
            f"{host} has Python {python_version} as {python}; shepherd_store needs "
            f"{'.'.join(map(str, NEEDED_PYTHON))} or newer. Install it there (Debian 12, "
            f"Ubuntu 24.04: python3) and set {setting} to it.", path=str(settings.url))
    missing = _NO_MODULE.search(said)
    if missing is not None and not bootstrap:
        what = ("is not installed" if missing.group(1) == "shepherd_store"
                else f"there is older than {__version__} (it has no {missing.group(1)})")
        return RemoteSetupError(
            f"The shepherd_store library {what} for {python} on {host}. Install "
            f"shepherd_store {__version__} there for the user you connect as (for example "
            f"pip install --user shepherd-inspector=={__version__}), or connect with "
            "bootstrap=True to copy this library to ~/.cache/shepherd-store on "
            f"{host} and run it from there (no root needed).", path=str(settings.url))
    return RemoteSetupError(
        f"The remote side on {host} ended before it started serving (exit status "
        f"{status}): {said or 'it said nothing'}", path=str(settings.url))


def _older(version: str) -> bool:
    try:
        major, minor = (int(p) for p in version.strip().split(".")[:2])
    except ValueError:
        return False
    return (major, minor) < NEEDED_PYTHON
