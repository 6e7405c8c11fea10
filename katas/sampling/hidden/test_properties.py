"""filter_logits against the slow float64 oracle on generated batches (hypothesis)."""

from __future__ import annotations

import solution as sol
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import check_filtered
from strategies import NO_SHRINK, Case, per_row_cases, scalar_cases


@settings(max_examples=60, phases=NO_SHRINK)
@given(scalar_cases())
def test_filter_matches_the_oracle_for_scalar_parameters(case: Case) -> None:
    out = sol.filter_logits(case.logits, case.temperature, case.top_k, case.top_p, case.min_p)
    check_filtered(out, case.logits, case.temperature, case.top_k, case.top_p, case.min_p)


@settings(max_examples=40, phases=NO_SHRINK)
@given(per_row_cases())
def test_filter_matches_the_oracle_row_by_row_for_per_row_parameters(case: Case) -> None:
    out = sol.filter_logits(case.logits, case.temperature, case.top_k, case.top_p, case.min_p)
    check_filtered(out, case.logits, case.temperature, case.top_k, case.top_p, case.min_p)


@settings(max_examples=30, phases=NO_SHRINK)
@given(scalar_cases(), st.sampled_from([torch.float16, torch.bfloat16]))
def test_half_precision_input_filters_like_its_float32_upcast(
    case: Case, dtype: torch.dtype
) -> None:
    # Grid logits are exact in both half formats: the upcast is the same row.
    out = sol.filter_logits(
        case.logits.to(dtype), case.temperature, case.top_k, case.top_p, case.min_p
    )
    check_filtered(out, case.logits, case.temperature, case.top_k, case.top_p, case.min_p)


@settings(max_examples=30, phases=NO_SHRINK)
@given(scalar_cases())
def test_each_row_is_filtered_independently_of_the_others(case: Case) -> None:
    whole = sol.filter_logits(case.logits, case.temperature, case.top_k, case.top_p, case.min_p)
    for i in range(case.logits.shape[0]):
        alone = sol.filter_logits(
            case.logits[i : i + 1], case.temperature, case.top_k, case.top_p, case.min_p
        )
        assert torch.equal(whole[i : i + 1], alone), (
            f"row {i} filtered in a batch gives {whole[i].tolist()}, "
            f"alone it gives {alone[0].tolist()}: rows must not affect each other"
        )
