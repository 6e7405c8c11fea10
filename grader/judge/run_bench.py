"""Judge process for `drill bench`: the kata's speed case, timed by pytest-benchmark.

    python -I -m grader.judge.run_bench CONFIG.json

The same rules as a grade: the candidate's solution and the reference each run in a
sandboxed worker of their own, and the case factory (`hidden/cases.py`) runs here and
drives both. pytest-benchmark times each side's calls from here, one side after the
other, fresh inputs every round; its JSON goes to `bench.json` in this judge's folder.
This is a candidate's own measure, kept to compare attempts: the grade's speed verdict
comes from interleaved rounds instead (grader.judge.timing), which a busy machine
disturbs less.
"""

from __future__ import annotations

import importlib
import itertools
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from grader.judge import workers
from grader.judge.channel import exit_now, setup
from grader.judge.measuring import Case, close, one_measurement_at_a_time
from grader.judge.remote import Session, SolutionUnavailable
from grader.judge.run_measure import describe, resolve_device
from grader.judge.run_tests import EMPTY_INI

TARGET_S = 2.0  # each side's measured rounds take about this long
MIN_ROUNDS, MAX_ROUNDS = 5, 500
WARMUP_ROUNDS = 3
SUITE = """
def test_speed_case(benchmark, side):
    benchmark.group = "speed case"
    benchmark.pedantic(side.call, setup=side.next_inputs, rounds=side.rounds,
                       warmup_rounds=side.warmup, iterations=1)
"""


class BenchSide:
    """One side as the generated test sees it: `call(i, *inputs)` in its worker."""

    def __init__(self, session: Session, case: Case, subject: str) -> None:
        self.session = session
        self.case = case
        self.subject = subject  # who raised, in a message: "your solution", "the reference"
        self.calls = itertools.count()
        self.warmup = WARMUP_ROUNDS
        self.rounds = MIN_ROUNDS
        self.outputs: dict[int, object] = {}
        self.error: str | None = None

    def next_inputs(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        i = next(self.calls)
        return (i, *self.case.inputs(i)), {}

    def call(self, i: int, *args: Any) -> None:
        # As in a grade: results come back as samples, so transfer costs little.
        try:
            with self.session.measuring(i):
                self.outputs[i] = self.case.call(*args)
        except BaseException as exc:
            self.error = self.error or describe(exc, self.subject)
            raise

    def size_rounds(self) -> None:
        """As many rounds as fit in TARGET_S, from one timed call (after a first one)."""
        for _ in range(2):
            args, _ = self.next_inputs()
            start = time.perf_counter()
            self.call(*args)
            once = time.perf_counter() - start
        self.rounds = int(min(MAX_ROUNDS, max(MIN_ROUNDS, TARGET_S / max(once, 1e-6))))


def disagreement(sides: dict[str, BenchSide], checks: int = 6) -> str | None:
    """Why the candidate's results differ from the reference's on the first calls both
    made, or None: a fast wrong answer is not a faster answer."""
    cand, ref = sides["candidate"], sides["reference"]
    check = cand.case.check or (lambda a, b, _inputs: close(a, b))
    for i in sorted(set(cand.outputs) & set(ref.outputs))[:checks]:
        why = check(cand.outputs[i], ref.outputs[i], cand.case.inputs(i))
        if why:
            return f"call {i}: {why}"
    return None


class SidesPlugin:
    def __init__(self, sides: dict[str, BenchSide]) -> None:
        self.sides = sides

    @pytest.fixture(params=["reference", "candidate"])
    def side(self, request: pytest.FixtureRequest) -> BenchSide:
        return self.sides[request.param]


def main() -> None:
    config, channel, zygote = setup(sys.argv[1])
    assert zygote is not None, "the bench judge needs workers"
    sys.path.insert(0, config["hidden_dir"])
    cases = importlib.import_module("cases")
    spec = config["speed"]
    sessions: list[Session] = []
    try:
        device = resolve_device(config["device"])
        channel.send({"kind": "device", "device": device})
        factory = getattr(cases, spec["case"])
        size = spec["sizes"][-1] if spec.get("sizes") else None  # the larger, as a grade
        sides = {}
        for who in ("reference", "candidate"):
            make = workers.candidate if who == "candidate" else workers.reference
            session = make(zygote, config, f"bench-{who}", alone=True)  # as a grade times
            sessions.append(session)
            try:
                subject = "your solution" if who == "candidate" else "the reference"
                side = BenchSide(session, factory(session.module, device, size), subject)
                side.size_rounds()
            except SolutionUnavailable as exc:
                channel.send({"kind": "import_error", "error": str(exc)})
                return
            except BaseException as exc:  # the candidate's failure is a result
                channel.send({"kind": "error", "who": who, "error": describe(exc, subject)})
                return
            sides[who] = side
        folder = Path(config["bench_dir"])
        (folder / "test_bench.py").write_text(SUITE)
        with one_measurement_at_a_time() as waited:
            channel.send({"kind": "lock", "waited_s": waited})
            code = pytest.main(
                [str(folder / "test_bench.py"), "-q", "-p", "no:cacheprovider",
                 "-p", "pytest_benchmark.plugin", "--rootdir", str(folder),
                 "-c", str(EMPTY_INI),
                 f"--benchmark-json={folder / 'bench.json'}", "--benchmark-disable-gc"],
                plugins=[SidesPlugin(sides)],
            )  # fmt: skip
        for who, side in sides.items():
            if side.error:
                channel.send({"kind": "error", "who": who, "error": side.error})
                return
        channel.send({"kind": "bench", "exit_code": int(code), "differs": disagreement(sides)})
    finally:
        for session in sessions:
            session.close()
        exit_now()


if __name__ == "__main__":
    main()
