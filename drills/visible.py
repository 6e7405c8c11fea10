"""`drill test`: the workspace's visible tests, run as the candidate would run pytest.

pytest runs with plugin autoloading off and only the plugins these tests need:
pytest-timeout, and hypothesis' plugin when a test file mentions hypothesis.
Autoloading every installed plugin (hypothesis alone imports in about a second)
would make each `drill test` pay for plugins the visible tests never use.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from grader.errors import BadInput

TIMEOUT_S = 60


@dataclass(frozen=True)
class VisibleResult:
    returncode: int
    passed: int
    failed: int

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_visible(root: Path) -> VisibleResult:
    files = sorted(root.glob("test_*.py"))
    if not files:
        raise BadInput(f"{root} has no test_*.py files to run")
    if not (root / "solution.py").is_file():
        raise BadInput(f"{root / 'solution.py'} does not exist: the visible tests import it")
    tests = [p.name for p in files]
    with tempfile.TemporaryDirectory(prefix="drill-test-") as tmp:
        junit = Path(tmp) / "visible.xml"
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                *tests,
                "-q",
                "-p",
                "no:cacheprovider",
                *_plugins(files),
                f"--timeout={TIMEOUT_S}",
                f"--junitxml={junit}",
                "--rootdir",
                str(root),
            ],
            cwd=root,
            env=env,
            check=False,
        )
        passed = failed = 0
        if junit.exists():
            for suite in ET.parse(junit).getroot().iter("testsuite"):
                total = int(suite.get("tests", 0))
                bad = sum(int(suite.get(k, 0)) for k in ("failures", "errors"))
                failed += bad
                passed += total - bad - int(suite.get("skipped", 0))
    return VisibleResult(proc.returncode, passed, failed)


def _plugins(files: list[Path]) -> list[str]:
    """`-p` options for the plugins the visible tests need (autoloading is off)."""
    plugins = ["pytest_timeout"]
    if any("hypothesis" in f.read_text(encoding="utf-8", errors="replace") for f in files):
        plugins.append("_hypothesis_pytestplugin")
    return [arg for name in plugins for arg in ("-p", name)]
