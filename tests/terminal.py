"""A command in a pseudo-terminal, as a person's terminal runs it (tests, benchmarks).

The command runs in a fresh interpreter whose controlling terminal is the pty: keys are
typed into it, Ctrl-C is the terminal's own interrupt, and a resize is the kernel's
TIOCSWINSZ with its SIGWINCH. What it draws is read back as text, escape codes removed.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import threading
import time

WAIT_S = 120.0  # how long to wait for the screen to show something before giving up
ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


class Terminal:
    """`drill ARGS` with a pty as its terminal (`text` is what it has drawn), in this
    process's environment or `env`."""

    def __init__(
        self, args: list[str], rows: int = 30, cols: int = 100, env: dict[str, str] | None = None
    ) -> None:
        env = {k: v for k, v in (env or os.environ).items() if k not in ("COLUMNS", "LINES")}
        env["TERM"] = "xterm-256color"
        pid, fd = pty.fork()
        if pid == 0:  # the child: exec at once, nothing else runs here
            os.execve(sys.executable, [sys.executable, "-m", "drills", *args], env)
        self.pid, self.fd = pid, fd
        self.resize(rows, cols)
        self.raw = b""
        self.lock = threading.Lock()
        self.status: int | None = None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # EIO: the child has gone and the pty with it
                return
            if not data:
                return
            with self.lock:
                self.raw += data

    def text(self, since: int = 0) -> str:
        with self.lock:
            raw = self.raw[since:]
        return ESCAPES.sub(b" ", raw).decode("utf-8", "replace")

    def mark(self) -> int:
        with self.lock:
            return len(self.raw)

    def wait_for(self, pattern: str, since: int = 0) -> str:
        """The screen's text from `since`, once `pattern` (a regex) appears on it."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            text = self.text(since)
            if re.search(pattern, text):
                return text
            if self.exited():
                break
            time.sleep(0.01)  # fine-grained: the watch's benchmark times the screen with it
        raise AssertionError(
            f"{pattern!r} never appeared; the screen ended:\n{self.text()[-3000:]}"
        )

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def resize(self, rows: int, cols: int) -> None:
        # The kernel sends the terminal's foreground process group SIGWINCH.
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def exited(self) -> bool:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status is not None

    def wait(self) -> int:
        deadline = time.monotonic() + WAIT_S
        while not self.exited():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"drill did not exit; the screen ended:\n{self.text()[-3000:]}"
                )
            time.sleep(0.05)
        self.reader.join(5)
        assert self.status is not None
        return self.status

    def close(self) -> None:
        if not self.exited():
            os.kill(self.pid, signal.SIGKILL)
            self.wait()
        os.close(self.fd)
