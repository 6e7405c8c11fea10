"""Child process: `mypy --strict` through mypy's API, with our config and a shared cache.

    python -I -m grader.judge.run_mypy CONFIG.json

mypy does not execute the code it checks, so this child needs no sandbox; it is a
separate process so that mypy's import and its work run beside the tests child.

mypy's JSON messages go to the file `stdout` names, its other output to `stderr`, and
its status (0 clean, 1 errors, 2 mypy failed) is this process's exit status. mypy
ends the process with `os._exit` instead of returning: freeing the object graph of a
cold run over torch costs several seconds (`mypy.api.run` pays them; this does not).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    from mypy.main import main as mypy_main

    # mypy's fast exit flushes sys.stdout and sys.stderr only: make them our files. They
    # stay open to the end, so that a crash inside mypy still writes its traceback here
    # (and exits with status 1, which the parent treats as a failure: no messages came).
    out = open(config["stdout"], "w", encoding="utf-8")  # noqa: SIM115
    err = open(config["stderr"], "w", encoding="utf-8")  # noqa: SIM115
    sys.stdout, sys.stderr = out, err
    mypy_main(
        args=[
            config["file"],
            "--config-file",
            config["config_file"],
            "--cache-dir",
            config["cache_dir"],
            "--output",
            "json",
            "--no-error-summary",
        ],
        stdout=out,
        stderr=err,
    )


if __name__ == "__main__":
    main()
