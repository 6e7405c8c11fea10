"""pack_int4 / unpack_int4: nibble order, two's complement, shapes, round trips."""

from __future__ import annotations

import pytest
import solution as sol
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from oracle import gaussian, nibble_bytes

NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


def test_signed_worked_example() -> None:
    q = torch.tensor([[1, -2, -8, 7]], dtype=torch.int8)
    packed = sol.pack_int4(q)
    assert packed.dtype == torch.uint8, f"packed bytes are uint8, got {packed.dtype}"
    assert packed.tolist() == [[0xE1, 0x78]], (
        f"(1, -2) -> 0xE1 and (-8, 7) -> 0x78 (even element low), got {packed.tolist()}"
    )


def test_unsigned_even_element_in_the_low_nibble() -> None:
    packed = sol.pack_int4(torch.tensor([3, 12, 15, 0], dtype=torch.uint8))
    assert packed.tolist() == [0xC3, 0x0F], (
        f"(3, 12) -> 0xC3, (15, 0) -> 0x0F, got {packed.tolist()}"
    )


def test_every_signed_pair_packs_to_its_integer_formula() -> None:
    values = [a for a in range(-8, 8) for _ in range(16)]
    pairs = [v for a, b in zip(values, list(range(-8, 8)) * 16, strict=True) for v in (a, b)]
    got = sol.pack_int4(torch.tensor(pairs, dtype=torch.int8)).tolist()
    assert got == nibble_bytes(pairs), "some (even, odd) pair of [-8, 7] packs to the wrong byte"


def test_unpack_sign_extends_the_high_half_of_the_nibble_range() -> None:
    got = sol.unpack_int4(torch.tensor([0x8F, 0x70], dtype=torch.uint8), signed=True)
    assert got.dtype == torch.int8, f"signed unpack returns int8, got {got.dtype}"
    assert got.tolist() == [-1, -8, 0, 7], f"0x8F -> (-1, -8), 0x70 -> (0, 7); got {got.tolist()}"


def test_unpack_unsigned_keeps_0_to_15() -> None:
    got = sol.unpack_int4(torch.tensor([[0x8F, 0x70]], dtype=torch.uint8), signed=False)
    assert got.dtype == torch.uint8, f"unsigned unpack returns uint8, got {got.dtype}"
    assert got.tolist() == [[15, 8, 0, 7]], f"got {got.tolist()}"


def test_packing_works_on_the_last_axis_of_any_shape() -> None:
    q = torch.arange(48).remainder(16).to(torch.uint8).reshape(2, 3, 8)
    packed = sol.pack_int4(q)
    assert tuple(packed.shape) == (2, 3, 4), (
        f"[2, 3, 8] packs to [2, 3, 4], got {tuple(packed.shape)}"
    )
    assert torch.equal(sol.unpack_int4(packed, signed=False), q)


@settings(max_examples=40, phases=NO_SHRINK)
@given(st.integers(0, 4), st.integers(0, 10), st.booleans(), st.integers(0, 10_000))
def test_unpack_inverts_pack(rows: int, half: int, signed: bool, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    if signed:
        q = torch.randint(-8, 8, (rows, 2 * half), generator=g).to(torch.int8)
    else:
        q = torch.randint(0, 16, (rows, 2 * half), generator=g).to(torch.uint8)
    back = sol.unpack_int4(sol.pack_int4(q), signed)
    assert torch.equal(back, q), f"unpack(pack(q)) != q for q={q.tolist()}"


@pytest.mark.parametrize("symmetric", [True, False])
def test_int4_weights_survive_packing(symmetric: bool) -> None:
    w = gaussian(8, 64, seed=17)
    q, _, _ = sol.quantize(w, 4, symmetric, 16)
    packed = sol.pack_int4(q)
    assert tuple(packed.shape) == (8, 32), (
        f"64 int4 values per row pack to 32 bytes, got {tuple(packed.shape)}"
    )
    assert torch.equal(sol.unpack_int4(packed, signed=symmetric), q)


@pytest.mark.parametrize(
    ("q", "why"),
    [
        (torch.zeros(2, 3, dtype=torch.int8), "an odd last axis"),
        (torch.tensor([8, 0], dtype=torch.int8), "int8 8 (above 7)"),
        (torch.tensor([-9, 0], dtype=torch.int8), "int8 -9 (below -8)"),
        (torch.tensor([16, 0], dtype=torch.uint8), "uint8 16 (above 15)"),
        (torch.tensor([1, 2], dtype=torch.int32), "int32 (neither int8 nor uint8)"),
    ],
)
def test_pack_rejects_what_does_not_fit(q: torch.Tensor, why: str) -> None:
    with pytest.raises(ValueError):
        sol.pack_int4(q)
        pytest.fail(f"{why} must raise ValueError")
