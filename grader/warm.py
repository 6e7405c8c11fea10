"""Warm mypy's cache for a kata in the background: `python -m grader.warm KATA`.

`drill start` launches this detached, so the candidate's first `drill grade` does not
pay mypy's cold start over torch (seconds) while they are still reading the prompt.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from grader.kata import load_kata
from grader.stages.types import run_mypy


def spawn(kata_id: str) -> None:
    """Start the warm-up detached from the caller; it outlives `drill start`."""
    subprocess.Popen(
        [sys.executable, "-m", "grader.warm", kata_id],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def main() -> None:
    kata = load_kata(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="drill-warm-") as tmp:
        target = Path(tmp) / "solution.py"
        shutil.copyfile(kata.starter_dir / "solution.py", target)
        run_mypy(target, Path(tmp))


if __name__ == "__main__":
    main()
