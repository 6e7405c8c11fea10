"""The hidden suite's expected test ids, collected once and cached.

The parent checks a candidate's run against this list: a test that never reported is
a failure, whatever the child's exit status says. The cache key covers everything that
can change the collected ids (the hidden files, pytest, hypothesis, Python), so a
stale list is impossible.
"""

from __future__ import annotations

import hashlib
import json
import platform
import tempfile
from importlib import metadata
from pathlib import Path

from grader.errors import InternalError
from grader.kata import Kata
from grader.paths import cache_dir
from grader.sandbox import run_child


def _key(kata: Kata) -> str:
    digest = hashlib.sha256()
    files = sorted(kata.hidden_dir.rglob("*.py"))
    for path in files:
        digest.update(str(path.relative_to(kata.folder)).encode())
        digest.update(path.read_bytes())
    for dist in ("pytest", "hypothesis"):
        digest.update(metadata.version(dist).encode())
    digest.update(platform.python_version().encode())
    return digest.hexdigest()[:16]


def expected_ids(kata: Kata) -> list[str]:
    path = cache_dir() / "expected-ids" / f"{kata.id}-{_key(kata)}.json"
    if path.exists():
        ids: list[str] = json.loads(path.read_text())
        return ids
    with tempfile.TemporaryDirectory(prefix="drill-collect-") as tmp:
        workdir = Path(tmp)
        result = run_child(
            "grader.judge.run_tests",
            {"hidden_dir": str(kata.hidden_dir), "timeout_s": 60, "collect_only": True},
            workdir,
            deadline_s=120,
        )
    collected = next((r["ids"] for r in result.records if r.get("kind") == "collected"), None)
    errors = [r for r in result.records if r.get("kind") == "collect_error"]
    if collected is None or errors:
        detail = errors[0]["message"] if errors else result.output_tail[-500:]
        raise InternalError(f"cannot collect the hidden suite of '{kata.id}': {detail}")
    ids = list(collected)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_suffix(".tmp")
    tmp_path.write_text(json.dumps(ids))
    tmp_path.replace(path)
    return ids
