"""Child process: run (or collect) a kata's hidden suite against a solution.

python -I -m grader.child_tests CONFIG.json
"""

from __future__ import annotations

import sys
from pathlib import Path

from grader.child import setup

CANARY = Path(__file__).resolve().parent / "canary" / "test_drill_canary.py"
EMPTY_INI = Path(__file__).resolve().parent / "canary" / "pytest.ini"


def main() -> None:
    config, channel = setup(sys.argv[1])
    import pytest

    from grader import pytest_plugin

    pytest_plugin.install(channel, config.get("skip"))
    hidden = config["hidden_dir"]
    args = [
        hidden,
        str(CANARY),
        "-c",
        str(EMPTY_INI),  # never a workspace's or the project's config
        "--rootdir",
        hidden,
        "--noconftest",
        "--import-mode=importlib",
        "--continue-on-collection-errors",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:stepwise",
        "-p",
        "pytest_timeout",
        "-q",
        "--no-header",
        "--tb=short",
        f"--timeout={config['timeout_s']}",
        "--timeout-method=signal",
    ]
    if config.get("collect_only"):
        args.append("--collect-only")
    pytest.main(args, plugins=[pytest_plugin])


if __name__ == "__main__":
    main()
