"""A worker serving a module written by a test, under the grade's sandbox: what the
sandbox tests drive (a real zygote without torch, so it starts in a fraction of a second)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from grader.judge.client import WorkerSpec, ZygoteClient
from grader.judge.remote import Session
from grader.sandbox import start_zygote

LIMITS = {"cpu_s": 60, "memory_mb": 2048, "file_mb": 8, "open_files": 256, "processes": 8}


@contextlib.contextmanager
def serving(tmp_path: Path, source: str, forbidden: list[Path]) -> Iterator[Session]:
    """A session serving `source` as solution.py from a private folder; workers may not
    read `forbidden`."""
    grade = tmp_path / "grade"
    solution = grade / "solution"
    solution.mkdir(parents=True)
    (solution / "solution.py").write_text(source)
    zygote = start_zygote(grade, [], forbidden)
    client = ZygoteClient(zygote.new_client())

    def spec(n: int) -> WorkerSpec:
        return WorkerSpec("solution", [str(solution)], grade / f"w{n}", LIMITS, [str(solution)])

    session = Session(client, spec, import_timeout_s=30)
    try:
        yield session
    finally:
        session.close()
        client.sock.close()
        zygote.stop()
