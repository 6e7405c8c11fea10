"""verify, deterministically: certain acceptances and rejections, the bonus token, per-row
lengths and padding, shapes and dtypes, invalid lengths, inputs left alone, the generator."""

from __future__ import annotations

import pytest
import solution as sol
import torch
from oracle import batch
from torch import Tensor

from grader.judge.remote import manual_seed


def one_hot(tokens: list[list[int]], vocab: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """[B, n, vocab]: row b, position i certain of tokens[b][i]."""
    return torch.nn.functional.one_hot(torch.tensor(tokens), vocab).to(dtype)


def run(
    draft: list[list[int]],
    q: Tensor,
    p: Tensor,
    lengths: list[int] | None = None,
    seed: int = 0,
) -> tuple[list[list[int]], list[int]]:
    d = torch.tensor(draft)
    n_t = None if lengths is None else torch.tensor(lengths)
    out = sol.verify(d, q, p, n_t, generator=torch.Generator().manual_seed(seed))
    assert isinstance(out, tuple) and len(out) == 2, "verify returns (tokens, n_accepted)"
    tokens, n = out
    return tokens.tolist(), n.tolist()


def test_verify_returns_int64_tokens_of_width_k_plus_one_and_int64_counts() -> None:
    p = torch.full((5, 4, 7), 1 / 7)
    draft = torch.randint(0, 7, (5, 3), generator=torch.Generator().manual_seed(1))
    tokens, n = sol.verify(draft, p[:, :3], p, generator=torch.Generator().manual_seed(0))
    assert tokens.dtype == torch.int64 and tuple(tokens.shape) == (5, 4), (
        f"tokens: expected int64 [5, 4] for draft [5, 3], got {tokens.dtype} {list(tokens.shape)}"
    )
    assert n.dtype == torch.int64 and tuple(n.shape) == (5,), (
        f"n_accepted: expected int64 [5], got {n.dtype} {list(n.shape)}"
    )


def test_a_draft_that_matches_a_certain_target_is_kept_and_the_bonus_follows() -> None:
    chain = [[2, 0, 4, 1], [3, 3, 1, 4]]  # each row's target is certain at every position
    p = one_hot(chain, 5)
    tokens, n = run([c[:3] for c in chain], p[:, :3], p)
    assert n == [3, 3], f"q = p: every draft token is accepted, n_accepted [3, 3]; got {n}"
    assert tokens == chain, (
        f"all accepted: the drafts, then the bonus from p[:, k]; expected {chain}, got {tokens}"
    )


def test_a_token_the_target_rules_out_is_rejected_and_the_row_stops_there() -> None:
    # Row 0 drafts 1, 2, 3; the target is certain of 1 and 3 at positions 0 and 2 (q = p
    # there) but of 4 at position 1, where the draft proposed 2 with certainty: rejected,
    # and the residual max(0, p - q) is all on 4. Position 2 would have been accepted.
    # Row 1 is rejected at position 0 the same way.
    q = one_hot([[1, 2, 3], [0, 2, 3]], 5)
    p = one_hot([[1, 4, 3, 0], [4, 2, 3, 0]], 5)
    tokens, n = run([[1, 2, 3], [0, 2, 3]], q, p)
    assert n == [1, 0], f"the first rejection ends the row: expected n_accepted [1, 0], got {n}"
    assert tokens == [[1, 4, -1, -1], [4, -1, -1, -1]], (
        "after the rejection: one token from max(0, p - q), then -1; expected "
        f"[[1, 4, -1, -1], [4, -1, -1, -1]], got {tokens}"
    )


def test_the_residual_draw_never_picks_a_token_where_q_covers_p() -> None:
    # q puts 0.6 on token 0 and 0.4 on token 1; p puts 0.2, 0.5, 0.3 on tokens 0, 1, 2.
    # max(0, p - q) = [0, 0.1, 0.3]: after a rejection token 0 is impossible.
    q = torch.tensor([[[0.6, 0.4, 0.0]]]).expand(3000, 1, 3)
    p = torch.tensor([[[0.2, 0.5, 0.3], [1.0, 0.0, 0.0]]]).expand(3000, 2, 3)
    tokens, n = run([[0]] * 3000, q, p, seed=5)
    after = [t[0] for t, a in zip(tokens, n, strict=True) if a == 0]
    assert after, "with p(0) / q(0) = 1/3, about two thirds of the rows must reject token 0"
    assert 0 not in after, (
        f"a rejected row drew token 0, where max(0, p - q) is 0, {after.count(0)} times out "
        f"of {len(after)}"
    )
    assert 2 in after, "the residual [0, 0.1, 0.3] gives token 2 three times in four"


def test_a_drafted_token_with_q_zero_and_p_positive_is_accepted() -> None:
    # u * q(x) < p(x) holds for every u when q(x) = 0 < p(x): min(1, p / q) is 1.
    q = one_hot([[0, 0]], 3, torch.float64)
    p = torch.tensor([[[0.0, 0.5, 0.5], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    for seed in range(5):
        tokens, n = run([[1, 0]], q, p, seed=seed)
        assert n == [2] and tokens == [[1, 0, 2]], (
            f"draft token 1 has q = 0 and p = 0.5 at position 0: always accepted; then token "
            f"0 (q = p); then the bonus 2: expected [[1, 0, 2]], got {tokens}"
        )


def test_per_row_lengths_stop_each_row_and_its_bonus_comes_after_its_last_draft() -> None:
    chain = [[2, 0, 4, 1], [3, 3, 1, 4], [0, 1, 2, 3], [4, 2, 2, 0]]
    p = one_hot(chain, 5)
    lengths = [3, 2, 0, 1]
    draft = [[c[i] if i < n else -1 for i in range(3)] for c, n in zip(chain, lengths, strict=True)]
    tokens, n = run(draft, p[:, :3], p, lengths)
    assert n == lengths, f"q = p: each row keeps its lengths[b] drafts, {lengths}; got {n}"
    expected = [[2, 0, 4, 1], [3, 3, 1, -1], [0, -1, -1, -1], [4, 2, -1, -1]]
    assert tokens == expected, (
        "each row: its drafts, then the bonus from p[b, lengths[b]], then -1; expected "
        f"{expected}, got {tokens}"
    )


def test_lengths_default_to_every_draft_token() -> None:
    chain = [[1, 2, 3], [3, 2, 1]]
    p = one_hot(chain, 4)
    tokens, n = run([c[:2] for c in chain], p[:, :2], p, None)
    assert n == [2, 2] and tokens == chain, (
        f"lengths=None means every row drafted k = 2: expected {chain} and [2, 2], "
        f"got {tokens} and {n}"
    )


def test_a_batch_of_one_with_one_draft_token() -> None:
    p = one_hot([[2, 1]], 3)
    tokens, n = run([[2]], p[:, :1], p)
    assert (tokens, n) == ([[2, 1]], [1]), f"expected ([[2, 1]], [1]), got {(tokens, n)}"


@pytest.mark.parametrize("bad", [[4, 1], [2, -1]])
def test_lengths_outside_zero_to_k_raise_value_error(bad: list[int]) -> None:
    p = one_hot([[0, 1, 2, 0], [1, 2, 0, 1]], 3)
    with pytest.raises(ValueError):
        sol.verify(torch.tensor([[0, 1, 2], [1, 2, 0]]), p[:, :3], p, torch.tensor(bad))
        pytest.fail(f"lengths {bad} with k = 3 must raise ValueError")


def test_verify_does_not_modify_its_inputs() -> None:
    b = batch(300, seed=3)
    before = [t.clone() for t in (b.draft, b.q, b.p, b.lengths)]
    sol.verify(b.draft, b.q, b.p, b.lengths, generator=torch.Generator().manual_seed(0))
    for name, old, new in zip(
        ("draft", "q", "p", "lengths"), before, (b.draft, b.q, b.p, b.lengths), strict=True
    ):
        assert torch.equal(old, new), f"verify modified its {name} argument"


# -- the generator ------------------------------------------------------------------------


def test_the_same_generator_seed_gives_the_same_result() -> None:
    b = batch(3000, seed=4)
    a = sol.verify(b.draft, b.q, b.p, b.lengths, generator=torch.Generator().manual_seed(42))
    c = sol.verify(b.draft, b.q, b.p, b.lengths, generator=torch.Generator().manual_seed(42))
    assert torch.equal(a[0], c[0]) and torch.equal(a[1], c[1]), (
        "two generators seeded alike must give the same tokens: every draw (the uniforms "
        "and the extra token) comes from `generator`"
    )


def test_draws_come_from_the_generator_not_the_global_rng() -> None:
    b = batch(3000, seed=5)
    manual_seed(sol, 1)
    a = sol.verify(b.draft, b.q, b.p, b.lengths, generator=torch.Generator().manual_seed(42))
    manual_seed(sol, 2)
    c = sol.verify(b.draft, b.q, b.p, b.lengths, generator=torch.Generator().manual_seed(42))
    assert torch.equal(a[0], c[0]), (
        "with the same generator seed, changing torch.manual_seed changed the tokens: "
        "the draws must come from `generator`"
    )


def test_different_generator_seeds_give_different_results() -> None:
    b = batch(3000, seed=6)
    a = sol.verify(b.draft, b.q, b.p, b.lengths, generator=torch.Generator().manual_seed(1))
    c = sol.verify(b.draft, b.q, b.p, b.lengths, generator=torch.Generator().manual_seed(2))
    same = int((a[0] == c[0]).all(1).sum())
    assert same < 2500, f"seeds 1 and 2 agreed on {same} of 3000 rows: the generator seems unused"


def test_without_a_generator_the_global_rng_is_used() -> None:
    b = batch(3000, seed=7)
    manual_seed(sol, 5)  # the global RNG of the process the solution runs in
    a = sol.verify(b.draft, b.q, b.p, b.lengths)
    manual_seed(sol, 5)
    c = sol.verify(b.draft, b.q, b.p, b.lengths)
    assert torch.equal(a[0], c[0]), "generator=None must draw from torch's global RNG"
