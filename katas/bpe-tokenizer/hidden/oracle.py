"""What the hidden suite checks against: text (fixed, and sampled per call), the obvious trainer."""

from __future__ import annotations

import json.decoder
import random
from collections import Counter
from itertools import pairwise
from pathlib import Path
from pydoc_data.topics import topics

import regex

from reference.tokenizer import GPT4_PATTERN

Pair = tuple[int, int]

CORPUS = "\n".join(topics.values())  # Python's own help texts, ~466 KB of English
FRENCH = "Où est la bibliothèque ? À côté de l'église, près du château. Ça coûte 12,50 €."
EMOJI = "ok 👍🏽 family 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵 and ✨🎉🎉 — done"
CJK = "日本語のテキストと中文文本，还有한국어 텍스트。"
CODE = Path(json.decoder.__file__).read_text(encoding="utf-8")  # Python source, as text
EOT, FIM = "<|endoftext|>", "<|fim_prefix|>"
PARAGRAPHS = [p for p in CORPUS.split("\n\n") if p.strip()]


def sampled_text(seed: int, n_chars: int) -> str:
    """`n_chars` of English: the corpus's paragraphs in an order drawn from `seed`.

    Each seed gives another text of the same kind, so a call can never be answered
    from what an earlier call computed (or from the corpus, which a worker can read too).
    """
    order = list(range(len(PARAGRAPHS)))
    random.Random(seed).shuffle(order)
    parts: list[str] = []
    size = 0
    for i in order:
        if size >= n_chars:
            break
        parts.append(PARAGRAPHS[i])
        size += len(PARAGRAPHS[i]) + 2
    return "\n\n".join(parts)[:n_chars]


def slow_merges(text: str, vocab_size: int) -> dict[Pair, int]:
    """The obvious trainer, for small texts: recount every pair of every chunk per merge."""
    words = [list(c.encode("utf-8")) for c in regex.findall(GPT4_PATTERN, text)]
    merges: dict[Pair, int] = {}
    for new_id in range(256, vocab_size):
        counts = Counter(p for w in words for p in pairwise(w))
        if not counts:
            break
        top = max(counts.values())
        pair = min(p for p, c in counts.items() if c == top)
        merges[pair] = new_id
        for i, w in enumerate(words):
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and (w[j], w[j + 1]) == pair:
                    out.append(new_id)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
    return merges
