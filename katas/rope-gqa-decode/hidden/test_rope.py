"""apply_rope_half / apply_rope_interleaved: pairing, frequencies, direction, absolute
positions, float32 angles for any activation dtype."""

from __future__ import annotations

import math

import pytest
import solution as sol
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from oracle import check_close, half_order, randn

import reference.rope_decode as ref

NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
LAYOUTS = ["half", "interleaved"]
F32 = {"atol": 1e-2, "rtol": 0.0}  # float32 angles below position 8192 (PROMPT.md)
F32_BELOW_100 = {"atol": 1e-4, "rtol": 0.0}  # float32 below position 100 (PROMPT.md)
BF16 = {"atol": 0.1, "rtol": 0.0}


def candidate(layout: str) -> object:
    return sol.apply_rope_half if layout == "half" else sol.apply_rope_interleaved


def reference(layout: str) -> object:
    return ref.apply_rope_half if layout == "half" else ref.apply_rope_interleaved


def rope(layout: str, x: torch.Tensor, offset: int | torch.Tensor, base: float) -> torch.Tensor:
    fn = candidate(layout)
    assert callable(fn)
    out = fn(x, offset, base)
    assert isinstance(out, torch.Tensor), f"apply_rope_{layout} must return a tensor"
    return out


def expected(layout: str, x: torch.Tensor, offset: int | torch.Tensor, base: float) -> torch.Tensor:
    fn = reference(layout)
    assert callable(fn)
    out = fn(x, offset, base)
    assert isinstance(out, torch.Tensor)
    return out


def test_half_layout_worked_example() -> None:
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 1, 4)
    c1, s1, c2, s2 = math.cos(1), math.sin(1), math.cos(0.01), math.sin(0.01)
    want = torch.tensor([1 * c1 - 3 * s1, 2 * c2 - 4 * s2, 3 * c1 + 1 * s1, 4 * c2 + 2 * s2])
    got = sol.apply_rope_half(x, 1)
    check_close(
        got.flatten(),
        want,
        1e-4,
        0.0,
        "half layout, x = [1, 2, 3, 4] at position 1 pairs (x0, x2) and (x1, x3)",
    )


def test_interleaved_layout_worked_example() -> None:
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 1, 4)
    c1, s1, c2, s2 = math.cos(1), math.sin(1), math.cos(0.01), math.sin(0.01)
    want = torch.tensor([1 * c1 - 2 * s1, 2 * c1 + 1 * s1, 3 * c2 - 4 * s2, 4 * c2 + 3 * s2])
    got = sol.apply_rope_interleaved(x, 1)
    check_close(
        got.flatten(),
        want,
        1e-4,
        0.0,
        "interleaved layout, x = [1, 2, 3, 4] at position 1 pairs (x0, x1) and (x2, x3)",
    )


@pytest.mark.parametrize(("layout", "partner"), [("half", 2), ("interleaved", 1)])
def test_a_pair_turns_by_plus_the_angle(layout: str, partner: int) -> None:
    x = torch.tensor([1.0, 0.0, 0.0, 0.0]).view(1, 1, 1, 4)
    got = rope(layout, x, 2, 10000.0).flatten()
    want = torch.zeros(4)
    want[0], want[partner] = math.cos(2), math.sin(2)
    check_close(
        got,
        want,
        1e-4,
        0.0,
        f"{layout}: x = [1, 0, 0, 0] at position 2 turns by +2 rad to "
        f"(cos 2, sin 2) in entries (0, {partner})",
    )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_pair_i_turns_by_base_to_the_minus_2i_over_d(layout: str) -> None:
    """Each pair on its own at position 1 with base 100: the angle it turns by is theta_i."""
    d, base = 8, 100.0
    for i in range(d // 2):
        first, second = (i, i + d // 2) if layout == "half" else (2 * i, 2 * i + 1)
        x = torch.zeros(1, 1, 1, d)
        x[..., first] = 1.0
        out = rope(layout, x, 1, base).flatten()
        angle = math.atan2(float(out[second]), float(out[first]))
        theta = base ** (-2 * i / d)
        assert abs(angle - theta) < 1e-4, (
            f"{layout}, d={d}, base={base}: pair {i} must turn by base^(-2i/d) = {theta:.6f} "
            f"rad at position 1, turned by {angle:.6f}"
        )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_base_argument_sets_the_frequencies(layout: str) -> None:
    x = randn(2, 3, 2, 16, seed=1)
    got = rope(layout, x, 900, 1e6)
    check_close(got, expected(layout, x, 900, 1e6), **F32, what=f"{layout}, base 1e6, offset 900")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_an_int_offset_moves_every_sequence_to_absolute_positions(layout: str) -> None:
    x = randn(3, 5, 2, 8, seed=2)
    got = rope(layout, x, 37, 10000.0)
    want = expected(layout, x, 37, 10000.0)
    check_close(got, want, **F32_BELOW_100, what=f"{layout}: positions 37 .. 41")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_tensor_offset_gives_each_sequence_its_own_positions(layout: str) -> None:
    x = randn(3, 4, 2, 8, seed=3)
    offset = torch.tensor([5, 0, 123])
    got = rope(layout, x, offset, 10000.0)
    check_close(
        got,
        expected(layout, x, offset, 10000.0),
        **F32,
        what=f"{layout}: offset [5, 0, 123] puts token t of sequence b at offset[b] + t",
    )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_chunk_after_the_cache_is_the_tail_of_the_whole_sequence(layout: str) -> None:
    x = randn(2, 9, 3, 16, seed=4)
    whole = rope(layout, x, 0, 10000.0)
    tail = rope(layout, x[:, 6:].contiguous(), 6, 10000.0)
    check_close(
        tail,
        whole[:, 6:],
        1e-4,
        1e-4,
        f"{layout}: a chunk of 3 tokens after 6 cached ones must turn as tokens 6..8 do",
    )


@settings(max_examples=30, phases=NO_SHRINK)
@given(
    st.sampled_from(LAYOUTS),
    st.integers(1, 3),
    st.integers(1, 4),
    st.integers(1, 4),
    st.sampled_from([2, 4, 8, 32, 64, 128]),
    st.sampled_from([10000.0, 500000.0, 1e6]),
    st.booleans(),
    st.integers(0, 10_000),
)
def test_random_shapes_and_offsets_match_the_reference(
    layout: str,
    batch: int,
    seq: int,
    heads: int,
    d: int,
    base: float,
    ragged: bool,
    seed: int,
) -> None:
    x = randn(batch, seq, heads, d, seed=seed)
    g = torch.Generator().manual_seed(seed)
    offset: int | torch.Tensor = int(torch.randint(0, 5000, (), generator=g))
    if ragged:
        offset = torch.randint(0, 5000, (batch,), generator=g)
    got = rope(layout, x, offset, base)
    assert got.dtype == torch.float32, f"float32 in, float32 out; got {got.dtype}"
    check_close(
        got,
        expected(layout, x, offset, base),
        **F32,
        what=f"{layout}, x {tuple(x.shape)}, base {base}, offset {offset}",
    )


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_activations_keep_float32_angles(layout: str, dtype: torch.dtype) -> None:
    """At positions near 4000 an angle formed in bfloat16 (or float16) is off by radians."""
    x = randn(2, 3, 4, 64, seed=5, dtype=dtype)
    got = rope(layout, x, 4000, 10000.0)
    assert got.dtype == dtype, f"{dtype} in, {dtype} out; got {got.dtype}"
    want = expected(layout, x.float(), 4000, 10000.0)
    check_close(
        got,
        want,
        **BF16,
        what=f"{layout}, {dtype} x at positions 4000..4002 (angles must be float32)",
    )


def test_the_layouts_differ_only_in_which_entries_pair_up() -> None:
    """Reordering a head's entries [0, 2, 4, ..., 1, 3, 5, ...] turns interleaved pairs
    into half pairs: rotating then reordering equals reordering then rotating."""
    d = 16
    order = half_order(d)
    x = randn(2, 3, 2, d, seed=6)
    half = sol.apply_rope_half(x[..., order].contiguous(), 11)
    interleaved = sol.apply_rope_interleaved(x, 11)
    check_close(
        half,
        interleaved[..., order],
        1e-4,
        1e-4,
        "apply_rope_half of the reordered x must be the reordered apply_rope_interleaved",
    )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_input_is_not_modified(layout: str) -> None:
    x = randn(2, 3, 2, 8, seed=7)
    before = x.clone()
    rope(layout, x, 3, 10000.0)
    assert torch.equal(x, before), f"apply_rope_{layout} modified its input"
