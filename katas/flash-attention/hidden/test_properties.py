"""Random shapes, masks, offsets and tile sizes, forward and backward, against the oracle."""

from __future__ import annotations

import solution as sol
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from oracle import FLOAT32, LSE_FLOAT32, check_close, expected, expected_grads, qkv, randn_like

# A failure is reported at the example that found it: shrinking would only re-run the
# tiles many times over (and every mutant pays for it).
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


@st.composite
def problems(draw: st.DrawFn) -> dict[str, object]:
    """Shapes (GQA included), a mask (none, causal, windowed; default or explicit
    offset, some leaving rows empty) and tile sizes that need not divide anything."""
    n_kv = draw(st.integers(1, 2))
    q_len = draw(st.integers(1, 24))
    causal = draw(st.booleans())
    return {
        "batch": draw(st.integers(1, 2)),
        "n_kv": n_kv,
        "n_heads": n_kv * draw(st.integers(1, 3)),
        "q_len": q_len,
        "kv_len": draw(st.integers(max(1, q_len - 3), q_len + 30)),
        "head_dim": draw(st.sampled_from([4, 8, 16])),
        "causal": causal,
        "window": draw(st.one_of(st.none(), st.integers(1, 40))) if causal else None,
        "offset": draw(st.one_of(st.none(), st.integers(0, 40))) if causal else None,
        "block_q": draw(st.integers(2, 20)),
        "block_k": draw(st.integers(2, 20)),
        "seed": draw(st.integers(0, 10_000)),
    }


def describe(p: dict[str, object]) -> str:
    return ", ".join(f"{key}={value}" for key, value in p.items() if key != "seed")


@settings(max_examples=30, phases=NO_SHRINK)
@given(problems())
def test_forward_matches_sdpa_on_random_problems(p: dict[str, int]) -> None:
    q, k, v = qkv(p["batch"], p["n_heads"], p["n_kv"], p["q_len"], p["kv_len"],
                  p["head_dim"], p["seed"])  # fmt: skip
    mask = {"causal": p["causal"], "window": p["window"], "offset": p["offset"]}
    out, lse = sol.flash_attention(q, k, v, block_q=p["block_q"], block_k=p["block_k"], **mask)
    want_out, want_lse = expected(q, k, v, **mask)
    check_close(out, want_out, FLOAT32, f"out, {describe(p)}", torch.float32)
    check_close(lse, want_lse, LSE_FLOAT32, f"lse, {describe(p)}", torch.float32)


@settings(max_examples=20, phases=NO_SHRINK)
@given(problems())
def test_backward_matches_autograd_on_random_problems(p: dict[str, int]) -> None:
    q, k, v = qkv(p["batch"], p["n_heads"], p["n_kv"], p["q_len"], p["kv_len"],
                  p["head_dim"], p["seed"])  # fmt: skip
    mask = {"causal": p["causal"], "window": p["window"], "offset": p["offset"]}
    dout = randn_like(q, p["seed"] + 1)
    out, lse = expected(q, k, v, **mask)
    got = sol.flash_attention_backward(
        q, k, v, out.float(), lse.float(), dout,
        block_q=p["block_q"], block_k=p["block_k"], **mask,
    )  # fmt: skip
    want = expected_grads(q, k, v, dout, **mask)
    for name, g, w in zip(("dq", "dk", "dv"), got, want, strict=True):
        check_close(g, w, FLOAT32, f"{name}, {describe(p)}", torch.float32)
