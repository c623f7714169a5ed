"""The start-up check that names the system libraries Qt's xcb plugin lacks instead of aborting."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from inspector import qt_requirements
from inspector.qt_requirements import (
    dlopen_missing,
    missing_libraries,
    parse_ldd,
    startup_problem,
    uses_xcb,
    xcb_plugin_files,
)

REPO = Path(__file__).resolve().parent.parent
X11 = {"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}
PLUGIN = [Path("libqxcb.so")]


def missing(*sonames: str) -> qt_requirements.Resolver:
    """A resolver that reports `sonames` missing, whatever it is asked about."""
    return lambda files: list(sonames)


class Spy:
    """A resolver that records whether the check asked it anything."""

    def __init__(self) -> None:
        self.calls: list[Sequence[Path]] = []

    def __call__(self, files: Sequence[Path]) -> list[str]:
        self.calls.append(files)
        return ["libxcb-cursor.so.0"]


def fake_ldd(directory: Path, body: str) -> Path:
    """An executable `ldd` in `directory` running the shell `body`, for PATH to find first."""
    directory.mkdir(exist_ok=True)
    ldd = directory / "ldd"
    ldd.write_text(f"#!/bin/sh\n{body}\n")
    ldd.chmod(0o755)
    return directory


def test_message_names_the_missing_libraries_and_each_distributions_packages() -> None:
    message = startup_problem(environ=X11, platform="linux", files=PLUGIN,
                              resolve=missing("libxcb-cursor.so.0", "libxcb-icccm.so.4"))
    assert message == (
        "The inspector cannot open a window: Qt's X11 (xcb) platform needs system libraries that "
        "are missing: libxcb-cursor.so.0, libxcb-icccm.so.4.\n"
        "Install them with one command:\n"
        "  Debian/Ubuntu: sudo apt install libxcb-cursor0 libxcb-icccm4\n"
        "  Fedora: sudo dnf install xcb-util-cursor xcb-util-wm\n"
        "  Arch: sudo pacman -S xcb-util-cursor xcb-util-wm\n"
        "(or run it without a display with QT_QPA_PLATFORM=offscreen)")


@pytest.mark.parametrize(("soname", "apt", "dnf", "pacman"), [
    ("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    ("libxcb-image.so.0", "libxcb-image0", "xcb-util-image", "xcb-util-image"),
    ("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil",
     "xcb-util-renderutil"),
    ("libxcb-xinerama.so.0", "libxcb-xinerama0", "libxcb", "libxcb"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
    ("libEGL.so.1", "libegl1", "libglvnd-egl", "libglvnd"),
    ("libGL.so.1", "libgl1", "libglvnd-glx", "libglvnd"),
    ("libfontconfig.so.1", "libfontconfig1", "fontconfig", "fontconfig"),
    ("libdbus-1.so.3", "libdbus-1-3", "dbus-libs", "dbus"),
])
def test_each_soname_maps_to_its_package(soname: str, apt: str, dnf: str, pacman: str) -> None:
    message = startup_problem(environ=X11, platform="linux", files=PLUGIN,
                              resolve=missing(soname))
    assert message is not None
    assert f"missing: {soname}.\n" in message
    assert f"sudo apt install {apt}\n" in message
    assert f"sudo dnf install {dnf}\n" in message
    assert f"sudo pacman -S {pacman}\n" in message


def test_a_package_holding_several_missing_libraries_is_named_once() -> None:
    message = startup_problem(environ=X11, platform="linux", files=PLUGIN,
                              resolve=missing("libxcb-shape.so.0", "libxcb-randr.so.0"))
    assert message is not None
    assert "sudo apt install libxcb-shape0 libxcb-randr0\n" in message
    assert "sudo dnf install libxcb\n" in message
    assert "sudo pacman -S libxcb\n" in message


def test_an_unknown_library_is_still_named() -> None:
    message = startup_problem(environ=X11, platform="linux", files=PLUGIN,
                              resolve=missing("libxcb-cursor.so.0", "libwonder.so.7"))
    assert message is not None
    assert "missing: libxcb-cursor.so.0, libwonder.so.7." in message
    assert "sudo apt install libxcb-cursor0\n" in message
    assert "package of libwonder.so.7" in message


@pytest.mark.parametrize("environ", [
    {"QT_QPA_PLATFORM": "offscreen"},
    {"QT_QPA_PLATFORM": "offscreen:configfile=/tmp/screens.json"},
    {"QT_QPA_PLATFORM": "wayland", "WAYLAND_DISPLAY": "wayland-0"},
    {"QT_QPA_PLATFORM": "minimal"},
    {"QT_QPA_PLATFORM": "vnc"},
    {"QT_QPA_PLATFORM": "eglfs"},
    {"QT_QPA_PLATFORM": "xcb;offscreen"},
    {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"},
    {"XDG_SESSION_TYPE": "wayland"},
    {"QT_QPA_PLATFORM": "xcb", "QT_QPA_PLATFORM_PLUGIN_PATH": "/opt/qt/plugins/platforms"},
])
def test_platforms_other_than_xcb_alone_skip_the_check(environ: dict[str, str]) -> None:
    spy = Spy()
    assert startup_problem(environ=environ, platform="linux", files=PLUGIN, resolve=spy) is None
    assert spy.calls == []


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_only_linux_is_checked(platform: str) -> None:
    spy = Spy()
    assert startup_problem(environ=X11, platform=platform, files=PLUGIN, resolve=spy) is None
    assert spy.calls == []


@pytest.mark.parametrize("environ", [
    {"DISPLAY": ":0"}, {"QT_QPA_PLATFORM": "", "DISPLAY": ":0"}, {"QT_QPA_PLATFORM": "xcb"},
    {"QT_QPA_PLATFORM": "xcb:nograb"}, {"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"},
    {"XDG_SESSION_TYPE": "x11"},
])
def test_xcb_is_checked_when_unset_empty_or_forced(environ: dict[str, str]) -> None:
    assert uses_xcb(environ, "linux")


def test_all_present_with_a_display_means_no_problem() -> None:
    assert startup_problem(environ=X11, platform="linux", files=PLUGIN, resolve=missing()) is None


def test_no_display_says_so_and_how_to_get_one() -> None:
    message = startup_problem(environ={}, platform="linux", files=PLUGIN, resolve=missing())
    assert message is not None
    assert message.startswith("The inspector cannot open a window: no display is set")
    assert "ssh -X" in message
    assert message.endswith("QT_QPA_PLATFORM=offscreen)")
    forced = startup_problem(environ={"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"},
                             platform="linux", files=PLUGIN, resolve=missing())
    assert forced is not None and "DISPLAY is not set" in forced


def test_missing_libraries_and_no_display_are_both_told() -> None:
    message = startup_problem(environ={}, platform="linux", files=PLUGIN,
                              resolve=missing("libxcb-cursor.so.0"))
    assert message is not None
    assert "sudo apt install libxcb-cursor0" in message
    assert "\nAlso, no display is set" in message


def test_a_failing_check_lets_the_inspector_proceed() -> None:
    def broken(files: Sequence[Path]) -> list[str]:
        raise RuntimeError("ldd exploded")

    assert startup_problem(environ=X11, platform="linux", files=PLUGIN, resolve=broken) is None


def test_parse_ldd_reads_glibc_and_musl_output() -> None:
    glibc = ("/x/libqxcb.so:\n\tlinux-vdso.so.1 (0x00007f)\n"
             "\tlibxcb-icccm.so.4 => not found\n\tlibxcb.so.1 => /lib/libxcb.so.1 (0x1)\n"
             "/x/libQt6XcbQpa.so.6:\n\tlibxcb-icccm.so.4 => not found\n"
             "\tlibxcb-keysyms.so.1 => not found\n")
    assert parse_ldd(glibc) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    musl = "Error loading shared library libxcb-cursor.so.0: No such file or directory"
    assert parse_ldd(musl) == ["libxcb-cursor.so.0"]
    assert parse_ldd("\tnot a dynamic executable\n") == []


def test_the_real_resolver_runs_on_this_machine() -> None:
    """Whatever this machine lacks, ldd and dlopen, two independent ways, must agree on it."""
    files = xcb_plugin_files()
    assert [f.name for f in files] == ["libqxcb.so", "libQt6XcbQpa.so.6"]
    started = time.perf_counter()
    found = missing_libraries(files, os.environ)
    elapsed = time.perf_counter() - started
    assert isinstance(found, list) and all(isinstance(s, str) and ".so" in s for s in found)
    assert sorted(found) == sorted(dlopen_missing(files))
    assert elapsed < 1.0, f"the check took {elapsed:.3f} s"


def test_a_fake_ldd_on_path_is_the_one_asked(tmp_path: Path) -> None:
    bin_dir = fake_ldd(tmp_path / "bin", "printf '\\tlibxcb-cursor.so.0 => not found\\n'")
    message = startup_problem(environ={**X11, "PATH": str(bin_dir)}, platform="linux")
    assert message is not None
    assert "missing: libxcb-cursor.so.0.\n" in message


def test_a_hanging_ldd_times_out_and_the_inspector_proceeds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qt_requirements, "LDD_TIMEOUT", 0.2)
    bin_dir = fake_ldd(tmp_path / "bin", "exec sleep 30")
    started = time.perf_counter()
    assert startup_problem(environ={**X11, "PATH": str(bin_dir)}, platform="linux") is None
    assert time.perf_counter() - started < 5


def run_inspector(tmp_path: Path, ldd_body: str, **environ: str) -> tuple[int, str, float]:
    """`python -m inspector` on X11 with a fake `ldd` first on PATH: (status, stderr, seconds)."""
    bin_dir = fake_ldd(tmp_path / "bin", ldd_body)
    env = {k: v for k, v in os.environ.items() if k not in {
        "DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE", "QT_QPA_PLATFORM_PLUGIN_PATH"}}
    env.update(QT_QPA_PLATFORM="xcb", PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
               PYTHONPATH=str(REPO), **environ)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "inspector", "--read-only",
                           str(tmp_path / "absent.db")], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    return done.returncode, done.stderr, time.perf_counter() - started


def test_python_m_inspector_names_a_missing_library_instead_of_aborting(tmp_path: Path) -> None:
    status, stderr, seconds = run_inspector(
        tmp_path, "printf '\\tlibxcb-cursor.so.0 => not found\\n'", DISPLAY=":99")
    assert status == 1, stderr
    assert "missing: libxcb-cursor.so.0.\n" in stderr
    assert "sudo apt install libxcb-cursor0\n" in stderr
    assert "sudo dnf install xcb-util-cursor\n" in stderr
    assert "sudo pacman -S xcb-util-cursor\n" in stderr
    assert "icccm" not in stderr  # the fake ldd was asked, not the machine's
    assert "qt.qpa" not in stderr and "Traceback" not in stderr
    assert seconds < 10


def test_python_m_inspector_without_a_display_says_so(tmp_path: Path) -> None:
    status, stderr, _ = run_inspector(tmp_path, "true")
    assert status == 1, stderr
    assert stderr.startswith("The inspector cannot open a window: no display is set")
    assert "qt.qpa" not in stderr and "Traceback" not in stderr
