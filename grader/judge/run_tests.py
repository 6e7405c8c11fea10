"""Judge process: run (or collect) a kata's hidden suite against the solution's worker.

    python -I -m grader.judge.run_tests CONFIG.json

The suite, its oracles, `reference` and pytest run here; `import solution` gives the
suite a proxy (`grader.judge.remote`) whose calls run in a sandboxed worker. Nothing
the solution does can reach this process: a crash, a hang or garbage in the worker
fails the call in flight, and the next call starts a fresh worker.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from grader.judge import workers
from grader.judge.channel import exit_now, setup
from grader.judge.remote import Session, SolutionUnavailable

EMPTY_INI = Path(__file__).resolve().parent / "pytest.ini"


def main() -> None:
    config, channel, zygote = setup(sys.argv[1])
    import pytest

    from grader.judge import plugin

    session: Session | None = None
    if zygote is not None:
        workers.install(zygote, config)
        session = workers.candidate(zygote, config, "tests")
        sys.modules["solution"] = session.module
    else:  # collecting only: the suite imports `solution` but calls nothing
        sys.modules["solution"] = Session.unconnected().module

    def start_worker() -> None:
        """Import solution.py before the first test, under the import limit rather than
        a test's timeout; a failure is every call's failure from then on."""
        if session is not None:
            with contextlib.suppress(SolutionUnavailable):
                session.worker()

    cpu_mark = session.cpu_mark if session is not None else None
    plugin.install(channel, config.get("skip"), before_tests=start_worker, cpu_mark=cpu_mark)
    hidden = config["hidden_dir"]
    sys.path.insert(0, hidden)
    args = [
        hidden,
        "-c",
        str(EMPTY_INI),  # never a workspace's or the project's config
        "--rootdir",
        hidden,
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
    if config.get("exitfirst"):
        args.append("--exitfirst")
    try:
        pytest.main(args, plugins=[plugin])
    finally:
        if session is not None:
            session.close()
    exit_now()


if __name__ == "__main__":
    main()
