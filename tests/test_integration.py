"""The integration check: a candidate's component inside the reference engine.

For each kata whose component the engine uses, the model answer reproduces the
reference engine token for token, and a known-wrong variant is caught with a reason
that names the first step and layer that differs.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

from grader.kata import load_kata_from
from grader.mutants import mutant_named, write_mutant
from grader.paths import BUILTIN_KATAS
from reference.components import Components
from reference.divergence import first_divergence, tiny_model

# kata -> a mutant the engine catches, and what the reason must say
CAUGHT = {
    "kv-cache": (
        "rolling_slot_off_by_one",
        r"with the rolling cache, step \d+ \(decode\), layer \d+: hidden states differ",
    ),
    "sliding-window-mask": (
        "window_counts_without_self",
        r"step 0 \(prefill\), layer 0: hidden states differ",
    ),
    "moe-router": ("silu_on_up_projection", r"step 0 \(prefill\), layer 0: hidden states differ"),
    "paged-allocator": ("cow_when_alone", r"OutOfBlocks"),
    "sampling": (
        "sample_ignores_filters",
        r"with temperature=5, top_k=1: step \d+ \(decode\): the engine fed different tokens",
    ),
}


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"candidate_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def cases(request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    kata: str = request.param
    hidden = str(BUILTIN_KATAS / kata / "hidden")
    helpers = ("cases", "oracle", "strategies")  # every kata's hidden folder has its own
    sys.path.insert(0, hidden)
    for name in helpers:
        sys.modules.pop(name, None)
    try:
        yield importlib.import_module("cases")
    finally:
        sys.path.remove(hidden)
        for name in helpers:
            sys.modules.pop(name, None)


def with_integration() -> list[str]:
    return sorted(
        k for k in CAUGHT if "integration:" in (BUILTIN_KATAS / k / "kata.yaml").read_text()
    )


@pytest.mark.parametrize("cases", with_integration(), indirect=True)
def test_the_model_answer_runs_the_engine_token_for_token(cases: ModuleType) -> None:
    kata = Path(str(cases.__file__)).parent.parent
    assert cases.integration_case(load(kata / "model_answer.py"), "cpu") is None


@pytest.mark.parametrize("cases", with_integration(), indirect=True)
def test_a_wrong_component_is_caught_with_the_step_and_layer(
    cases: ModuleType, tmp_path: Path
) -> None:
    kata = Path(str(cases.__file__)).parent.parent
    mutant, reason = CAUGHT[kata.name]
    loaded = load_kata_from(kata)
    path = write_mutant(loaded, mutant_named(loaded, mutant), tmp_path / kata.name)
    try:
        difference = cases.integration_case(load(path), "cpu")
    except Exception as exc:  # the grader reports an exception inside the engine as a failure
        difference = f"{type(exc).__name__}: {exc}"
    assert difference is not None
    assert re.search(reason, difference), difference


def test_identical_components_show_no_divergence() -> None:
    model = tiny_model()
    assert (
        first_divergence(
            model, [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]], 6, Components(), cache="contiguous"
        )
        is None
    )


def test_a_changed_sampler_is_reported_as_the_tokens_fed_back() -> None:
    from reference.sampling import sample

    def off_by_one(logits: torch.Tensor, **kwargs: object) -> torch.Tensor:
        return (sample(logits, **kwargs) + 1) % logits.shape[-1]  # type: ignore[arg-type]

    difference = first_divergence(
        tiny_model(), [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]], 4, Components(sample=off_by_one)
    )
    assert difference is not None and "the engine fed different tokens" in difference
