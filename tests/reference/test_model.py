"""reference.model against transformers 5's MistralForCausalLM / MixtralForCausalLM.

Random tiny configs, float32, the same weights on both sides: logits must agree
within 1e-4 relative error, for a full forward and for a prefill followed by decode
steps through every KV cache layout. transformers runs its eager attention (an
explicit softmax), independent of the SDPA kernel the reference calls. Loading is
checked on what `save_pretrained` writes, on transformers' in-memory (fused expert)
state dict, on the per-expert Mixtral names, and on broken state dicts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import MistralConfig, MistralForCausalLM, MixtralConfig, MixtralForCausalLM

from reference.engine import Session
from reference.kv_layout import CacheKind
from reference.loading import CheckpointError, model_args
from reference.model import Transformer, from_state_dict, load

TOLERANCE = 1e-4

# name -> (architecture, config overrides); every one differs in some way that matters.
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "mistral-gqa-window5": ("mistral", {"sliding_window": 5}),
    "mistral-mha-no-window-head-dim": (
        "mistral",
        {"num_key_value_heads": 4, "head_dim": 24, "sliding_window": None},
    ),
    "mistral-mqa-tied-window2-theta500": (
        "mistral",
        {
            "num_key_value_heads": 1,
            "tie_word_embeddings": True,
            "sliding_window": 2,
            "rope_parameters": {"rope_type": "default", "rope_theta": 500.0},
        },
    ),
    "mixtral-8x-top2-window4": (
        "mixtral",
        {"num_local_experts": 8, "num_experts_per_tok": 2, "sliding_window": 4},
    ),
    "mixtral-4x-top1-no-window": (
        "mixtral",
        {"num_local_experts": 4, "num_experts_per_tok": 1, "sliding_window": None},
    ),
}
BASE: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 97,
    "attn_implementation": "eager",
    # transformers' default (0.02) leaves attention's contribution too small to move
    # greedy choices; larger weights make every mask and cache bug visible in the tokens.
    "initializer_range": 0.2,
}


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny matmuls run faster on one thread, and spare a shared machine's other cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def hf_model(name: str, seed: int = 0) -> Any:
    """A randomly initialised transformers model for one of CONFIGS."""
    arch, overrides = CONFIGS[name]
    torch.manual_seed(seed)
    kwargs = {**BASE, **overrides}
    hf: Any = (
        MixtralForCausalLM(MixtralConfig(**kwargs))
        if arch == "mixtral"
        else MistralForCausalLM(MistralConfig(**kwargs))
    )
    return hf.eval()


def ours(hf: Any) -> Transformer:
    return from_state_dict(hf.config.to_dict(), hf.state_dict())


def rel_error(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got - want).abs().max() / want.abs().max())


def tokens(batch: int, seq: int, vocab: int = 97, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, seq), generator=torch.Generator().manual_seed(seed))


def caches_for(name: str) -> list[CacheKind]:
    caches: list[CacheKind] = ["contiguous", "paged"]
    if CONFIGS[name][1].get("sliding_window") is not None:
        caches.append("rolling")
    return caches


# -- logits against transformers -------------------------------------------------------


@pytest.mark.parametrize("name", CONFIGS)
def test_full_forward_logits_match_transformers(name: str) -> None:
    hf = hf_model(name)
    ids = tokens(2, 19)  # longer than every window
    with torch.no_grad():
        want = hf(ids).logits
    got = ours(hf)(ids)
    assert got.shape == (2, 19, 97)
    err = rel_error(got, want)
    assert err < TOLERANCE, f"{name}: full-forward logits differ by {err:.2e} (relative)"


@pytest.mark.parametrize(
    ("name", "cache"), [(n, c) for n in CONFIGS for c in caches_for(n)], ids=lambda x: str(x)
)
def test_prefill_then_decode_logits_match_transformers_cache(name: str, cache: CacheKind) -> None:
    """Prefill 7 tokens, then 9 one-token steps; transformers runs its own DynamicCache."""
    hf = hf_model(name)
    ids = tokens(2, 16, seed=2)
    session = Session(ours(hf), batch_size=2, max_seq_len=16, cache=cache, block_size=4)
    with torch.no_grad():
        out = hf(ids[:, :7], use_cache=True)
        err = rel_error(session(ids[:, :7]), out.logits)
        assert err < TOLERANCE, f"{name}/{cache}: prefill logits differ by {err:.2e}"
        past = out.past_key_values
        for i in range(7, 16):
            out = hf(ids[:, i : i + 1], past_key_values=past, use_cache=True)
            past = out.past_key_values
            err = rel_error(session(ids[:, i : i + 1]), out.logits)
            assert err < TOLERANCE, (
                f"{name}/{cache}: decode step at position {i} differs by {err:.2e}"
            )


@pytest.mark.parametrize("cache", ["contiguous", "paged"])
def test_chunked_prefill_matches_one_full_forward(cache: CacheKind) -> None:
    """Chunks of 5 tokens at positions 0, 5, 10: each attends to earlier chunks' keys."""
    hf = hf_model("mistral-gqa-window5")
    ids = tokens(2, 15, seed=3)
    with torch.no_grad():
        want = hf(ids).logits
    session = Session(ours(hf), batch_size=2, max_seq_len=15, cache=cache)
    got = torch.cat([session(ids[:, i : i + 5]) for i in range(0, 15, 5)], dim=1)
    assert rel_error(got, want) < TOLERANCE


def test_rolling_cache_refuses_a_second_multi_token_chunk() -> None:
    session = Session(ours(hf_model("mistral-gqa-window5")), max_seq_len=32, cache="rolling")
    session(tokens(1, 6))
    with pytest.raises(ValueError, match="one token"):
        session(tokens(1, 2))


def test_bfloat16_model_stays_close_to_float32() -> None:
    hf = hf_model("mixtral-8x-top2-window4")
    ids = tokens(1, 12)
    want = ours(hf)(ids)
    got = from_state_dict(hf.config.to_dict(), hf.state_dict(), dtype=torch.bfloat16)(ids)
    assert got.dtype == torch.bfloat16
    assert rel_error(got.float(), want) < 5e-2


# -- loading ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mistral-gqa-window5", "mixtral-8x-top2-window4"])
def test_load_reads_a_save_pretrained_directory(name: str, tmp_path: Path) -> None:
    hf = hf_model(name)
    hf.save_pretrained(tmp_path)
    ids = tokens(2, 11)
    with torch.no_grad():
        want = hf(ids).logits
    assert rel_error(load(tmp_path)(ids), want) < TOLERANCE


def test_load_merges_sharded_safetensors(tmp_path: Path) -> None:
    hf = hf_model("mistral-gqa-window5")
    hf.save_pretrained(tmp_path, max_shard_size="30KB")
    assert len(list(tmp_path.glob("*.safetensors"))) > 1, "the checkpoint should be sharded"
    ids = tokens(1, 9)
    with torch.no_grad():
        want = hf(ids).logits
    assert rel_error(load(tmp_path)(ids), want) < TOLERANCE


def per_expert_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers 5's fused Mixtral tensors rewritten under the per-expert names."""
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        fused = re.fullmatch(r"(model\.layers\.\d+\.)mlp\.experts\.(gate_up_proj|down_proj)", key)
        if key.endswith("mlp.gate.weight"):
            out[key.replace("mlp.gate", "block_sparse_moe.gate")] = tensor
        elif fused is None:
            out[key] = tensor
        else:
            layer, which = fused.groups()
            for e, w in enumerate(tensor):
                prefix = f"{layer}block_sparse_moe.experts.{e}."
                if which == "down_proj":
                    out[prefix + "w2.weight"] = w  # [H, I]
                else:
                    gate, up = w.chunk(2, dim=0)  # [2I, H] -> w1 (gate) over w3 (up)
                    out[prefix + "w1.weight"], out[prefix + "w3.weight"] = gate, up
    return out


def test_mixtral_per_expert_key_names_load_like_fused_ones() -> None:
    hf = hf_model("mixtral-8x-top2-window4")
    state = hf.state_dict()
    assert any(k.endswith("mlp.experts.gate_up_proj") for k in state), "expected fused experts"
    old = per_expert_names(state)
    assert "model.layers.1.block_sparse_moe.experts.7.w3.weight" in old
    ids = tokens(2, 10)
    with torch.no_grad():
        want = hf(ids).logits
    model = from_state_dict(hf.config.to_dict(), old)
    assert rel_error(model(ids), want) < TOLERANCE


@pytest.mark.parametrize(
    "key",
    [
        "model.layers.1.self_attn.k_proj.weight",
        "model.norm.weight",
        "lm_head.weight",
        "model.layers.0.mlp.experts.down_proj",
    ],
)
def test_missing_key_is_an_error_that_names_it(key: str) -> None:
    name = "mixtral-8x-top2-window4" if "experts" in key else "mistral-gqa-window5"
    hf = hf_model(name)
    state = {k: v for k, v in hf.state_dict().items() if k != key}
    with pytest.raises(CheckpointError, match=f"missing key '{re.escape(key)}'"):
        from_state_dict(hf.config.to_dict(), state)


def test_missing_per_expert_key_is_named() -> None:
    hf = hf_model("mixtral-8x-top2-window4")
    state = per_expert_names(hf.state_dict())
    del state["model.layers.0.block_sparse_moe.experts.3.w2.weight"]
    with pytest.raises(CheckpointError, match=re.escape("experts.3.w2.weight")):
        from_state_dict(hf.config.to_dict(), state)


@pytest.mark.parametrize(
    "key", ["model.layers.2.self_attn.q_proj.weight", "model.layers.0.mlp.extra.bias"]
)
def test_unexpected_key_is_an_error_that_names_it(key: str) -> None:
    hf = hf_model("mistral-gqa-window5")
    state = dict(hf.state_dict())
    state[key] = torch.zeros(3)
    with pytest.raises(CheckpointError, match=f"unexpected key '{re.escape(key)}'"):
        from_state_dict(hf.config.to_dict(), state)


def test_wrong_shape_is_an_error_that_names_the_key() -> None:
    hf = hf_model("mistral-gqa-window5")
    state = dict(hf.state_dict())
    state["model.layers.0.mlp.up_proj.weight"] = torch.zeros(95, 64)
    with pytest.raises(CheckpointError, match=r"up_proj\.weight.*\(95, 64\)"):
        from_state_dict(hf.config.to_dict(), state)


def test_tied_embeddings_need_no_lm_head_and_the_head_is_the_embedding(tmp_path: Path) -> None:
    hf = hf_model("mistral-mqa-tied-window2-theta500")
    hf.save_pretrained(tmp_path)
    model = load(tmp_path)
    assert torch.equal(model.output, model.tok_embeddings.t())  # the head, stored [in, out]


def test_load_without_config_or_weights_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"config\.json"):
        load(tmp_path)
    hf_model("mistral-gqa-window5").config.save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="safetensors"):
        load(tmp_path)


def test_config_reads_rope_theta_from_either_place_and_defaults() -> None:
    base = {k: v for k, v in BASE.items() if k != "attn_implementation"}
    modern = {**base, "model_type": "mistral", "rope_parameters": {"rope_theta": 123.0}}
    legacy = {**base, "model_type": "mistral", "rope_theta": 456.0}
    assert model_args(modern).rope_theta == 123.0
    assert model_args(legacy).rope_theta == 456.0
    mixtral = model_args({**base, "model_type": "mixtral"})
    assert (mixtral.rope_theta, mixtral.n_experts, mixtral.experts_per_tok) == (1e6, 8, 2)
    assert model_args({**base, "model_type": "mistral"}).sliding_window == 4096
    assert model_args({**base, "head_dim": None}).head_dim == 16


def test_config_rejects_what_the_model_cannot_run() -> None:
    base = {k: v for k, v in BASE.items() if k != "attn_implementation"}
    with pytest.raises(CheckpointError, match="RoPE scaling"):
        model_args({**base, "rope_parameters": {"rope_type": "yarn", "rope_theta": 1.0}})
    with pytest.raises(CheckpointError, match="gelu"):
        model_args({**base, "hidden_act": "gelu"})
    with pytest.raises(CheckpointError, match="vocab_size"):
        model_args({k: v for k, v in base.items() if k != "vocab_size"})
