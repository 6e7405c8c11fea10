"""The tokenizer-speedup kata's three tokenizers, and tiktoken, on the same ranks.

- encode: one tokenizer per side, built once from the merges the reference learned on
  Python's help texts (vocab 8192), encodes a fresh 100 KB document of those texts per
  call, as the kata's speed case does: the slow original the candidate starts from,
  the kata's model answer (a chunk cache and a cheap merge step, pure Python), its
  native answer (the same with the merge loop in C, built here with cc when there is
  one), the reference, and tiktoken's `Encoding` built from the same ranks (identical
  ids); and the same with every chunk new (the caches cleared before each call);
- train: 8 KB to vocab 512, the original (every pair recounted per merge) and the
  model answer (incremental counts, a pair index, a lazy heap) against the reference.

Ratios are each one's time over the reference's, measured side by side in
interleaved rounds (`grader.judge.timing.compare`); above 1, the reference is faster.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from pydoc_data.topics import topics
from types import ModuleType
from typing import Any

import tiktoken

from benchmarks.common import Section, fmt_ratio, fmt_s
from grader.judge.timing import compare
from grader.kata import load_kata
from grader.mutants import write_patched
from grader.native import ENV, FLAGS
from reference.tokenizer import BPETokenizer

KATA = Path(__file__).resolve().parent.parent / "katas" / "tokenizer-speedup"
CORPUS = "\n".join(topics.values())
PARAGRAPHS = [p for p in CORPUS.split("\n\n") if p.strip()]
VOCAB, CHARS = 8192, 100_000
TRAIN_CHARS, TRAIN_VOCAB = 8_000, 512


def load(path: Path, name: str) -> ModuleType:
    """A kata file as a module of its own (the kata folder is not a package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def native_answer() -> ModuleType | None:
    """The kata's native answer with its C built here by cc; None without a compiler."""
    cc = shutil.which("cc")
    if cc is None:
        return None
    folder = Path(tempfile.mkdtemp(prefix="bench-native-"))
    patch = KATA / "native_answer" / "solution.patch"
    solution = write_patched(load_kata("tokenizer-speedup"), patch, folder)
    library = folder / "libnative.so"
    sources = [str(p) for p in sorted((folder / "native").glob("*.c"))]
    subprocess.run([cc, *FLAGS, "-o", str(library), *sources], check=True)
    os.environ[ENV] = str(library)  # what drill sets for a candidate's code
    try:
        return load(solution, "tokenizer_speedup_native")
    finally:
        del os.environ[ENV]


def document(seed: int, n_chars: int) -> str:
    """`n_chars` of the corpus's paragraphs in an order drawn from `seed`."""
    order = list(range(len(PARAGRAPHS)))
    random.Random(seed).shuffle(order)
    return "\n\n".join(PARAGRAPHS[i] for i in order)[:n_chars]


def run(device: str) -> Section:
    section = Section(
        name="tokenizer_speedup",
        title="Tokenizer speed-up kata: the original, the model answer, the reference, tiktoken (CPU)",
        headers=["task", "implementation", "time", "reference (same rounds)", "time / reference"],
    )
    if device != "cpu":
        section.notes.append("The tokenizer runs on the CPU whatever the device.")
    slow = load(KATA / "starter" / "solution.py", "tokenizer_speedup_original")
    model = load(KATA / "model_answer.py", "tokenizer_speedup_model")
    ref = BPETokenizer.train(CORPUS, VOCAB)
    merges = dict(ref.merges)
    docs = [document(seed, CHARS) for seed in range(64)]
    enc = tiktoken.Encoding(
        "reference", pat_str=ref.pattern, mergeable_ranks=ref.mergeable_ranks(), special_tokens={}
    )
    sides: dict[str, Any] = {
        "original (starter)": slow.BPETokenizer(merges),
        "model answer": model.BPETokenizer(merges),
        "tiktoken (Rust)": enc,
    }
    native = native_answer()
    if native is not None:
        sides["native answer (C merge loop)"] = native.BPETokenizer(merges)
    else:
        section.notes.append("No C compiler here: the native answer was not measured.")
    for name, tok in sides.items():
        assert tok.encode(docs[0]) == ref.encode(docs[0]), f"{name} disagrees with the reference"

    def encoder(tok: Any) -> Callable[[], object]:
        order = itertools.count(1)
        return lambda: tok.encode(docs[next(order) % len(docs)])

    task = f"encode, {CHARS // 1000} KB"
    for name, tok in sides.items():
        rounds = 5 if name.startswith("original") else 15
        c = compare(encoder(tok), encoder(ref), rounds=rounds, max_s=20.0)
        section.add(task, name, fmt_s(c.a_s), fmt_s(c.b_s), fmt_ratio(c.ratio))

    def cold(tok: Any) -> Callable[[], object]:
        call = encoder(tok)

        def run() -> object:
            for cache in ("_cache", "cache"):
                if isinstance(getattr(tok, cache, None), dict):
                    getattr(tok, cache).clear()
            return call()

        return run

    task = f"encode, {CHARS // 1000} KB, every chunk new"
    for name in ("model answer", "native answer (C merge loop)"):
        if name in sides:
            c = compare(cold(sides[name]), cold(ref), rounds=11, max_s=20.0)
            section.add(task, name, fmt_s(c.a_s), fmt_s(c.b_s), fmt_ratio(c.ratio))

    train_text = CORPUS[:TRAIN_CHARS]
    task = f"train, {TRAIN_CHARS // 1000} KB to vocab {TRAIN_VOCAB}"

    def trainer(module: ModuleType) -> Callable[[], object]:
        return lambda: module.BPETokenizer.train(train_text, TRAIN_VOCAB)

    def ref_train() -> object:
        return BPETokenizer.train(train_text, TRAIN_VOCAB)

    for name, module in (("original (starter)", slow), ("model answer", model)):
        rounds = 5 if name.startswith("original") else 11
        c = compare(trainer(module), ref_train, rounds=rounds, max_s=20.0)
        section.add(task, name, fmt_s(c.a_s), fmt_s(c.b_s), fmt_ratio(c.ratio))
    section.notes.append(
        "The kata's speed check times encode the same way through its sandboxed workers; "
        "its tiers: full marks within 2x of the reference, 60% within 6x."
    )
    return section
