"""What the hidden suite checks against: text, the obvious trainer, a line counter."""

from __future__ import annotations

import json.decoder
import sys
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from pydoc_data.topics import topics
from types import FrameType
from typing import Any

import regex

from reference.tokenizer import GPT4_PATTERN

Pair = tuple[int, int]

CORPUS = "\n".join(topics.values())  # Python's own help texts, ~466 KB of English
FRENCH = "Où est la bibliothèque ? À côté de l'église, près du château. Ça coûte 12,50 €."
EMOJI = "ok 👍🏽 family 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵 and ✨🎉🎉 — done"
CJK = "日本語のテキストと中文文本，还有한국어 텍스트。"
CODE = Path(json.decoder.__file__).read_text(encoding="utf-8")  # Python source, as text
EOT, FIM = "<|endoftext|>", "<|fim_prefix|>"


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


class _OverBudget(BaseException):
    """Raised inside the traced code once it has run more lines than allowed."""


def count_lines(fn: Callable[[], object], filename: str, budget: int) -> int:
    """Run `fn` and count the Python lines it executes in `filename` (deterministic).

    Past `budget` lines every further line raises, so a slow solution stops early;
    the caller compares the count it gets back with the budget.
    """
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
            if count > budget:
                raise _OverBudget
        return local

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename == filename else None

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        fn()
    except _OverBudget:
        pass
    finally:
        sys.settrace(previous)
    return count
