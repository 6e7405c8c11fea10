"""`drill watch`: the visible tests on every save, with the clock, the hints and the
last result on one screen.

Besides the screen's own, three threads:
- the file watcher (watchfiles) asks for a run on each save of solution.py or a
  test_*.py, and stops the run in flight: its result would describe old code;
- the tester runs the visible tests, one run at a time, in a `VisibleRunner` kept warm
  for the whole watch (drills/visible.py); runs wait while a grade measures;
- a grade (key g) runs in a thread of its own and forks its workers from the same
  warm zygote.

The screen is Rich's Live on the terminal's alternate screen, drawn whole from a `View`
whenever something on it changes (a result, a key, the clock's second), at the
terminal's size of the moment: a resize clears it and draws the next frame. Keys are
read in cbreak mode, where Ctrl-C stays a signal: it ends the watch as it ends any
command (exit 130). The watch also ends when its workspace goes away.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drills import actions
from drills.visible import RunCancelled, VisibleResult, VisibleRunner
from drills.workspace import SESSION_FILE, Session, Workspace, find_workspace, now
from grader.errors import BadInput, DrillError
from grader.kata import Kata, load_kata
from grader.wording import minutes

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text
    from watchfiles import Change

    from grader.report import Report

FRAME_S = 0.2  # the longest the screen waits for a key or a change before looking again
SESSION_EVERY_S = 1.0  # how often session.json is read again (hints taken elsewhere, a removal)
KEYS = "h hint · g grade · q quit"


@dataclass(frozen=True)
class View:
    """Everything the screen shows, as of one moment."""

    session: Session
    result: VisibleResult | None = None
    tested_at: datetime | None = None
    run_s: float = 0.0
    running: bool = False
    waiting: bool = False  # a save arrived during a grade: tested once it is done
    grading: bool = False
    report: Report | None = None
    hint: str = ""  # the hint revealed last, with its number
    asking: str = ""  # the hint question awaiting y or n
    notices: tuple[str, ...] = field(default_factory=tuple)  # refusals, errors, interviewer hints


def _saved(root: Path) -> Callable[[Change, str], bool]:
    """watchfiles' filter: solution.py and the test files directly in the workspace."""

    def wanted(_change: Change, path: str) -> bool:
        p = Path(path)
        if p.parent != root:
            return False
        return p.name == "solution.py" or (p.name.startswith("test_") and p.suffix == ".py")

    return wanted


class Watch:
    def __init__(self, ws: Workspace, kata: Kata, runner: VisibleRunner) -> None:
        self.ws, self.kata, self.runner = ws, kata, runner
        self.view = View(session=ws.load())
        self.lock = threading.Lock()
        self.wanted = threading.Event()  # a run is asked for
        self.stopping = threading.Event()
        self.grading = threading.Event()
        self.resized = False  # set by SIGWINCH's handler (a lock there could deadlock)
        self.ended = ""  # why the watch must end (the workspace went away), else ""
        self.failure: BaseException | None = None  # a thread's unexpected error, for main
        self._pending_hint = False
        # A byte here wakes the screen at once: a result is drawn when it arrives, not
        # at the next frame.
        self.wake_fd, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        self._open = True  # till `close`: a grade's thread may outlive the screen

    def wake(self) -> None:
        with self.lock, contextlib.suppress(BlockingIOError):  # full: a wake-up is pending
            if self._open:
                os.write(self.wake_w, b".")

    def _set(self, **changes: Any) -> None:
        with self.lock:
            self.view = dataclasses.replace(self.view, **changes)
        self.wake()

    def _notice(self, *lines: str) -> None:
        with self.lock:
            self.view = dataclasses.replace(self.view, notices=(*self.view.notices, *lines)[-3:])
        self.wake()

    def _end(self, why: str) -> None:
        self.ended = why
        self.wake()

    # -- threads -----------------------------------------------------------------------

    def start(self) -> None:
        for target in (self._watch_files, self._test_loop):
            threading.Thread(target=target, daemon=True).start()
        self.ask_run()  # the state of things when the watch begins

    def ask_run(self) -> None:
        self.wanted.set()
        self.runner.cancel()

    def _watch_files(self) -> None:
        import watchfiles

        root = self.ws.root
        try:
            for _ in watchfiles.watch(
                root,
                watch_filter=_saved(root),
                recursive=False,
                stop_event=self.stopping,
                raise_interrupt=False,
            ):
                self.ask_run()
        except Exception as exc:
            if not self.stopping.is_set() and root.is_dir():
                self._end(f"cannot watch {root} for saves ({exc}): stopped watching")

    def _test_loop(self) -> None:
        while not self.stopping.is_set():
            if not self.wanted.wait(FRAME_S):
                continue
            if self.grading.is_set():  # a grade may be timing the solution: it goes first
                self._set(waiting=True)
                time.sleep(FRAME_S)
                continue
            self.wanted.clear()
            self._set(running=True, waiting=False)
            start = time.monotonic()
            try:
                result = actions.run_tests(self.ws.root, self.runner)
            except RunCancelled:
                continue  # a newer save asked for a run of its own
            except DrillError as exc:
                self._set(running=False)
                self._notice(str(exc))
                continue
            except BaseException as exc:
                self.failure = exc
                self.wake()
                return
            self._set(running=False, result=result, tested_at=now(), run_s=time.monotonic() - start)
            self._interviewer_hints()

    def _grade(self) -> None:
        try:
            outcome = actions.grade(
                self.ws.root, device="auto", only=None, zygote=self.runner.zygote
            )
            self._set(report=outcome.report)
            self._interviewer_hints()
        except DrillError as exc:
            self._notice(f"grade: {exc}")
        except Exception as exc:
            self._notice(f"grade: internal error: {type(exc).__name__}: {exc}")
        finally:
            self.grading.clear()
            self._set(grading=False)

    def _interviewer_hints(self) -> None:
        for number, text in actions.new_hints(self.ws.root):
            self._notice(f"Hint {number} from your interviewer: {text}")

    # -- keys --------------------------------------------------------------------------

    def key(self, ch: str) -> bool:
        """Act on one key; False to quit."""
        if self._pending_hint:
            self._pending_hint = False
            self._set(asking="")
            if ch in "yY":
                self._take_hint()
            else:
                self._notice("No hint taken; nothing was spent.")
        elif ch == "q":
            return False
        elif ch == "h":
            self._ask_hint()
        elif ch == "g":
            self._start_grade()
        return True

    def _ask_hint(self) -> None:
        try:
            number, total, cost = actions.next_hint(self.ws.root)
        except DrillError as exc:
            self._notice(str(exc))
            return
        self._pending_hint = True
        self._set(asking=f"Hint {number} of {total} costs {cost:g} points. Reveal it? [y/N]")

    def _take_hint(self) -> None:
        try:
            taken = actions.take_hint(self.ws.root)
        except DrillError as exc:
            self._notice(str(exc))
            return
        self._set(
            session=taken.session,
            hint=f"Hint {taken.number}/{taken.total} (-{taken.cost:g} points): {taken.text}",
        )

    def _start_grade(self) -> None:
        if self.grading.is_set():
            self._notice("A grade is already running.")
            return
        self.grading.set()
        self._set(grading=True)
        threading.Thread(target=self._grade, daemon=True).start()

    # -- the session -------------------------------------------------------------------

    def refresh_session(self) -> None:
        """Read session.json again: hints taken elsewhere; the end of the workspace."""
        root = self.ws.root
        try:
            session = self.ws.load()
        except BadInput:
            self._end(
                f"{root} is no longer a drill workspace (no {SESSION_FILE}): stopped watching"
            )
            return
        if session.attempt != self.view.session.attempt:
            self._end(
                f"a new session was started in {root}: stopped watching; run `drill watch` again"
            )
            return
        self._set(session=session)

    def snapshot(self) -> View:
        with self.lock:
            return self.view

    def stop(self) -> None:
        self.stopping.set()
        self.runner.cancel()

    def close(self) -> None:
        with self.lock:
            self._open = False
            os.close(self.wake_fd)
            os.close(self.wake_w)


def watch(directory: Path) -> None:
    """Run the watch until q (returns), Ctrl-C (KeyboardInterrupt) or the workspace's end
    (BadInput)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise BadInput("drill watch needs a terminal; in a script, run `drill test`")
    ws = find_workspace(directory)
    kata = load_kata(ws.load().kata)
    with VisibleRunner(ws.root, kata) as runner:
        w = Watch(ws, kata, runner)
        try:
            w.start()
            _screen(w)
        finally:
            w.stop()
            if w.grading.is_set():
                from grader.sandbox import stop_all

                stop_all()  # the grade's children; its thread ends with this process
            w.close()


def _screen(w: Watch) -> None:
    from rich.console import Console
    from rich.live import Live

    # Exported COLUMNS and LINES would pin the screen to one size (Rich reads them once,
    # as drills.console's consoles did at import): this one follows the terminal's.
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)
    console = Console()
    fd = sys.stdin.fileno()

    def resized(signum: int, frame: object) -> None:
        w.resized = True
        # Not `w.wake()`: its lock may be held by the code this handler interrupted.
        with contextlib.suppress(BlockingIOError):
            os.write(w.wake_w, b".")

    previous = signal.signal(signal.SIGWINCH, resized)
    try:
        with _cbreak(fd), Live(console=console, screen=True, auto_refresh=False) as live:
            last_read, shown = time.monotonic(), None
            while True:
                if time.monotonic() - last_read >= SESSION_EVERY_S:
                    w.refresh_session()
                    last_read = time.monotonic()
                if w.failure is not None:
                    raise w.failure
                if w.ended:
                    raise BadInput(w.ended)
                if w.resized:
                    w.resized = False
                    console.clear()  # what the old size left on the screen
                    shown = None
                view = w.snapshot()
                # A frame only when something on it changed: over SSH, one a second idle.
                frame = (view, int(view.session.left_s()))
                if frame != shown:
                    live.update(render(view, w.kata, w.ws.root), refresh=True)
                    shown = frame
                for ch in _keys(fd, w.wake_fd, FRAME_S):
                    if not w.key(ch):
                        return
    finally:
        signal.signal(signal.SIGWINCH, previous)


@contextlib.contextmanager
def _cbreak(fd: int) -> Iterator[None]:
    """Keys arrive one at a time and unechoed; Ctrl-C still interrupts."""
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _keys(fd: int, wake_fd: int, timeout_s: float) -> str:
    """The keys typed within `timeout_s`, or before a wake-up ("q" when the terminal has
    gone)."""
    ready, _, _ = select.select([fd, wake_fd], [], [], timeout_s)
    if wake_fd in ready:
        os.read(wake_fd, 4096)
    if fd not in ready:
        return ""
    data = os.read(fd, 64)
    return data.decode("utf-8", "replace") if data else "q"


# -- the screen ----------------------------------------------------------------------------


def render(view: View, kata: Kata, root: Path) -> RenderableType:
    """The screen for `view`: a function of it and the clock."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("time", _clock(view.session))
    grid.add_row("hints", _hints(view.session, kata))
    grid.add_row("tests", _tests(view))
    if view.result is not None and view.result.first_failure:
        grid.add_row("", Text(view.result.first_failure, style="red"))
    grid.add_row("grade", _grade(view))
    if not view.grading:
        for line in _failing_checks(view):
            grid.add_row("", Text(line, style="red"))
    parts: list[RenderableType] = [
        Text.assemble((f"drill watch · {kata.id}", "bold"), (f"  {root}", "dim")),
        Text(""),
        grid,
    ]
    if view.hint:
        parts += [Text(""), Text(view.hint)]
    if view.notices:
        parts += [Text(""), *(Text(n, style="yellow") for n in view.notices)]
    parts += [Text(""), Text(view.asking, style="bold") if view.asking else Text(KEYS, style="dim")]
    return Group(*parts)


def _clock(session: Session) -> Text:
    from rich.text import Text

    left = session.left_s()
    if left >= 0:
        return Text(f"{minutes(left)} left of {minutes(session.limit_s)}")
    return Text(f"{minutes(-left)} over time (limit {minutes(session.limit_s)})", style="red")


def _hints(session: Session, kata: Kata) -> str:
    taken = len(session.hints)
    cost = kata.hint_cost * taken
    return f"{taken} taken" + (f" (-{cost:g} points)" if cost else "")


def _tests(view: View) -> Text:
    from rich.text import Text

    if view.waiting:
        return Text("a save arrived during the grade: tested when it is done", style="yellow")
    if view.result is None or view.tested_at is None:
        return Text("running (the first run loads pytest and the kata's imports)…", style="dim")
    r = view.result
    when = f" at {view.tested_at.astimezone().strftime('%H:%M:%S')} ({view.run_s:.2f} s)"
    counts = f"{r.passed} passed, {r.failed} failed"
    line = Text.assemble(("✓ " if r.ok else "✗ ", "green" if r.ok else "red"), counts, when)
    if view.running:
        line.append("  running…", style="dim")
    return line


def _report(view: View) -> Report | None:
    """The watch's own grade while it is the session's last one (a grade made elsewhere
    since, in another terminal, is newer)."""
    report, last = view.report, view.session.last_grade
    if report is None or (last and str(last.get("at", "")) > report.graded_at):
        return None
    return report


def _grade(view: View) -> Text:
    from rich.text import Text

    from grader.render.common import headline

    if view.grading:
        return Text("grading…", style="dim")
    report = _report(view)
    if report is not None:
        return Text(headline(report), style="green" if report.passed else "red")
    last = view.session.last_grade
    if not last:
        return Text("none yet (g)", style="dim")
    # The session's last grade (before this watch, or from another terminal): its score,
    # verdict and checks' statuses are what session.json keeps.
    score = last.get("score")
    shown = f"{score:.1f}" if isinstance(score, int | float) else "?"
    passed = last.get("passed") is True
    verdict = "PASSED" if passed else "NOT PASSED"
    return Text(
        f"{shown}/100 {verdict} ({_when(last.get('at'))})", style="green" if passed else "red"
    )


def _when(at: object) -> str:
    """When a grade was made, in local time: the time today, else the date too."""
    try:
        moment = datetime.fromisoformat(str(at)).astimezone()
    except ValueError:
        return "graded earlier"
    if moment.date() == datetime.now().astimezone().date():
        return f"graded at {moment:%H:%M:%S}"
    return f"graded {moment:%Y-%m-%d %H:%M}"


def _failing_checks(view: View) -> list[str]:
    """The checks of the grade shown that did not pass, with their reasons when this
    watch made it."""
    from grader.checks import TITLES

    report = _report(view)
    if report is not None:
        return [
            f"{TITLES.get(name, name)}: {check.status}"
            + (f", {check.reason}" if check.reason else "")
            for name, check in report.checks.items()
            if check.status != "pass"
        ]
    checks = (view.session.last_grade or {}).get("checks")
    if not isinstance(checks, dict):
        return []
    return [
        f"{TITLES.get(str(name), str(name))}: {status}"
        for name, status in checks.items()
        if status != "pass"
    ]
