"""Child process: `mypy --strict` through mypy's API, with our config and a shared cache.

    python -I -m grader.child_types CONFIG.json

mypy does not execute the code it checks, so this child needs no sandbox; it is a
separate process so that mypy's import and its work run beside the tests child.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    from mypy import api

    stdout, stderr, status = api.run(
        [
            config["file"],
            "--config-file",
            config["config_file"],
            "--cache-dir",
            config["cache_dir"],
            "--output",
            "json",
            "--no-error-summary",
        ]
    )
    Path(config["out"]).write_text(
        json.dumps({"stdout": stdout, "stderr": stderr, "status": status})
    )


if __name__ == "__main__":
    main()
