"""reference.beam_search against transformers' `generate(num_beams=...)`.

Both search with the same tiny random Mistral (2 layers, hidden 64) from the same
prompts, recomputing the whole sequence each step (transformers with
`use_cache=False`, the reference's model function calling the same model), so the
model's cost is the same on both sides and what differs is the search around it:
log_softmax, the top-2K over [batch, beams * vocab], hypotheses and stopping. Ratios
are transformers' time over the reference's (above 1: the reference is faster).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from benchmarks.common import Section, fmt_ratio, fmt_s
from grader.judge.timing import compare
from reference.beam_search import beam_search

BATCH, BEAMS, PROMPT, NEW = 4, 4, 8, 16
EOS = 0  # rarely chosen by random weights: most rows run to max_new_tokens


def tiny_mistral(vocab: int) -> Any:
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(0)
    kwargs: dict[str, Any] = {
        "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": vocab,
        "attn_implementation": "eager",
    }  # fmt: skip
    model: Any = MistralForCausalLM(MistralConfig(**kwargs))
    return model.eval()


def run(device: str) -> Section:
    section = Section(
        name="beam_search",
        title=(
            f"Beam search: reference vs transformers' generate, batch {BATCH}, {BEAMS} beams, "
            f"{NEW} new tokens, tiny Mistral without a KV cache ({device})"
        ),
        headers=["vocabulary", "reference", "transformers", "transformers / reference"],
    )
    for vocab in (1024, 32000):
        model = tiny_mistral(vocab).to(device)
        prompts = torch.randint(
            1, vocab, (BATCH, PROMPT), generator=torch.Generator().manual_seed(1)
        )
        prompts = prompts.to(device)

        def fn(ids: Tensor, model: Any = model) -> Tensor:
            logits: Tensor = model(ids, logits_to_keep=1).logits[:, -1]  # as generate does
            return logits

        def ours(fn: Any = fn, prompts: Tensor = prompts) -> object:
            with torch.no_grad():
                return beam_search(fn, prompts, BEAMS, EOS, NEW)

        def theirs(model: Any = model, prompts: Tensor = prompts) -> object:
            with torch.no_grad():
                return model.generate(
                    prompts, attention_mask=torch.ones_like(prompts), num_beams=BEAMS,
                    max_new_tokens=NEW, eos_token_id=EOS, pad_token_id=EOS, do_sample=False,
                    use_cache=False,
                )  # fmt: skip

        result = compare(theirs, ours)
        section.add(vocab, fmt_s(result.b_s), fmt_s(result.a_s), fmt_ratio(result.ratio))
    section.notes.append(
        "The reference keeps its hypotheses in Python lists and loops over each row's 2K "
        "candidates; transformers keeps everything in fixed-shape tensors. Both do one "
        "log_softmax and one top-k over [batch, beams * vocab] per step."
    )
    return section
