"""Native code: a candidate's C sources, built into one shared library inside the sandbox.

A kata that allows it (`native: true` in kata.yaml; the tokenizer speed-up) lets the
candidate put C files in the workspace's `native/` folder. Before their code runs,
drill compiles them with the machine's C compiler into `libnative.so` and names the
library in the environment variable `DRILL_NATIVE_LIB` of every process that runs the
candidate's code; the solution loads it with ctypes. C, not Rust: a PyO3 build needs
crates that a machine without network cannot fetch, and cc is on most machines.

The compiler runs in a worker of its own, forked by the same zygote and sandboxed like
any other (docs/security.md), except that it may also execute the C toolchain (the
compiler driver, its cc1 and collect2, the assembler and the linker) and nothing else.
It reads a private copy of the sources and writes only its folder; the parent copies
the library out of it. A solution process may still execute no program at all.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from grader.paths import NotOwnFile, copy_own_file

if TYPE_CHECKING:
    from grader.sandbox import ZygoteProcess

FOLDER = "native"  # in the workspace: the C sources
LIBRARY = "libnative.so"
ENV = "DRILL_NATIVE_LIB"  # the built library's path, in the solution's environment
SUFFIXES = (".c", ".h")
MAX_FILES = 32
MAX_BYTES = 1 << 20  # all sources together
BUILD_S = 120  # the whole build, wall clock
FLAGS = ("-O2", "-shared", "-fPIC", "-std=c11", "-Wall")


@dataclass(frozen=True)
class Build:
    library: Path | None  # None when it failed
    error: str = ""  # why it failed, in one line (the compiler's first error)
    sources: tuple[str, ...] = ()
    output: str = ""  # all the compiler said, its paths as the workspace's (native/add.c)


def sources(root: Path) -> list[Path]:
    """The workspace's C sources and headers (`native/*.c`, `native/*.h`)."""
    folder = root / FOLDER
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and not p.is_dir())


def digest(files: list[Path]) -> str:
    """What the sources are, for `drill test` to rebuild only when they change."""
    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@cache
def toolchain() -> tuple[Path, ...] | None:
    """The programs a build may execute (real paths), or None without a C compiler;
    asked of the compiler once a process (`drill watch` builds on every change)."""
    cc = shutil.which("cc")
    if cc is None:
        return None
    programs = [cc, shutil.which("as"), shutil.which("ld")]
    for part in ("cc1", "collect2"):
        found = subprocess.run(
            [cc, f"-print-prog-name={part}"], capture_output=True, text=True, check=False
        ).stdout.strip()
        programs.append(shutil.which(found) or found)
    return tuple(Path(os.path.realpath(p)) for p in programs if p and os.path.exists(p))


def build(
    files: list[Path],
    workdir: Path,
    dest: Path,
    zygote: ZygoteProcess,
    limits: dict[str, int],
    programs: Sequence[Path] | None = None,
) -> Build:
    """Compile `files` in a sandboxed worker (its sources and output under `workdir`)
    into `dest/libnative.so`, a folder the solution's processes may read."""
    names = tuple(p.name for p in files)
    programs = toolchain() if programs is None else programs
    if not programs:
        why = f"{FOLDER}/ holds C sources, but this machine has no C compiler (cc)"
        return Build(None, why, names)
    if len(files) > MAX_FILES or sum(p.stat().st_size for p in files) > MAX_BYTES:
        why = f"{FOLDER}/ holds more than {MAX_FILES} files or 1 MiB of sources"
        return Build(None, why, names)
    base = Path(tempfile.mkdtemp(prefix="native-", dir=workdir))
    src, out = base / "src", base / "build"
    src.mkdir()
    try:
        if (files[0].parent).is_symlink():
            raise NotOwnFile(f"{FOLDER}/ is a symbolic link: drill builds only its own files")
        for path in files:
            copy_own_file(path, src / path.name)  # the copy is what gets built
    except NotOwnFile as exc:
        return Build(None, str(exc).replace(f"{files[0].parent}", FOLDER), names)
    argv = ["cc", *FLAGS, "-o", str(out / LIBRARY)]
    argv += [str(src / n) for n in names if n.endswith(".c")]
    status = _run(zygote, argv, src, out, programs, limits)
    built = out / LIBRARY
    if status != 0 or not built.is_file():
        said = _said(out / "output.txt", {f"{src}/": f"{FOLDER}/", f"{out}/": ""})
        why = f"the C build failed (cc exited with {status})"
        return Build(None, f"{why}: {_first_error(said)}", names, said)
    library = dest / LIBRARY
    shutil.copyfile(built, library)
    return Build(library, "", names)


def _run(
    zygote: ZygoteProcess,
    argv: list[str],
    src: Path,
    out: Path,
    programs: Sequence[Path],
    limits: dict[str, int],
) -> int | None:
    from grader.judge.client import WorkerSpec, ZygoteClient

    client = ZygoteClient(zygote.new_client())
    try:
        spec = WorkerSpec(
            module="",
            path=[],
            folder=out,
            limits=limits,
            read=[str(src)],
            nice=0,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
            build={"argv": argv, "exec": [str(p) for p in programs], "timeout_s": BUILD_S},
        )
        pid = client.spawn(spec)
        client.channels.pop(pid).close()
        deadline = time.monotonic() + BUILD_S + 10
        while time.monotonic() < deadline:
            status = client.exit_status(pid, wait_s=0.5)
            if status is not None:
                return status
        from grader.worker.signals import kill_tree

        kill_tree(pid)
        return None
    finally:
        client.sock.close()


def _said(output: Path, paths: dict[str, str]) -> str:
    """The compiler's output, with the build's private folders named as the candidate
    knows them (native/add.c, not the temporary copy it was built from)."""
    try:
        text = output.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    for private, shown in paths.items():
        text = text.replace(private, shown)
    return text[:20_000]


def _first_error(said: str) -> str:
    lines = [line.strip() for line in said.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["the compiler said nothing"])[0][:400]
