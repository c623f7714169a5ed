"""The remote protocol's pieces without a connection: addresses, the typed values that cross,
errors as they cross, the handshake's checks, the ssh command lines and the library zip."""

from __future__ import annotations

import io
import shlex
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import fixture_path

from shepherd_store import (
    AuditFilter,
    AuditPage,
    ConflictError,
    LockedError,
    SqliteStore,
    StoreError,
    __version__,
    recover,
)
from shepherd_store.check import check
from shepherd_store.errors import (
    ConnectionLostError,
    ProtocolError,
    RemoteError,
    RemoteSetupError,
    RemoteUrlError,
)
from shepherd_store.overrides import CooldownChange, OverrideConflict
from shepherd_store.remote.codec import decode_value, encode_value, schema_digest
from shepherd_store.remote.launch import SshSettings, library_zip, startup_error
from shepherd_store.remote.protocol import (
    PROTOCOL_VERSION,
    check_hello,
    decode_error,
    decode_line,
    encode_error,
    encode_line,
    hello_message,
)
from shepherd_store.remote.url import RemoteUrl, looks_remote, parse_url
from shepherd_store.schema import Layout

# --- addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("ssh://kids-pc/var/lib/shepherdd/shepherdd.db",
     RemoteUrl("kids-pc", "/var/lib/shepherdd/shepherdd.db")),
    ("ssh://parent@kids-pc:2222/var/lib/shepherdd/shepherdd.db",
     RemoteUrl("kids-pc", "/var/lib/shepherdd/shepherdd.db", "parent", 2222)),
    ("SSH://10.0.0.7/db", RemoteUrl("10.0.0.7", "/db")),
    ("ssh://[::1]:22/srv/a%20b.db", RemoteUrl("::1", "/srv/a b.db", None, 22)),
    ("ssh://anna@pc/~/.local/share/shepherdd/shepherdd.db",
     RemoteUrl("pc", "~/.local/share/shepherdd/shepherdd.db", "anna")),
])
def test_addresses_are_read(text: str, expected: RemoteUrl) -> None:
    assert looks_remote(text)
    assert parse_url(text) == expected
    assert parse_url(str(expected)) == expected  # (written back, it reads the same)


@pytest.mark.parametrize(("text", "why"), [
    ("ssh:kids-pc/db", "followed by //"),
    ("ssh://", "path"),
    ("ssh://kids-pc", "path"),
    ("ssh://kids-pc/", "path"),
    ("ssh:///var/db", "host is missing"),
    ("ssh://kids-pc:0/db", "port"),
    ("ssh://kids-pc:99999/db", "port"),
    ("ssh://kids-pc:ssh/db", "port"),
    ("ssh://-oProxyCommand=evil/db", "host"),
    ("ssh://-l@kids-pc/db", "user name"),
    ("ssh://@kids-pc/db", "user name"),
    ("ssh://kids pc/db", "spaces"),
    ("ssh://kids-pc/db?x=1", "? or #"),
    ("ssh://[::1/db", "IPv6"),
    ("ssh://kids-pc/a%00b", "NUL"),
])
def test_malformed_addresses_say_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(RemoteUrlError, match="ssh://\\[user@\\]host\\[:port\\]/path") as err:
        parse_url(text)
    assert why in str(err.value)
    assert isinstance(err.value, (StoreError, ValueError))


@pytest.mark.parametrize("text", ["/var/lib/shepherdd/shepherdd.db", "shepherdd.db",
                                  "./ssh:odd.db", "~/x.db", "C:/db", "sshd.db"])
def test_local_paths_are_not_remote(text: str) -> None:
    assert not looks_remote(text)


# --- values --------------------------------------------------------------------------------------


def roundtrip(value: object) -> object:
    line = encode_line({"v": encode_value(value)})
    assert line.isascii()
    return decode_value(decode_line(line)["v"])


def test_plain_and_tagged_values_cross_unchanged() -> None:
    east = timezone(timedelta(hours=5, minutes=30))
    values = [None, True, 0, -5, 2**63, 1.5, "text", "\udcff lone", [1, [2]], (1, (2,)),
              frozenset({"a", "b"}), {None: "x", "k": (1,)}, b"\x00\xff",
              datetime(2026, 3, 7, 15, 0, 0, 137000, tzinfo=timezone(timedelta(hours=-5))),
              datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 1, 2, 3, 4, tzinfo=east),
              date(2026, 3, 7), timedelta(days=-1, seconds=5, microseconds=7), Layout.RUST,
              AuditFilter(frozenset({"session_started"}), "minecraft", None,
                          datetime(2026, 1, 1, tzinfo=UTC), None, "x%_"),
              CooldownChange("minecraft", None, None)]
    for value in values:
        back = roundtrip(value)
        assert back == value and type(back) is type(value), value
    stamp = roundtrip(values[13])
    assert isinstance(stamp, datetime) and stamp.utcoffset() == timedelta(hours=-5)


@pytest.mark.parametrize("name", ["rust-v0.db", "rust-crash-restarted.db"])
def test_what_the_store_answers_crosses_unchanged(name: str) -> None:
    with SqliteStore.open(fixture_path(name), read_only=True) as store:
        page = store.find_audits(AuditFilter(), limit=1000)
        back = roundtrip(page)
        assert isinstance(back, AuditPage) and back == page
        assert [(e.raw_timestamp, e.raw_json) for e in back.events] == \
            [(e.raw_timestamp, e.raw_json) for e in page.events]
        now = datetime(2026, 3, 9, tzinfo=UTC)
        report = recover(store, now=now)
        assert roundtrip(report) == report
        answers = [store.usage_between(), store.all_cooldowns(), store.change_token(),
                   store.load_snapshot_text(), store.list_overrides(), store.entry_labels(),
                   store.audit_id_range(), check(store)]
        for answer in answers:
            assert roundtrip(answer) == answer


@pytest.mark.parametrize("obj", [
    {"$": "os.system", "f": {}}, {"$": "AuditFilter", "f": {"nope": 1}},
    {"$": "AuditFilter", "f": {"since": {"$dt": "2026-01-01T00:00:00"}}},  # naive: refused
    {"$enum": "Path", "v": "/"}, {"$dt": "yesterday"}, {"$td": [1]}, {"$map": [[[1], 2]]},
    {"$bytes": "***"}, {"$what": 1}, {"a": 1, "b": 2, "c": 3}, {"$tuple": 5},
])
def test_values_this_side_does_not_know_are_refused(obj: object) -> None:
    with pytest.raises(ProtocolError):
        decode_value(obj)


def test_deep_values_are_refused_not_recursed_into() -> None:
    deep: object = 1
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ProtocolError, match="nests too deeply"):
        decode_value(deep)
    with pytest.raises(StoreError, match="nests too deeply"):
        encode_value(deep)


def test_what_does_not_cross_is_said() -> None:
    with pytest.raises(StoreError, match="Path cannot be sent"):
        encode_value(Path("/"))


# --- errors ------------------------------------------------------------------------------------


def test_errors_cross_as_themselves_with_their_attributes() -> None:
    conflict = OverrideConflict("changed meanwhile", {"minecraft": "2026-01-01T00:00:00Z",
                                                      "tuxmath": None}, path="/db")
    back = decode_error(decode_line(encode_line(encode_error(conflict))))
    assert type(back) is OverrideConflict and isinstance(back, ConflictError)
    assert str(back) == "changed meanwhile" and back.path == "/db"
    assert back.conflicts == conflict.conflicts and back.current == "2026-01-01T00:00:00Z"
    locked = decode_error(encode_error(LockedError("Cannot read: locked", path="/db")))
    assert type(locked) is LockedError and locked.message == "Cannot read: locked"
    lost = decode_error(encode_error(ConnectionLostError("gone", edit_id="e1")))
    assert type(lost) is ConnectionLostError and lost.edit_id == "e1"


def test_other_failures_cross_as_the_remote_sides() -> None:
    back = decode_error(encode_error(ZeroDivisionError("division by zero")))
    assert type(back) is RemoteError
    assert str(back) == "The remote side failed: ZeroDivisionError: division by zero"
    assert isinstance(decode_error("junk"), ProtocolError)


# --- the handshake -----------------------------------------------------------------------------


def test_the_hello_of_this_library_is_accepted() -> None:
    hello = hello_message()
    assert hello["protocol"] == PROTOCOL_VERSION and hello["schema"] == schema_digest()
    check_hello(hello, "pc")


@pytest.mark.parametrize(("change", "said"), [
    ({"hello": "something"}, "did not answer as"),
    ({"protocol": PROTOCOL_VERSION + 1}, "protocol"),
    ({"schema": "0000", "version": "0.0.1"}, "records differ"),
])
def test_another_version_is_refused_with_what_to_install(change: dict[str, object],
                                                         said: str) -> None:
    with pytest.raises(ProtocolError, match=said) as err:
        check_hello({**hello_message(), **change}, "kids-pc")
    if "hello" not in change:
        assert f"Install shepherd_store {__version__} there" in str(err.value)
        assert "bootstrap=True" in str(err.value)


# --- launching ---------------------------------------------------------------------------------


def test_the_ssh_command_line_keeps_the_users_options_first(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.setenv("SHEPHERD_SSH_OPTIONS", "-o ConnectTimeout=3 -J jump")
    monkeypatch.setenv("SHEPHERD_REMOTE_PYTHON", "/opt/py 3/bin/python3.11 -S")
    url = parse_url("ssh://anna@kids-pc:2222/var/lib/it's.db")
    settings = SshSettings.make(url, ssh_config="/tmp/cfg")
    argv = settings.argv(settings.serve_command(write=True, bootstrap=None))
    assert argv[:5] == ["ssh", "-o", "ConnectTimeout=3", "-J", "jump"]
    assert argv[-5:-2] == ["-F", "/tmp/cfg", "--"] and argv[-2] == "anna@kids-pc"
    assert argv[argv.index("-p"):argv.index("-p") + 2] == ["-p", "2222"]
    assert "-a" in argv and "-T" in argv  # no agent forwarding to the child's computer
    words = shlex.split(argv[-1])
    assert words[:5] == ["sh", "-c", 'exec "$@"', "sh", "/opt/py"]
    assert words[5:] == ["3/bin/python3.11", "-S", "-m", "shepherd_store.remote", "serve",
                         "--stdio", "--db", "/var/lib/it's.db", "--write"]
    explicit = SshSettings.make(url, ssh_options=[], remote_python="python3")
    assert explicit.options == () and explicit.python == ("python3",)


def test_the_bootstrap_runs_the_cached_zip_from_the_remote_home() -> None:
    settings = SshSettings.make(parse_url("ssh://pc/db"), remote_python="python3")
    zipped = library_zip()
    command = settings.serve_command(write=False, bootstrap=zipped)
    script = shlex.split(command)[2]
    assert f'"$HOME"/.cache/shepherd-store/{zipped.version}/shepherd_store.zip' in script
    assert "exit 97" in script and 'PYTHONPATH="$Z"' in script
    assert zipped.version.startswith(f"{__version__}+")


def test_the_library_zip_holds_the_package_and_nothing_else() -> None:
    zipped = library_zip()
    names = zipfile.ZipFile(io.BytesIO(zipped.data)).namelist()
    assert "shepherd_store/__init__.py" in names and "shepherd_store/py.typed" in names
    assert "shepherd_store/remote/server.py" in names
    assert "shepherd_store/recovery/scanner.py" in names
    assert all(n.startswith("shepherd_store/") and "__pycache__" not in n for n in names)
    assert all(n.endswith((".py", "py.typed")) for n in names)


def test_what_the_remote_side_lacks_is_said_with_what_to_install() -> None:
    settings = SshSettings.make(parse_url("ssh://kids-pc/db"), remote_python="python3")
    lost = startup_error(settings, 255, "ssh: connect to host kids-pc port 22: Connection "
                         "refused", bootstrap=False)
    assert isinstance(lost, ConnectionLostError) and "Connection refused" in str(lost)
    no_python = startup_error(settings, 127, "sh: 1: exec: python3: not found",
                              bootstrap=False)
    assert isinstance(no_python, RemoteSetupError)
    assert "install Python 3.11" in str(no_python) and "SHEPHERD_REMOTE_PYTHON" in str(no_python)
    old = startup_error(settings, 1, "SyntaxError", "3.8", bootstrap=False)
    assert "Python 3.8" in str(old) and "needs 3.11" in str(old)
    missing = startup_error(settings, 1, "/usr/bin/python3: Error while finding module "
                            "specification for 'shepherd_store.remote' (ModuleNotFoundError: "
                            "No module named 'shepherd_store')", bootstrap=False)
    assert "is not installed" in str(missing) and "bootstrap=True" in str(missing)
    older = startup_error(settings, 1, "No module named shepherd_store.remote",
                          bootstrap=False)
    assert "older than" in str(older)
