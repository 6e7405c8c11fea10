"""Random operation sequences against the slow model of the pool (oracle.py).

After every step: the same tables, token counts, ref counts and free count as the
model; no block lost or held twice by one table; every block's ref count equals the
number of tables holding it; free + held = total. At the end of each run the whole
free queue order is compared with the model's.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import solution as sol
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from oracle import ModelOutOfBlocks, PoolModel, drain, snapshot


class AllocatorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.next_id = 0
        self.model = PoolModel(0, 1)
        self.alloc: Any = None

    @initialize(num_blocks=st.integers(0, 16), block_size=st.integers(1, 4))
    def make_pool(self, num_blocks: int, block_size: int) -> None:
        self.model = PoolModel(num_blocks, block_size)
        self.alloc = sol.BlockAllocator(num_blocks, block_size)

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _live(self) -> list[int]:
        return sorted(self.model.tables)

    def _check_failure(self, op: str, before: dict[str, object]) -> None:
        after = snapshot(self.alloc, self._live(), self.model.num_blocks)
        assert after == before, f"a failed {op} changed the allocator: {before} -> {after}"

    @rule(n_tokens=st.integers(0, 10))
    def allocate(self, n_tokens: int) -> None:
        seq = self._new_id()
        a = self.alloc
        before = snapshot(a, self._live(), self.model.num_blocks)
        try:
            expected = self.model.allocate(seq, n_tokens)
        except ModelOutOfBlocks:
            try:
                a.allocate(seq, [1] * n_tokens)
            except sol.OutOfBlocks:
                self._check_failure("allocate", before)
                return
            raise AssertionError(
                f"allocate of {n_tokens} tokens with {len(self.model.free)} free blocks "
                "must raise OutOfBlocks"
            ) from None
        got = a.allocate(seq, [1] * n_tokens)
        assert got == expected, (
            f"allocate of {n_tokens} tokens: expected table {expected}, got {got}"
        )

    @precondition(lambda self: bool(self.model.tables))
    @rule(data=st.data())
    def decode_step(self, data: st.DataObject) -> None:
        self.append(data, 1)

    @precondition(lambda self: bool(self.model.tables))
    @rule(data=st.data(), n_tokens=st.integers(0, 6))
    def append(self, data: st.DataObject, n_tokens: int) -> None:
        seq = data.draw(st.sampled_from(self._live()))
        a = self.alloc
        before = snapshot(a, self._live(), self.model.num_blocks)
        try:
            expected = self.model.append(seq, n_tokens)
        except ModelOutOfBlocks:
            try:
                a.append(seq, [1] * n_tokens)
            except sol.OutOfBlocks:
                self._check_failure("append", before)
                return
            raise AssertionError(
                f"append of {n_tokens} tokens needing more than the {len(self.model.free)} "
                "free blocks must raise OutOfBlocks"
            ) from None
        got = a.append(seq, [1] * n_tokens)
        assert got == expected, (
            f"append of {n_tokens} tokens: expected copies {expected}, got {got}"
        )

    @precondition(lambda self: bool(self.model.tables))
    @rule(data=st.data())
    def fork(self, data: st.DataObject) -> None:
        parent = data.draw(st.sampled_from(self._live()))
        child = self._new_id()
        self.model.fork(parent, child)
        a = self.alloc
        a.fork(parent, child)

    @precondition(lambda self: bool(self.model.tables))
    @rule(data=st.data())
    def free(self, data: st.DataObject) -> None:
        seq = data.draw(st.sampled_from(self._live()))
        self.model.free_seq(seq)
        a = self.alloc
        a.free(seq)

    @invariant()
    def consistent_with_the_model(self) -> None:
        if self.alloc is None:
            return
        m = self.model
        got = snapshot(self.alloc, self._live(), m.num_blocks)  # every read, one round trip
        # No block lost or held twice; ref counts are the number of tables holding a block.
        holders: Counter[int] = Counter()
        for s, table in got["tables"].items():
            assert len(set(table)) == len(table), f"seq {s}'s table holds a block twice: {table}"
            holders.update(table)
        for b, r in enumerate(got["refs"]):
            assert r == holders[b], f"block {b}: ref count {r}, but {holders[b]} tables hold it"
        assert len(holders) + got["free"] == m.num_blocks, (
            f"{len(holders)} held + {got['free']} free != {m.num_blocks} blocks"
        )
        # The exact state the conventions predict.
        assert got["tables"] == m.tables, f"block tables: expected {m.tables}, got {got['tables']}"
        assert got["tokens"] == m.lens, f"token counts: expected {m.lens}, got {got['tokens']}"

    def teardown(self) -> None:
        """Take every free block in one sequence: its table is the queue, head first."""
        if self.alloc is None:
            return
        expected = list(self.model.free)
        got = drain(self.alloc, self._new_id(), self.model.block_size)
        assert got == expected, f"free queue (head first): expected {expected}, got {got}"


# No shrink phase: shrinking a failing run of a state machine replays it thousands of
# times (10+ s of CPU here). Generation starts from small runs, every assertion says
# which operation went wrong and how, and the steps of the failing run are printed.
AllocatorMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    report_multiple_bugs=False,
)
test_allocator_matches_a_slow_model_of_the_pool = AllocatorMachine.TestCase
