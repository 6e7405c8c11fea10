"""reference.tokenizer against the Rust peers, on Python's own help texts (~466 KB).

- Training, vocab 4096: Hugging Face `tokenizers`' BpeTrainer with the same GPT-4
  split (a Split pre-tokenizer on the same regex, then ByteLevel without its own
  regex). Its tie-break differs from ours, so the merges differ a little; the work
  is the same.
- Encoding the whole corpus, chunk cache emptied before every call: tiktoken's
  `Encoding` built from the reference's own ranks (both give identical ids).

Ratios are the reference's time over the peer's, measured side by side in
interleaved rounds (`grader.judge.timing.compare`).
"""

from __future__ import annotations

import os
from pydoc_data.topics import topics

import tiktoken
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

from benchmarks.common import Section, fmt_ratio, fmt_s
from grader.judge.timing import compare
from reference.tokenizer import GPT4_PATTERN, BPETokenizer

CORPUS = "\n".join(topics.values())
VOCAB = 4096
TRAIN_TARGET, ENCODE_TARGET = 10.0, 3.0  # the reference may be this many times slower


def train_hf(text: str, vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(GPT4_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([text], trainer=trainer)
    return tok


def run(device: str) -> Section:
    section = Section(
        name="tokenizer",
        title="Byte-level BPE tokenizer (CPU)",
        headers=["task", "reference", "peer", "peer time", "ratio", "target"],
    )
    if device != "cpu":
        section.notes.append("The tokenizer runs on the CPU whatever the device.")

    def ours_train() -> BPETokenizer:
        return BPETokenizer.train(CORPUS, VOCAB)

    def peer_train() -> Tokenizer:
        return train_hf(CORPUS, VOCAB)

    training = compare(ours_train, peer_train, rounds=7, max_s=30.0, warmup=1)
    tok, hf = ours_train(), peer_train()
    section.add(
        f"train, vocab {VOCAB}, {len(CORPUS) // 1000} KB",
        fmt_s(training.a_s),
        "HF tokenizers BpeTrainer",
        fmt_s(training.b_s),
        fmt_ratio(training.ratio),
        f"<= {TRAIN_TARGET:g}x",
    )

    enc = tiktoken.Encoding(
        "reference", pat_str=tok.pattern, mergeable_ranks=tok.mergeable_ranks(), special_tokens={}
    )
    assert tok.encode(CORPUS) == enc.encode(CORPUS), "tiktoken disagrees with the reference"

    def ours_encode() -> list[int]:
        tok.clear_cache()
        return tok.encode(CORPUS)

    def peer_encode() -> list[int]:
        return enc.encode(CORPUS)

    encoding = compare(ours_encode, peer_encode, rounds=15, max_s=20.0)
    section.add(
        f"encode {len(CORPUS) // 1000} KB, cold chunk cache",
        fmt_s(encoding.a_s),
        "tiktoken, same ranks",
        fmt_s(encoding.b_s),
        fmt_ratio(encoding.ratio),
        f"<= {ENCODE_TARGET:g}x",
    )
    section.notes += [
        f"Reference: {len(tok.merges)} merges; HF: {hf.get_vocab_size()} tokens. "
        f"{len(enc.encode(CORPUS)):,} tokens for the corpus.",
        f"HF tokenizers may use every core ({os.cpu_count()} here); tiktoken and the "
        "reference use one. Medians of interleaved rounds; ratio = reference / peer.",
        f"Load average at the end of the run: {os.getloadavg()[0]:.1f} "
        "(absolute times grow with it; the paired ratios much less).",
    ]
    return section
