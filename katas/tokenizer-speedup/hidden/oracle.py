"""What the hidden suite checks against: texts that ship with Python, and merges the
reference learned from them.

The oracle is `reference.tokenizer`, an implementation independent of the solution's
(its ids equal tiktoken's on the same ranks, as the project's own tests show).
"""

from __future__ import annotations

import json.decoder
import random
from functools import cache
from pathlib import Path
from pydoc_data.topics import topics

from reference.tokenizer import BPETokenizer as Reference

Pair = tuple[int, int]

CORPUS = "\n".join(topics.values())  # Python's own help texts, ~465 KB of English
PARAGRAPHS = [p for p in CORPUS.split("\n\n") if p.strip()]
CODE = Path(json.decoder.__file__).read_text(encoding="utf-8")  # Python source, as text
FRENCH = "Où est la bibliothèque ? À côté de l'église, près du château. Ça coûte 12,50 €."
EMOJI = "ok 👍🏽 family 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵 and ✨🎉🎉 — done"
CJK = "日本語のテキストと中文文本，还有한국어 텍스트。東京は日本の首都です。"
COMBINING = "cafe\u0301 n\u0303o Z\u0351\u0361a\u0334l\u0358g\u035co e\u0301\u0301\u0301"
WHITESPACE = (
    "a  b   c\t\td\n\n\ne \r\n f    \n    g\u00a0h\u3000i   \n\n   "
    "j\u3000\u3000\u3000k \u00a0\u00a0\u00a0l\u2003\u2003\n\u2003m"  # Unicode spaces: \s matches them
)
EOT, FIM = "<|endoftext|>", "<|fim_prefix|>"
VOCAB = 1280  # merges for the tests: enough that most words are a few tokens


def sampled_text(seed: int, n_chars: int) -> str:
    """`n_chars` of English: the corpus's paragraphs in an order drawn from `seed`.

    Each seed gives another text of the same kind, so no call can be answered from
    what an earlier call computed.
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


@cache
def reference() -> Reference:
    """The reference trained on English, code, French, emoji and CJK (about 0.1 s)."""
    text = CORPUS[:60_000] + CODE + (FRENCH + EMOJI + CJK + COMBINING + WHITESPACE) * 4
    return Reference.train(text, VOCAB)


@cache
def large_merges() -> dict[Pair, int]:
    """Merges learned from the whole corpus, vocab 8192 (about 7,900 merges, 0.3 s)."""
    return dict(Reference.train(CORPUS, 8192).merges)
