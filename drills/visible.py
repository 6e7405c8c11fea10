"""`drill test` and `drill watch`: the workspace's visible tests, in the grade's sandbox.

The visible tests and solution.py are the candidate's code, so they run where a grade
runs candidate code (docs/security.md): in a worker the zygote forks
(`grader/worker/zygote.py`, `grader/worker/visible.py`). The worker may read the
system's files, the Python environment and the workspace (never drill's own packages,
the katas, the history store or the caches); it writes only
its own private folder (its HOME and TMPDIR: `tmp_path` works), under the kata's
process and memory limits, with no network unless the kata needs loopback.

A `VisibleRunner` holds one zygote for one workspace. `drill test` starts one for a
single run. `drill watch` keeps one for the whole session, so pytest and the kata's
imports (torch) are loaded once, before any candidate code exists: each run forks a
fresh worker from it (nothing a run imports or changes reaches the next) and pays only
for collecting and running the tests.

pytest runs with plugin autoloading off and only the plugins these tests need:
pytest-timeout, and hypothesis' plugin when a test file mentions hypothesis.
Autoloading every installed plugin (hypothesis alone imports in about a second)
would make each run pay for plugins the visible tests never use.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from drills.workspace import Workspace
from grader.errors import BadInput
from grader.kata import Kata, load_kata
from grader.worker.signals import kill_tree

if TYPE_CHECKING:
    from grader.judge.client import ZygoteClient
    from grader.native import Build
    from grader.sandbox import ZygoteProcess

TIMEOUT_S = 60  # per test (pytest-timeout)
DEADLINE_S = 600  # the whole run: past it, the worker is stopped
JUNIT_MAX_BYTES = 32 << 20  # pytest's report of the run; the worker could make it huge
POLL_S = 0.02
# What the zygote imports besides the kata's own preload. Not the plugins given with
# -p (pytest_timeout, hypothesis' plugin): pytest warns that a plugin imported before it
# started cannot have its asserts rewritten. (Preloading pytest's built-in plugins as
# well saves nothing measurable: `import pytest` is most of it.)
PYTEST_PRELOAD = ("pytest",)
HYPOTHESIS_PRELOAD = ("hypothesis",)
# pytest's exit statuses that no failing test explains (its output says more).
PYTEST_EXITS = {
    2: "pytest was interrupted",
    3: "pytest failed internally",
    4: "pytest could not use its command line or configuration",
    5: "no tests were collected",
}


class RunCancelled(Exception):
    """The run was stopped by `VisibleRunner.cancel` before it finished: no result."""


@dataclass(frozen=True)
class VisibleResult:
    returncode: int
    passed: int
    failed: int
    first_failure: str = ""  # "test_name: message", one line; "" when none failed
    stopped: str = ""  # why the run was stopped before it finished (its deadline), if it was
    failures: tuple[str, ...] = ()  # the names of the tests that failed or errored

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_visible(root: Path, profile: bool = False) -> VisibleResult:
    """`drill test`: one run, its output on this terminal as it comes (with `profile`,
    under cProfile, ending with where the time went)."""
    with VisibleRunner(root, load_kata(Workspace(root).load().kata)) as runner:
        return runner.run(echo=True, profile=profile)


def failing_tests(kata: Kata, folder: Path, sources: Sequence[str]) -> list[tuple[str, ...]]:
    """The visible tests in `folder` run once per solution source (each written to
    `folder/solution.py` in turn, one zygote for all): the tests that failed, per source.
    `drill validate` checks a bug hunt's symptoms with it."""
    found = []
    with VisibleRunner(folder, kata) as runner:
        for source in sources:
            (folder / "solution.py").write_text(source, encoding="utf-8")
            found.append(runner.run().failures)
    return found


class VisibleRunner:
    """A zygote for one workspace's visible tests; `run` forks a fresh worker each time."""

    def __init__(self, root: Path, kata: Kata) -> None:
        self.root = root.resolve()
        self.kata = kata
        self._tmp: Path | None = None  # the zygote's folder, and each run's below it
        self._runs = itertools.count(1)
        self._zygote: ZygoteProcess | None = None
        self._client: ZygoteClient | None = None
        self._native: tuple[str, Build] | None = None  # (sources' digest, their build)
        self._lock = threading.Lock()  # guards the three below
        self._running = False
        self._pid = 0  # the worker of the run in flight, once forked
        self._cancelled = False

    # -- the zygote ----------------------------------------------------------------------

    def start(self) -> VisibleRunner:
        from grader.judge.client import ZygoteClient
        from grader.paths import off_limits
        from grader.sandbox import start_zygote

        preload = [*PYTEST_PRELOAD, *self.kata.preload]
        if _uses_hypothesis(_test_files(self.root)):
            preload += HYPOTHESIS_PRELOAD
        # The grade's own rules (our packages, the katas, the stores and the workspace
        # are off limits), so that a grade can fork its workers here too; each run of
        # the visible tests is then allowed to read the workspace.
        forbidden = [*off_limits(), self.root]
        self._tmp = Path(tempfile.mkdtemp(prefix="drill-test-"))
        try:
            self._zygote = start_zygote(self._tmp, list(dict.fromkeys(preload)), forbidden)
            self._client = ZygoteClient(self._zygote.new_client())
        except BaseException:
            self.close()
            raise
        return self

    @property
    def zygote(self) -> ZygoteProcess:
        """The running zygote: a grade started meanwhile forks its workers from it too."""
        if self._zygote is None:
            raise RuntimeError("the runner has not been started")
        return self._zygote

    def close(self) -> None:
        self.cancel()
        if self._client is not None:
            self._client.sock.close()
        if self._zygote is not None:
            self._zygote.stop()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> VisibleRunner:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- a run -------------------------------------------------------------------------

    def run(self, *, echo: bool = False, profile: bool = False) -> VisibleResult:
        """Run the visible tests in a fresh worker. With `echo`, pytest's output goes to
        this process's stdout as it comes; with `profile`, under cProfile. One run at a
        time per runner."""
        from grader.judge.client import WorkerSpec

        files = _test_files(self.root)
        if not files:
            raise BadInput(f"{self.root} has no test_*.py files to run")
        solution = self.root / "solution.py"
        if not solution.is_file():
            what = "is a folder, not a file" if solution.is_dir() else "does not exist"
            raise BadInput(f"{solution} {what}: the visible tests import it")
        if self._client is None or self._tmp is None:
            raise RuntimeError("the runner has not been started")
        syntax = _syntax_error(solution)
        if syntax:  # said in one line, as the grade says it, not as pytest's import traceback
            if echo:
                sys.stderr.write(f"drill: {syntax}\n")
            return VisibleResult(1, 0, 0, syntax)
        library, failed = self._build_native()
        if failed:
            if echo and self._native is not None:
                sys.stderr.write(f"{self._native[1].output}drill: {failed}\n")
            return VisibleResult(1, 0, 0, failed)
        folder = self._tmp / f"run-{next(self._runs)}"
        env = self._env(echo)
        if library is not None:
            from grader.native import ENV

            env[ENV] = str(library)
        spec = WorkerSpec(
            module="solution",
            path=[str(self.root)],
            folder=folder,
            limits=self._limits(),
            read=[str(self.root), *([str(library.parent)] if library else [])],
            network=self.kata.network,
            nice=0,  # the candidate is waiting for it
            env=env,
            pytest={**self._pytest(files, folder, echo), "profile": profile},
        )
        with self._lock:
            self._running, self._cancelled = True, False
        status: int | None = None
        try:
            # Not under the lock: the first fork waits for the zygote's imports.
            pid = self._client.spawn(spec)
            self._client.channels.pop(pid).close()
            with self._lock:
                self._pid = pid
                if self._cancelled:  # while it was being forked
                    kill_tree(pid)
            status, stopped = self._wait(folder / "output.txt", echo)
            with self._lock:
                if self._cancelled:
                    raise RunCancelled
            return _result(folder / "visible.xml", status, stopped, echo)
        finally:
            with self._lock:
                if self._pid and status is None:  # interrupted (Ctrl-C) before it ended
                    kill_tree(self._pid)
                self._running, self._pid = False, 0
            shutil.rmtree(folder, ignore_errors=True)

    def _build_native(self) -> tuple[Path | None, str]:
        """The workspace's native/ C sources built, again only when they changed: (the
        library, or None; why the build failed, or "")."""
        from grader import native

        files = native.sources(self.root) if self.kata.native else []
        if not files or self._tmp is None:
            return None, ""
        key = native.digest(files)
        if self._native is None or self._native[0] != key:
            folder = self._tmp / f"native-{key}"
            (folder / "lib").mkdir(parents=True, exist_ok=True)
            limits = self._limits()
            built = native.build(files, folder, folder / "lib", self.zygote, limits)
            self._native = (key, built)
        built = self._native[1]
        return built.library, (f"{native.FOLDER}/: {built.error}" if built.error else "")

    def cancel(self) -> None:
        """Stop the run in flight, if any (from another thread: a newer save, quitting);
        its `run` raises `RunCancelled`."""
        with self._lock:
            if self._running:
                self._cancelled = True
                if self._pid:
                    kill_tree(self._pid)

    def _wait(self, output: Path, echo: bool) -> tuple[int | None, str]:
        """(the worker's exit status, why it was stopped if it was), echoing its output."""
        assert self._client is not None
        pid, sent, stopped = self._pid, 0, ""
        deadline = time.monotonic() + DEADLINE_S
        while True:
            status = self._client.exit_status(pid, wait_s=POLL_S)
            if echo:
                sent = _echo(output, sent)
            if status is not None:
                break
            if time.monotonic() > deadline and not stopped:
                stopped = f"the visible tests did not finish within {DEADLINE_S // 60} min"
                kill_tree(pid)
        return status, stopped

    def _limits(self) -> dict[str, int]:
        from grader.sandbox import Limits

        limits = Limits(
            cpu_s=DEADLINE_S + 30,
            memory_mb=self.kata.memory_limit_mb,
            processes=self.kata.process_limit,
            network=self.kata.network,
        )
        return limits.for_worker()

    def _env(self, echo: bool) -> dict[str, str]:
        from grader.context import WORKER_ENV
        from grader.sandbox import PASS_ENV

        env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        env.update(WORKER_ENV, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
        if echo:  # pytest writes to a file: it lays out its lines for our terminal
            env["COLUMNS"] = str(shutil.get_terminal_size().columns)
        return env

    def _pytest(self, files: list[Path], folder: Path, echo: bool) -> dict[str, object]:
        argv = [str(p) for p in files]
        argv += ["-q", "-p", "no:cacheprovider", *_plugins(files), f"--timeout={TIMEOUT_S}"]
        argv += [f"--junitxml={folder / 'visible.xml'}", "--rootdir", str(self.root)]
        if echo and sys.stdout.isatty():
            argv.append("--color=yes")
        return {"argv": argv, "cwd": str(self.root)}


def _syntax_error(solution: Path) -> str:
    """Why `solution` does not parse, in the grade's words, or "" when it parses or
    cannot be read here (the run then says what the worker found). The file itself is
    read, never what a symbolic link there points to."""
    from grader.paths import read_own_file
    from grader.stages.static import parse

    try:
        _, why = parse(read_own_file(solution).decode("utf-8"), solution.name)
    except (OSError, UnicodeDecodeError, RecursionError, MemoryError):
        return ""
    return f"solution does not parse: {why}" if why else ""


def _test_files(root: Path) -> list[Path]:
    return sorted(root.glob("test_*.py"))


def _uses_hypothesis(files: list[Path]) -> bool:
    return any("hypothesis" in f.read_text(encoding="utf-8", errors="replace") for f in files)


def _plugins(files: list[Path]) -> list[str]:
    """`-p` options for the plugins the visible tests need (autoloading is off)."""
    plugins = ["pytest_timeout"]
    if _uses_hypothesis(files):
        plugins.append("_hypothesis_pytestplugin")
    return [arg for name in plugins for arg in ("-p", name)]


def _echo(output: Path, sent: int) -> int:
    """Copy what the worker wrote to `output` since byte `sent` to our stdout. The worker
    owns its folder: a link it put there in place of the file is not followed (it would
    print whatever the user can read, hidden suites included)."""
    from grader.paths import read_own_file

    try:
        chunk = read_own_file(output, offset=sent)
    except OSError:  # not there yet, or no longer the worker's own file
        return sent
    if chunk:
        sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
    return sent + len(chunk)


def _result(junit: Path, status: int | None, stopped: str, echo: bool) -> VisibleResult:
    """What the run's junit file says; where pytest did not finish, how the run ended."""
    from grader.worker.signals import death

    passed, failed, first, names = _read_junit(junit)
    if status is not None and status >= 0 and junit.exists() and not stopped:
        why = first or PYTEST_EXITS.get(status, "")
        return VisibleResult(status, passed, failed, why, failures=names)
    if stopped:
        why = stopped
    elif status is not None and status < 0:
        why = f"the test run died from {death(-status)}"
    else:
        why = f"the test run exited with status {status} before pytest wrote its results"
    if echo:
        sys.stderr.write(f"drill: {why}\n")
    code = status if status is not None and status > 0 else 1
    return VisibleResult(code, passed, failed, first or why, stopped, names)


def _read_junit(junit: Path) -> tuple[int, int, str, tuple[str, ...]]:
    """(passed, failed, the first failure in one line, the failing tests' names) from
    pytest's junit file."""
    from grader.paths import read_own_file

    try:
        root = ET.fromstring(read_own_file(junit, JUNIT_MAX_BYTES))  # never through a link
    except (OSError, ET.ParseError):
        return 0, 0, "", ()
    passed = failed = 0
    for suite in root.iter("testsuite"):
        total = int(suite.get("tests", 0))
        bad = sum(int(suite.get(k, 0)) for k in ("failures", "errors"))
        failed += bad
        passed += total - bad - int(suite.get("skipped", 0))
    first, names = "", []
    for case in root.iter("testcase"):
        for problem in (*case.iter("failure"), *case.iter("error")):
            first = first or f"{case.get('name', '?')}: {_message(problem)}"
            names.append(case.get("name", "?").split("[")[0])
    return passed, failed, first, tuple(dict.fromkeys(names))


def _message(problem: ET.Element) -> str:
    """A failure's one-line message; for a collection error, the error pytest printed."""
    message = (problem.get("message") or "").strip()
    if not message or message.startswith("collection failure"):
        errors = [ln[1:].strip() for ln in (problem.text or "").splitlines() if ln.startswith("E ")]
        message = errors[-1] if errors else message
    return message.splitlines()[0] if message else "failed"
