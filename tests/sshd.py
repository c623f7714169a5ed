"""A real OpenSSH server on 127.0.0.1 for the remote-database tests (issue #17: "tests with
the real thing", no mock).

`Sshd.start(folder)` makes a throwaway host key and client key (`ssh-keygen`), an
`sshd_config` that listens on a free port of 127.0.0.1 and lets the client key log in as
the current user (`AuthorizedKeysFile`, `StrictModes no`, `UsePAM no`, `PermitRootLogin
prohibit-password`, its `PidFile` in the folder), starts `/usr/sbin/sshd -D -e -f CONFIG`,
and writes an ssh client config (`ssh_config`, for `ssh -F`) with the client key, the host
key as the only known host, `StrictHostKeyChecking yes` and `BatchMode yes`. `stop()` ends
the server. A missing sshd or ssh-keygen fails, never skips: install openssh-server.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SSHD = Path("/usr/sbin/sshd")
START_TIMEOUT_S = 10.0


def _need(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        pytest.fail(f"{program} is missing: install openssh-server and openssh-client "
                    "(Debian: apt-get install openssh-server)")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.settimeout(2)
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


@dataclass
class Sshd:
    """A running sshd for the current user, and what a client needs to reach it."""

    folder: Path
    port: int
    user: str
    process: subprocess.Popen[bytes]
    ssh_config: Path
    log: Path
    logs: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def url(self, path: str | Path) -> str:
        """The `ssh://user@127.0.0.1:port/path` address of a file on this machine."""
        return f"ssh://{self.user}@127.0.0.1:{self.port}{Path(path).absolute()}"

    def ssh_argv(self, command: str) -> list[str]:
        """An ssh command line that runs `command` through this server."""
        return ["ssh", "-F", str(self.ssh_config), "-p", str(self.port), "-T",
                f"{self.user}@127.0.0.1", command]

    @classmethod
    def start(cls, folder: Path) -> Sshd:
        if not SSHD.is_file():
            pytest.fail(f"{SSHD} is missing: install openssh-server "
                        "(Debian: apt-get install openssh-server)")
        keygen = _need("ssh-keygen")
        _need("ssh")
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("host_key", "client_key"):
            subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", f"shepherd-{name}",
                            "-f", str(folder / name)], check=True, capture_output=True)
        (folder / "authorized_keys").write_text((folder / "client_key.pub").read_text())
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # its privilege separation
        user = getpass.getuser()
        log = folder / "sshd.log"
        last_error = ""
        for _attempt in range(5):  # (another process may take the free port first)
            port = _free_port()
            config = folder / "sshd_config"
            config.write_text("\n".join([
                "ListenAddress 127.0.0.1", f"Port {port}", f"HostKey {folder / 'host_key'}",
                f"AuthorizedKeysFile {folder / 'authorized_keys'}", "StrictModes no",
                "UsePAM no", "PermitRootLogin prohibit-password", "PubkeyAuthentication yes",
                "PasswordAuthentication no", "KbdInteractiveAuthentication no",
                f"PidFile {folder / 'sshd.pid'}", f"AllowUsers {user}", "PrintMotd no",
                "X11Forwarding no", "AllowAgentForwarding no", "AllowTcpForwarding no",
                "MaxStartups 50:30:100", "LogLevel INFO", ""]))
            with log.open("ab") as out:
                process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)],
                                           stdin=subprocess.DEVNULL, stdout=out, stderr=out)
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline and process.poll() is None:
                if _accepts(port):
                    break
                time.sleep(0.05)
            if process.poll() is None and _accepts(port):
                break
            if process.poll() is None:
                process.kill()
            process.wait()
            last_error = log.read_text(errors="replace")[-2000:]
        else:
            pytest.fail(f"sshd did not start: {last_error}")
        host_key = (folder / "host_key.pub").read_text().split()
        (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
        ssh_config = folder / "ssh_config"
        ssh_config.write_text("\n".join([
            "Host *", f"  User {user}", f"  IdentityFile {folder / 'client_key'}",
            "  IdentitiesOnly yes", "  IdentityAgent none",
            f"  UserKnownHostsFile {folder / 'known_hosts'}", "  GlobalKnownHostsFile /dev/null",
            "  StrictHostKeyChecking yes", "  BatchMode yes", "  ConnectTimeout 10",
            "  ControlMaster no", "  ControlPath none", "  LogLevel ERROR", ""]))
        return cls(folder=folder, port=port, user=user, process=process,
                   ssh_config=ssh_config, log=log)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
