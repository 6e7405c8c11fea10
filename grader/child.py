"""What every grader child does first, before any candidate code runs.

Runs inside the child process (`python -I -m grader.child_*`): apply resource limits,
take over the result channel, put the solution and the hidden folder on `sys.path`,
and install an import guard so the solution cannot import the reference stack, the
grader or a model answer.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import resource
import sys
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from grader import landlock

FORBIDDEN = frozenset({"reference", "grader", "drills", "katas", "model_answer"})
CHILD_NICE = 10  # see setup


def apply_limits(limits: dict[str, int]) -> None:
    """Lower soft and hard limits; an unprivileged process cannot raise them again."""
    mb = 1 << 20
    wanted: dict[int, int] = {
        resource.RLIMIT_CPU: limits["cpu_s"],
        resource.RLIMIT_DATA: limits["memory_mb"] * mb,
        resource.RLIMIT_FSIZE: limits["file_mb"] * mb,
        resource.RLIMIT_NOFILE: limits["open_files"],
        resource.RLIMIT_CORE: 0,
    }
    for what, value in wanted.items():
        _soft, hard = resource.getrlimit(what)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(what, (value, value))


class Channel:
    """The write end of the parent's pipe: one JSON object per line."""

    def __init__(self) -> None:
        fd = int(os.environ.pop("DRILL_RESULT_FD"))
        os.set_inheritable(fd, False)  # processes the solution spawns do not get it
        self._fd = fd

    def send(self, record: dict[str, Any]) -> None:
        data = (json.dumps(record, default=str) + "\n").encode()
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]


class ImportGuard(importlib.abc.MetaPathFinder):
    """Refuse imports of our own packages when the importer is the solution."""

    def __init__(self, solution_dir: Path) -> None:
        self._solution_dir = str(solution_dir)
        self._importlib_dir = os.path.dirname(importlib.__file__)

    def _importer(self) -> str:
        frame: FrameType | None = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            if not (name.startswith("<frozen importlib") or name.startswith(self._importlib_dir)):
                return name
            frame = frame.f_back
        return ""

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in FORBIDDEN and self._importer().startswith(
            self._solution_dir
        ):
            raise ImportError(f"solution.py may not import '{fullname}' (the grader's own code)")
        return None


class ReadGuard:
    """An audit hook: the solution may not open kata folders (model answers, mutants, other
    katas' suites) or the history store. The hidden folder of this kata stays readable,
    since pytest imports it. Audit hooks cannot be removed once added."""

    def __init__(self, blocked: list[str], allowed: list[str]) -> None:
        self.blocked = tuple(os.path.join(os.path.realpath(p), "") for p in blocked)
        self.allowed = tuple(os.path.join(os.path.realpath(p), "") for p in allowed)
        # pytest's importlib mode may import the empty package marker above a suite.
        self.allowed_files = frozenset(
            os.path.join(os.path.realpath(p), "__init__.py") for p in blocked
        )

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if event != "open" or not args or not isinstance(args[0], str | bytes | os.PathLike):
            return
        path = os.path.realpath(os.fsdecode(args[0]))  # a symlink does not get round it
        if (
            path.startswith(self.blocked)
            and not path.startswith(self.allowed)
            and path not in self.allowed_files
        ):
            raise PermissionError(f"the grader does not let solutions read {path}")


def die_with_parent() -> None:
    """If the grader is killed (even with SIGKILL), this child goes too."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        parent = os.getppid()
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)


def setup(config_path: str) -> tuple[dict[str, Any], Channel]:
    """Read the config, limit the process, and prepare imports; returns (config, channel)."""
    die_with_parent()
    # Yield the CPU to mypy, which runs beside this child: on a cold mypy cache mypy is
    # the grade's critical path (about 20 s on 2 cores), and the tests and measurements
    # finish well within it on what is left. Speed is a ratio of interleaved rounds
    # within this process, so a lower priority does not bias it.
    os.nice(CHILD_NICE)
    config: dict[str, Any] = json.loads(Path(config_path).read_text())
    apply_limits(config["limits"])
    # CUDA's driver fails to initialise inside a Landlock domain (cudaGetDeviceCount:
    # "OS call failed"); on a GPU grade the other protections apply without it.
    enforced = (
        []
        if config["limits"]["gpu"]
        else landlock.restrict([Path(config_path).parent], network=config["limits"]["network"])
    )
    channel = Channel()
    channel.send({"kind": "sandbox", "enforced": enforced})
    sys.dont_write_bytecode = True
    sys.path[:0] = [config["solution_dir"], config["hidden_dir"]]
    sys.meta_path.insert(0, ImportGuard(Path(config["solution_dir"])))
    sys.addaudithook(ReadGuard(config.get("unreadable", []), [config["hidden_dir"]]))
    return config, channel
