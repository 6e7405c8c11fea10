"""A worker that compiles a candidate's C sources (katas with native code).

The zygote forks it and sandboxes it like any worker, except that it may execute the
C toolchain the parent named (`grader.native`). It runs the compiler command the
parent gave, in its own folder, with the compiler's output going to the folder's
output file, and exits with the compiler's status. No candidate code runs here; the
sources are only the compiler's input.
"""

from __future__ import annotations

import subprocess
from typing import Any


def run(request: dict[str, Any]) -> int:
    try:
        done = subprocess.run(
            list(request["argv"]),
            stdin=subprocess.DEVNULL,
            timeout=float(request["timeout_s"]),
            check=False,
        )
    except subprocess.TimeoutExpired:
        print(f"the build did not finish within {request['timeout_s']:g} s")
        return 124
    except OSError as exc:
        print(f"the compiler could not start: {exc}")
        return 127
    return done.returncode
