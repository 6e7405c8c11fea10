"""A merge must cost what the chunks it changes cost, not a pass over the corpus.

Timing would be flaky on a loaded machine, so this counts instead: the Python lines
that training executes in solution.py (sys.settrace), which is deterministic. One run
learns 1 merge, the other about 3,500 (all that 60 KB of English allows under vocab
4096); the difference is the cost of the extra merges. Measured per merge on this text:

    incremental (pair index + lazy heap), chunks counted once       ~260 lines
    the same without counting repeated chunks once                  ~730 lines
    incremental counts, but a scan of all pairs for the maximum   ~5,700 lines
    recount every pair of every chunk for each merge             ~80,000 lines

The bound, 2,000 per merge, sits between the second and the third. Work done inside
builtins written in C (Counter(), heapq, max over a dict's values) is not counted.
"""

from __future__ import annotations

import solution as sol
from oracles import CORPUS, count_lines

from reference.tokenizer import BPETokenizer as Reference

TEXT = CORPUS[:60_000]
VOCAB = 4096
LINES_PER_MERGE = 2_000


def test_each_merge_touches_only_the_chunks_that_contain_its_pair() -> None:
    n_merges = len(Reference.train(TEXT, VOCAB).merges)
    filename = sol.__file__
    setup = count_lines(lambda: sol.BPETokenizer.train(TEXT, 257), filename, 10**8)
    budget = setup + LINES_PER_MERGE * (n_merges - 1)
    total = count_lines(lambda: sol.BPETokenizer.train(TEXT, VOCAB), filename, budget)
    assert total <= budget, (
        f"training {n_merges} merges on 60 KB ran more than {budget:,} Python lines "
        f"({setup:,} for the first merge, then over {LINES_PER_MERGE:,} per merge): "
        "each merge seems to rescan every chunk or every pair. Keep pair counts up to "
        "date, index which chunks hold each pair, and find the top pair with a heap."
    )
