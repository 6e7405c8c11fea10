"""Random searches and a tiny model's log-probs, step by step against the reference."""

from __future__ import annotations

import pytest
import solution as sol
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from oracle import compare, drive, hashed_model, reference_run, tiny_model_fn

# No shrinking: a failing search is reported as drawn (shrinking reruns it many times).
SETTINGS = settings(max_examples=20, phases=(Phase.explicit, Phase.reuse, Phase.generate))


@SETTINGS
@given(
    st.integers(0, 2**31 - 1),
    st.integers(1, 3),  # batch
    st.integers(1, 4),  # beams
    st.integers(1, 7),  # max_new_tokens
    st.sampled_from([1.0, 0.0, 2.0, -1.0, 0.5]),
    st.booleans(),
    st.sampled_from([0.0, 1.5, 3.0]),  # how much EOS is raised
    st.data(),
)
def test_random_searches_match_the_reference(
    seed: int,
    batch: int,
    beams: int,
    new: int,
    length_penalty: float,
    early_stopping: bool,
    eos_boost: float,
    data: st.DataObject,
) -> None:
    n = data.draw(st.integers(1, beams), label="num_return_sequences")
    prompt_len = data.draw(st.integers(1, 4), label="prompt length")
    g = torch.Generator().manual_seed(seed)
    prompts = torch.randint(1, 16, (batch, prompt_len), generator=g).tolist()
    fn = hashed_model(seed, 16, eos_boost)
    search = sol.BeamSearch(batch, beams, 0, new, length_penalty, early_stopping)
    got = drive(search, fn, prompts, beams, new, n)
    want = reference_run(fn, prompts, beams, new, length_penalty, early_stopping, n)
    compare(
        got,
        want,
        f"batch {batch}, {beams} beams, max_new_tokens {new}, length_penalty "
        f"{length_penalty}, early_stopping {early_stopping}",
    )


@pytest.mark.parametrize(
    ("eos", "early_stopping", "length_penalty"),
    [(59, True, 1.0), (68, False, 1.0), (84, False, 2.0), (59, False, 0.0)],
)
def test_tiny_model_search_matches_the_reference(
    eos: int, early_stopping: bool, length_penalty: float
) -> None:
    fn = tiny_model_fn()
    prompts = torch.randint(1, 97, (2, 4), generator=torch.Generator().manual_seed(2)).tolist()
    search = sol.BeamSearch(2, 3, eos, 8, length_penalty, early_stopping)
    got = drive(search, fn, prompts, 3, 8, 3)
    want = reference_run(fn, prompts, 3, 8, length_penalty, early_stopping, 3, eos=eos)
    compare(got, want, f"tiny model, EOS {eos}, early_stopping {early_stopping}")


def test_many_rows_and_beams_match_the_reference() -> None:
    fn = hashed_model(7, 40, 2.5, scale=1.5)
    prompts = torch.randint(1, 40, (6, 3), generator=torch.Generator().manual_seed(3)).tolist()
    got = drive(sol.BeamSearch(6, 5, 0, 9, 1.0, False), fn, prompts, 5, 9, 5)
    want = reference_run(fn, prompts, 5, 9, 1.0, False, 5)
    compare(got, want, "6 rows of 5 beams")
