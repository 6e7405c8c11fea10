"""expected_accepted: the closed form sum_i prod_{j<=i} alpha_j, by hand and against a loop."""

from __future__ import annotations

import math

import oracle
import pytest
import solution as sol
import torch


def expected(p: list[list[float]], q: list[list[float]]) -> float:
    out = sol.expected_accepted(
        torch.tensor(p, dtype=torch.float64), torch.tensor(q, dtype=torch.float64)
    )
    assert isinstance(out, float), f"expected_accepted returns a Python float, got {type(out)}"
    return out


def test_worked_example() -> None:
    # alpha = [0.5, 0.8]: 0.5 + 0.5 * 0.8 = 0.9
    got = expected([[0.5, 0.5, 0.0], [0.2, 0.8, 0.0]], [[1.0, 0.0, 0.0], [0.0, 0.8, 0.2]])
    assert math.isclose(got, 0.9, abs_tol=1e-9), (
        f"alpha = [0.5, 0.8] gives 0.5 + 0.5 * 0.8 = 0.9; got {got}"
    )


def test_identical_distributions_accept_all_k() -> None:
    p = torch.softmax(torch.randn(5, 9, generator=torch.Generator().manual_seed(1)), -1)
    got = sol.expected_accepted(p, p.clone())
    assert math.isclose(got, 5.0, abs_tol=1e-5), f"q = p at 5 positions: 5 accepted, got {got}"


def test_disjoint_supports_accept_nothing() -> None:
    got = expected([[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]])
    assert got == 0.0, f"p and q never overlap: nothing is accepted, got {got}"


def test_a_position_that_never_accepts_ends_the_sum() -> None:
    # alpha = [0.9, 0, 1]: positions 2 and 3 are never reached.
    got = expected(
        [[0.9, 0.1], [1.0, 0.0], [0.5, 0.5]],
        [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]],
    )
    assert math.isclose(got, 0.9, abs_tol=1e-9), (
        f"alpha = [0.9, 0, 1]: only the first position counts, 0.9; got {got}"
    )


def test_the_order_of_the_positions_matters() -> None:
    p, q = [[1.0, 0.0], [0.5, 0.5]], [[1.0, 0.0], [1.0, 0.0]]  # alpha = [1, 0.5]
    first = expected(p, q)
    last = expected(p[::-1], q[::-1])  # alpha = [0.5, 1]
    assert math.isclose(first, 1.5, abs_tol=1e-9) and math.isclose(last, 1.0, abs_tol=1e-9), (
        f"alpha [1, 0.5] gives 1 + 0.5 = 1.5 and alpha [0.5, 1] gives 0.5 + 0.5 = 1.0; got "
        f"{first} and {last}"
    )


@pytest.mark.parametrize(("k", "vocab", "seed"), [(1, 4, 1), (4, 8, 2), (8, 50, 3), (16, 3, 4)])
def test_expected_accepted_matches_a_loop(k: int, vocab: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    p = torch.softmax(torch.randn(k, vocab, generator=g, dtype=torch.float64), -1)
    q = torch.softmax(torch.randn(k, vocab, generator=g, dtype=torch.float64) * 0.5, -1)
    want = oracle.expected_accepted(p, q)
    got = sol.expected_accepted(p, q)
    assert math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9), (
        f"k={k}, V={vocab}: expected {want:.9f}, got {got}"
    )
    got32 = sol.expected_accepted(p.float(), q.float())
    assert math.isclose(got32, want, rel_tol=1e-5), (
        f"float32 inputs, k={k}, V={vocab}: expected {want:.6f}, got {got32}"
    )
