"""`drill bench`: the speed case timed by pytest-benchmark, under the grade's rules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drills import actions
from drills.workspace import find_workspace, start
from grader.bench import BenchFailed
from grader.errors import BadInput
from grader.kata import Kata

WRONG = (
    "def top_k_indices(xs: list[float], k: int) -> list[int]:\n"
    "    return list(range(min(k, len(xs))))\n"
)


def workspace(kata: Kata, root: Path, source: str | None = None) -> Path:
    ws = start(kata, root, 600, force=False, resume=False).workspace
    if source is None:
        shutil.copyfile(kata.model_answer, ws.solution)
    else:
        ws.solution.write_text(source)
    return ws.root


@pytest.mark.slow
def test_a_run_times_both_sides_and_is_kept_beside_the_earlier_ones(
    toy_kata: Kata, toy_katas_dir: Path, tmp_path: Path
) -> None:
    root = workspace(toy_kata, tmp_path / "ws")
    first = actions.bench(root, device="cpu")
    run = first.run
    assert run.kata == "top-k-indices" and run.device == "cpu"
    assert run.candidate.rounds >= 5 and run.reference.rounds >= 5
    assert run.candidate.median_s > 0 and run.ratio == pytest.approx(
        run.candidate.median_s / run.reference.median_s
    )
    kept = json.loads(first.saved.read_text())
    assert kept["attempt"] == first.attempt and kept["pytest_benchmark"]["benchmarks"]
    assert first.earlier == []
    second = actions.bench(root, device="cpu")
    assert [a for a, _ in second.earlier] == [first.attempt]
    assert [r.to_json() for _, r in actions.bench_runs(find_workspace(root))] == [
        first.run.to_json(),
        second.run.to_json(),
    ]
    # A damaged run is skipped, and the next run never takes a kept run's place.
    first.saved.write_text("{damaged")
    kept_second = second.saved.read_bytes()
    third = actions.bench(root, device="cpu")
    assert [a for a, _ in third.earlier] == [second.attempt]
    assert second.saved.read_bytes() == kept_second
    assert third.saved.name.startswith("003-")


def test_a_wrong_answer_is_not_timed(toy_kata: Kata, toy_katas_dir: Path, tmp_path: Path) -> None:
    root = workspace(toy_kata, tmp_path / "ws", WRONG)
    with pytest.raises(BenchFailed, match="your results differ from the reference's"):
        actions.bench(root, device="cpu")
    assert not (root / ".drill" / "bench").exists()


def test_a_solution_that_raises_is_named(
    toy_kata: Kata, toy_katas_dir: Path, tmp_path: Path
) -> None:
    root = workspace(toy_kata, tmp_path / "ws", (toy_kata.starter_dir / "solution.py").read_text())
    with pytest.raises(BenchFailed, match="on the speed case, your solution raised Not"):
        actions.bench(root, device="cpu")


def test_device_cuda_without_cuda_is_bad_input(
    toy_kata: Kata, toy_katas_dir: Path, tmp_path: Path
) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    root = workspace(toy_kata, tmp_path / "ws")
    with pytest.raises(BadInput, match="CUDA is not available"):
        actions.bench(root, device="cuda")
    assert not (root / ".drill" / "bench").exists()
