"""The grader's mypy configuration: strict, and blind to nothing a solution calls.

`grader/mypy.ini` skips torch's compiler internals to make a cold type check twice as
fast. These tests pin down that the public torch API keeps its real types under it: a
name that turned into `Any` would make strict mode report "Returning Any" on code
that is correct.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mypy import api

from grader.stages import types as typecheck
from grader.stages.types import CONFIG, mypy_cache_dir

# Public names a solution may plausibly call whose modules sit next to the skipped ones.
PUBLIC_API = [
    "torch.compile",
    "torch.vmap",
    "torch.func.vmap",
    "torch.cond",
    "torch.export.export",
    "torch.jit.script",
    "torch.topk",
    "torch.multinomial",
    "torch.distributed.isend",
    "torch.distributed.all_reduce",
    "torch.nn.functional.scaled_dot_product_attention",
    "torch.nn.Module.compile",
    "torch.utils.checkpoint.checkpoint",
]


def reveal(tmp_path: Path, names: list[str]) -> list[str]:
    imports = sorted({"import " + n.rsplit(".", 1)[0] for n in names} | {"import torch"})
    body = [f"reveal_type({n})" for n in names]
    probe = tmp_path / "probe.py"
    probe.write_text("\n".join([*imports, *body]) + "\n")
    stdout, _, _ = api.run(
        [str(probe), "--config-file", str(CONFIG), "--cache-dir", str(mypy_cache_dir())]
    )
    return re.findall(r'Revealed type is "(.*)"', stdout)


def test_public_torch_api_keeps_its_types_under_the_grader_config(tmp_path: Path) -> None:
    revealed = reveal(tmp_path, PUBLIC_API)
    assert len(revealed) == len(PUBLIC_API)
    untyped = [name for name, t in zip(PUBLIC_API, revealed, strict=True) if t == "Any"]
    assert untyped == []


def test_the_skipped_internals_are_really_skipped(tmp_path: Path) -> None:
    # The other half of the bargain: if this starts failing, torch moved its compiler
    # and the skip list in grader/mypy.ini no longer saves anything.
    assert reveal(tmp_path, ["torch._dynamo.optimize", "torch._inductor.compile"]) == [
        "Any",
        "Any",
    ]


def test_a_mypy_crash_is_an_error_not_a_clean_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A crash inside mypy exits with status 1, like "errors found", but reports none.
    def crashed_child(cmd: list[str], cwd: Path, env: dict[str, str], timeout_s: float) -> int:
        (cwd / "mypy.stdout").write_text("")
        (cwd / "mypy.stderr").write_text("Traceback ...\nTypeError: boom\n")
        return 1

    monkeypatch.setattr(typecheck, "run_tracked", crashed_child)
    errors = typecheck.run_mypy(tmp_path / "solution.py", tmp_path)
    assert [(e["message"], e["code"]) for e in errors] == [("TypeError: boom", "internal")]


def test_the_types_child_keeps_a_crash_traceback_and_fails(tmp_path: Path) -> None:
    (tmp_path / "solution.py").write_text("x: int = 1\n")
    config = {
        "file": str(tmp_path / "solution.py"),
        "config_file": str(CONFIG),
        "cache_dir": 123,  # not a path: mypy crashes while reading its options
        "stdout": str(tmp_path / "out"),
        "stderr": str(tmp_path / "err"),
    }
    (tmp_path / "types.json").write_text(json.dumps(config))
    done = subprocess.run(
        [sys.executable, "-I", "-m", "grader.judge.run_mypy", str(tmp_path / "types.json")],
        capture_output=True,
        check=False,
    )
    assert done.returncode != 0
    assert (tmp_path / "err").read_text().strip().splitlines()[-1].startswith("TypeError")
