"""`drill test`: the workspace's visible tests, run as the candidate would run pytest."""

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
    tests = sorted(p.name for p in root.glob("test_*.py"))
    if not tests:
        raise BadInput(f"{root} has no test_*.py files to run")
    with tempfile.TemporaryDirectory(prefix="drill-test-") as tmp:
        junit = Path(tmp) / "visible.xml"
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                *tests,
                "-q",
                "-p",
                "no:cacheprovider",
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
