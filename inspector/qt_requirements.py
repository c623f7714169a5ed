"""Before Qt starts: the system libraries its X11 (xcb) platform plugin lacks, and what to install.

Without them Qt aborts the process (SIGABRT) while constructing QApplication, and its
`qt.qpa.plugin` line blames xcb-cursor even when another library is the one missing. This module
never imports Qt's libraries: it only locates the PySide6 package, asks `ldd` which of the
plugin's shared libraries cannot be found, and turns their sonames into one install command per
distribution.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

Resolver = Callable[[Sequence[Path]], list[str]]

# soname -> (Debian/Ubuntu, Fedora, Arch) package: the libraries Qt 6's xcb plugin links.
PACKAGES: dict[str, tuple[str, str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil",
                                "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11"),
    "libXau.so.6": ("libxau6", "libXau", "libxau"),
    "libXdmcp.so.6": ("libxdmcp6", "libXdmcp", "libxdmcp"),
    "libSM.so.6": ("libsm6", "libSM", "libsm"),
    "libICE.so.6": ("libice6", "libICE", "libice"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx", "libglvnd"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl", "libglvnd"),
    "libGLdispatch.so.0": ("libglvnd0", "libglvnd", "libglvnd"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype", "freetype2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "dbus"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
}
DISTROS = (("Debian/Ubuntu", "sudo apt install"), ("Fedora", "sudo dnf install"),
           ("Arch", "sudo pacman -S"))

# glibc's ldd: "\tlibfoo.so.1 => not found"; musl's: "Error loading shared library libfoo.so.1: ".
_NOT_FOUND = re.compile(r"^\s*(\S+) => not found\s*$|^Error loading shared library (\S+?):",
                        re.MULTILINE)
LDD_TIMEOUT = 3.0
CANNOT = "The inspector cannot open a window: "
NO_DISPLAY = ("no display is set (neither DISPLAY nor WAYLAND_DISPLAY). Start it from a desktop "
              "session, or over ssh with X11 forwarding (ssh -X).")
NO_X_DISPLAY = ("QT_QPA_PLATFORM=xcb asks for X11 but DISPLAY is not set. Unset QT_QPA_PLATFORM "
                "to use Wayland, or use ssh -X.")
OFFSCREEN = "(or run it without a display with QT_QPA_PLATFORM=offscreen)"


def uses_xcb(environ: Mapping[str, str], platform: str) -> bool:
    """Whether Qt would start on X11 (xcb) alone, so missing xcb libraries or display are fatal.

    Mirrors QGuiApplication: QT_QPA_PLATFORM wins (a ';' list falls back entry by entry, so only a
    list of xcb entries is fatal); unset, Qt 6 tries Wayland first when WAYLAND_DISPLAY is set or
    XDG_SESSION_TYPE is "wayland", else xcb. Qt only loads xcb from PySide6 on Linux.
    """
    if not platform.startswith("linux") or environ.get("QT_QPA_PLATFORM_PLUGIN_PATH"):
        return False
    forced = environ.get("QT_QPA_PLATFORM", "")
    if forced:
        return all(entry.split(":", 1)[0].strip() == "xcb" for entry in forced.split(";"))
    return not environ.get("WAYLAND_DISPLAY") and environ.get("XDG_SESSION_TYPE") != "wayland"


def xcb_plugin_files() -> list[Path]:
    """The xcb platform plugin and the Qt library it links, as installed with PySide6.

    find_spec() reads the package's location without loading any Qt library.
    """
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return []
    qt = Path(next(iter(spec.submodule_search_locations))) / "Qt"
    files = [qt / "plugins" / "platforms" / "libqxcb.so", qt / "lib" / "libQt6XcbQpa.so.6"]
    return [f for f in files if f.is_file()]


def parse_ldd(output: str) -> list[str]:
    """The sonames `ldd` reported as not found, once each, in the order it named them."""
    names = (m.group(1) or m.group(2) for m in _NOT_FOUND.finditer(output))
    return list(dict.fromkeys(names))


def ldd_missing(files: Sequence[Path], ldd: str, environ: Mapping[str, str]) -> list[str]:
    """Ask `ldd` (the dynamic loader, so LD_LIBRARY_PATH counts as it will for Qt) what is missing.

    ldd also follows the libraries' own dependencies. Raises OSError or TimeoutExpired on failure.
    """
    done = subprocess.run([ldd, *map(str, files)], capture_output=True, text=True,
                          errors="replace", timeout=LDD_TIMEOUT,
                          env={**environ, "LC_ALL": "C"}, check=False)
    return parse_ldd(done.stdout + done.stderr)


def dlopen_missing(files: Sequence[Path]) -> list[str]:
    """Without ldd: the known sonames the files name that the dynamic loader cannot open."""
    blob = b"".join(f.read_bytes() for f in files)
    missing = []
    for soname in PACKAGES:
        if b"\0" + soname.encode() + b"\0" not in blob:
            continue
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(soname)
    return missing


def missing_libraries(files: Sequence[Path],
                      environ: Mapping[str, str] | None = None) -> list[str]:
    """The shared libraries `files` need that this system lacks (ldd on PATH, else dlopen)."""
    env = os.environ if environ is None else environ
    ldd = shutil.which("ldd", path=env.get("PATH", os.defpath))
    return ldd_missing(files, ldd, env) if ldd else dlopen_missing(files)


def install_message(missing: Sequence[str]) -> str:
    """What is missing and the one command per distribution that installs it."""
    known = [PACKAGES[s] for s in missing if s in PACKAGES]
    unknown = [s for s in missing if s not in PACKAGES]
    lines = [f"{CANNOT}Qt's X11 (xcb) platform needs system libraries that are missing: "
             f"{', '.join(missing)}."]
    if known:
        lines.append("Install them with one command:")
        for column, (distro, command) in enumerate(DISTROS):
            packages = dict.fromkeys(p[column] for p in known)
            lines.append(f"  {distro}: {command} {' '.join(packages)}")
    if unknown:
        lines.append(f"Your package manager's file search names the package of "
                     f"{', '.join(unknown)} (apt-file search, dnf provides, pacman -F).")
    return "\n".join(lines)


def startup_problem(environ: Mapping[str, str] | None = None, platform: str | None = None,
                    resolve: Resolver | None = None,
                    files: Sequence[Path] | None = None) -> str | None:
    """Why Qt would abort on start on this system, with what to do; None when it should start.

    Every input can be injected for tests: `resolve(files)` returns the missing sonames. Any
    unexpected error means None: this check must never be what stops the inspector.
    """
    try:
        env = os.environ if environ is None else environ
        if not uses_xcb(env, sys.platform if platform is None else platform):
            return None
        plugin = xcb_plugin_files() if files is None else files
        if resolve is None:
            missing = missing_libraries(plugin, env) if plugin else []
        else:
            missing = resolve(plugin)
        problems = [install_message(missing)] if missing else []
        if not env.get("DISPLAY"):
            reason = NO_X_DISPLAY if env.get("WAYLAND_DISPLAY") else NO_DISPLAY
            problems.append(("Also, " if problems else CANNOT) + reason)
        return "\n".join([*problems, OFFSCREEN]) if problems else None
    except Exception:
        return None
