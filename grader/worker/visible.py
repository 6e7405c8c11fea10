"""A worker that runs pytest on the candidate's own visible tests (`drill test`, `drill watch`).

The zygote forks it, sandboxes it like any worker (`grader.worker.zygote`), and calls
`run` instead of the judge's loop. What it runs is the candidate's code only: their
tests and their solution, nothing of the kata's. pytest's arguments come from the
parent (`drills/visible.py`), which also reads the results from the junit file the run
leaves in the worker's folder: what the tests report is the candidate's own business,
and nothing here is trusted by a grade.
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any


def run(request: dict[str, Any]) -> int:
    """Run pytest as `python -m pytest` would in the workspace; its exit status."""
    # The zygote is `__main__` here, and multiprocessing's spawn re-imports `__main__` in
    # each child it starts; the zygote's module cannot be read from the sandbox. An empty
    # `__main__` is what an interactive interpreter has: spawn then imports nothing.
    sys.modules["__main__"] = types.ModuleType("__main__")
    os.chdir(request["cwd"])  # relative paths in the tests mean the workspace, as in a shell
    import pytest

    code = pytest.main(list(request["argv"]))
    sys.stdout.flush()
    sys.stderr.flush()
    return int(code)
