"""The tests check: the hidden suite in a judge process, the solution in its workers.

The judge (`grader.judge.run_tests`) runs pytest over the hidden suite and never
imports the solution: the suite's `solution` is a proxy to sandboxed workers. The
parent decides each test's outcome from its own list of expected ids and the records
the judge sent; a test that never reported failed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from grader import native
from grader.context import GradeContext
from grader.expected_ids import expected_ids
from grader.report import Check, TestOutcome
from grader.sandbox import ChildResult, run_child

REASON_CHARS = 400
# pytest-timeout stops a test in the judge (a signal candidate code cannot reach); past
# the timeout plus this grace the parent stops the judge itself, records the test as
# timed out, and runs the rest of the suite again (a hang of our own, or hypothesis
# shrinking for too long).
GRACE_S = 3.0
MAX_RESTARTS = 5
# Importing the suite (torch, the reference): at most this, or half the deadline.
COLLECT_LIMIT_S = 60.0
# The judge's own exception types, as a failure message shows them.
OUR_PREFIXES = (
    "grader.judge.remote.SolutionUnavailable: ",
    "grader.judge.client.WorkerDied: ",
    "grader.judge.remote.RemoteError: ",
)


@dataclass
class _Records:
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    collect_errors: list[str] = field(default_factory=list)

    def add(self, child: ChildResult) -> None:
        for r in child.records:
            kind = r.get("kind")
            if kind == "start":
                self.started.append(str(r.get("nodeid")))
            elif kind == "collect_error":
                self.collect_errors.append(str(r.get("message", "")))
            elif kind == "result":
                nodeid = str(r.get("nodeid"))
                # A failure in setup, call or teardown fails the test; keep the first one.
                if nodeid not in self.results or self.results[nodeid]["outcome"] == "passed":
                    self.results[nodeid] = r

    def running(self) -> str:
        """The test that started last and has not reported, if any."""
        last = self.started[-1] if self.started else ""
        return last if last and last not in self.results else ""


class _StuckTest:
    """Watchdog: stops the child when one test, or importing the suite, takes too long."""

    def __init__(self, test_limit_s: float, collect_limit_s: float) -> None:
        self.test_limit_s = test_limit_s
        self.collect_limit_s = collect_limit_s
        self.started = time.monotonic()
        self.collected = False
        self.seen = 0
        self.current = ""
        self.since = 0.0

    def __call__(self, records: list[dict[str, Any]]) -> str:
        for r in records[self.seen :]:
            kind = r.get("kind")
            if kind == "collected":
                self.collected = True
            elif kind == "start":
                self.current, self.since = str(r.get("nodeid")), time.monotonic()
            elif kind in ("result", "finish") and r.get("nodeid", self.current) == self.current:
                self.current = ""
        self.seen = len(records)
        now = time.monotonic()
        if not self.collected and now - self.started > self.collect_limit_s:
            return f"importing the hidden suite took longer than {self.collect_limit_s:.0f} s"
        if self.current and now - self.since > self.test_limit_s:
            return f"a test ran past its {self.test_limit_s - GRACE_S:g} s timeout and was stopped"
        return ""


EXAMPLE_MARKERS = ("Falsifying example:", "Failing test case:")


def _compact_example(text: str) -> str:
    """Hypothesis' example without its commentary: `xs=[], k=0` is what a candidate needs."""
    for marker in EXAMPLE_MARKERS:
        head, found, tail = text.partition(marker)
        if found:
            lines = [line.split("#", 1)[0].strip() for line in tail.splitlines()]
            example = " ".join(line for line in lines if line)
            return f"{head.strip()} [example: {example}]"
    return text


def _drop_introspection(text: str) -> str:
    """A test's own assertion message, without pytest's rewrite of the expression after it.

    `assert torch.equal(got, want), f"expected {want}, got {got}"` fails as the message,
    then `assert False` and `+ where False = <built-in method equal ...>(tensor(...))`:
    noise once the test has said what it expected and what it got. A bare `assert`
    keeps pytest's explanation: there it is the only one.
    """
    head, found, rest = text.partition("\nassert ")
    if not found or not head.startswith("AssertionError: "):
        return text
    for marker in EXAMPLE_MARKERS:
        if marker in rest:
            return head + "\n" + marker + rest.split(marker, 1)[1]
    return head


def short(text: str) -> str:
    for prefix in OUR_PREFIXES:
        text = text.replace(prefix, "")
    text = " ".join(_compact_example(_drop_introspection(text.strip())).split())
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


def test_name(nodeid: str) -> str:
    return nodeid.rsplit("::", 1)[-1]


def _outcomes(
    ids: list[str], rec: _Records, child: ChildResult, timeout_s: float, stopped: str = ""
) -> list[TestOutcome]:
    last_started = rec.started[-1] if rec.started else ""
    ended = stopped or child.exit_description()
    collect = short(rec.collect_errors[0]) if rec.collect_errors else ""
    outcomes = []
    for nodeid in ids:
        r = rec.results.get(nodeid)
        if r is not None:
            message = str(r.get("message", ""))
            outcome: Any = "passed" if r["outcome"] == "passed" else "failed"
            if r["outcome"] == "error":
                outcome = "error"
            elif r["outcome"] == "timeout":
                outcome = "timeout"
                message = _timed_out(timeout_s, r.get("solution_time"))
            elif r["outcome"] == "skipped" and r.get("when") == "setup":
                # The suite's own skip marker (a CUDA-only test on a CPU machine): not counted.
                outcome = "skipped"
            elif r["outcome"] == "skipped":
                # A skip raised while the solution ran is the solution dodging the test.
                outcome, message = (
                    "failed",
                    f"the test was skipped from inside the solution: {message}",
                )
            line = r.get("line")
            outcomes.append(
                TestOutcome(
                    nodeid,
                    outcome,
                    short(message),
                    float(r.get("duration", 0)),
                    int(line) if isinstance(line, int) else None,
                )
            )
        elif nodeid == last_started:
            outcomes.append(TestOutcome(nodeid, "error", f"the test never reported: {ended}"))
        else:
            why = f"the suite could not import it: {collect}" if collect else f"never ran: {ended}"
            outcomes.append(TestOutcome(nodeid, "not run", why))
    return outcomes


def check_tests(ctx: GradeContext) -> tuple[Check, list[TestOutcome]]:
    ids = expected_ids(ctx.kata)
    facts = ctx.facts
    if facts.syntax_error:
        reason = f"solution does not parse: {facts.syntax_error}"
        return _error(ids, reason)
    if facts.forbidden_imports:
        name = facts.forbidden_imports[0]
        return _error(
            ids, f"solution imports '{name}': the reference stack and the grader are off limits"
        )
    if ctx.native is not None and ctx.native.library is None:
        return _error(ids, f"{native.FOLDER}/: {ctx.native.error}")
    rec, child = _run_suite(ctx)
    if child.overflow:
        return _error(ids, "the judge's report was larger than the grader accepts")
    stopped = "the suite stopped at its first failure" if ctx.first_failure_stops else ""
    outcomes = _outcomes(ids, rec, child, ctx.kata.test_timeout_s, stopped)
    passed = sum(o.outcome == "passed" for o in outcomes)
    skipped = sum(o.outcome == "skipped" for o in outcomes)
    failures = [o for o in outcomes if o.outcome not in ("passed", "skipped")]
    details = {
        "passed": passed,
        "failed": len(failures),
        "skipped": skipped,
        "total": len(ids) - skipped,
        "failures": [
            {"test": test_name(o.id), "outcome": o.outcome, "reason": o.reason} for o in failures
        ],
    }
    if not failures:
        return Check("tests", "pass", details=details), outcomes
    missing = facts.missing(ctx.kata.entrypoints)
    first = failures[0]
    if ctx.first_failure_stops:
        reason = f"the suite stopped at its first failure, {test_name(first.id)}: {first.reason}"
    else:
        reason = f"{len(failures)} of {len(ids) - skipped} hidden tests fail; first: {test_name(first.id)}: {first.reason}"
    unavailable = _import_failure(failures)
    if unavailable:
        reason = f"{unavailable}: every hidden test fails"
    elif missing:
        reason = f"solution.py does not define {', '.join(missing)}; " + reason
    return Check("tests", "fail", reason=reason, details=details), outcomes


def _import_failure(failures: list[TestOutcome]) -> str:
    """The one reason every test failed, when it is that solution.py could not be imported."""
    marker = "importing solution.py"
    if failures and all(f.reason.startswith(marker) for f in failures):
        return failures[0].reason.split(" [example: ", 1)[0]  # the import, not the draw
    return ""


def _run_suite(ctx: GradeContext) -> tuple[_Records, ChildResult]:
    """Run the suite; if one test hangs past its timeout, record it and run the rest again."""
    kata = ctx.kata
    rec = _Records()
    deadline = time.monotonic() + kata.test_deadline_s
    for _ in range(MAX_RESTARTS + 1):
        remaining = max(1.0, deadline - time.monotonic())
        child = run_child(
            "grader.judge.run_tests",
            {
                **ctx.judge_config("tests", remaining),
                "import_timeout_s": kata.import_timeout_s,
                "timeout_s": kata.test_timeout_s,
                "skip": sorted(rec.results),
                "exitfirst": ctx.first_failure_stops,
            },
            ctx.stage_dir("tests"),
            deadline_s=remaining,
            watchdog=_StuckTest(
                kata.test_timeout_s + GRACE_S, min(COLLECT_LIMIT_S, kata.test_deadline_s / 2)
            ),
            zygote_fd=ctx.zygote.new_client(),
        )
        rec.add(child)
        stuck = rec.running()
        if child.finished() or not stuck or child.timed_out or time.monotonic() >= deadline:
            break
        # The child died or was stopped inside one test: that test failed; run the rest.
        outcome = "timeout" if "timeout" in child.stop_reason else "error"
        rec.results[stuck] = {
            "nodeid": stuck,
            "outcome": outcome,
            "message": child.exit_description(),
        }
        if ctx.first_failure_stops:
            break
    return rec, child


def _error(ids: list[str], reason: str) -> tuple[Check, list[TestOutcome]]:
    outcomes = [TestOutcome(i, "not run", reason) for i in ids]
    details = {"passed": 0, "failed": len(ids), "total": len(ids), "failures": []}
    return Check("tests", "error", reason=reason, details=details), outcomes


def _timed_out(timeout_s: float, spent: object) -> str:
    """A timeout, with what the scheduler says of the solution's worker meanwhile: kept
    waiting for a CPU most of that time (a busy machine), or not (an endless loop, far
    too slow, or waiting on something that never comes)."""
    head = f"did not finish within its {timeout_s:g} s timeout"
    if not (isinstance(spent, list) and len(spent) == 2):
        return f"{head} (an endless loop, or far too slow)"
    ran, waited = (float(x) for x in spent)
    if waited > max(ran, 0.25 * timeout_s):
        return (
            f"{head}, in which the solution ran for {ran:.1f} s and waited {waited:.1f} s "
            "for a CPU: the machine was too busy to tell; grade again when it is quieter"
        )
    if ran < 0.25 * timeout_s:
        return f"{head}, running for only {ran:.1f} s: it waited on something (a sleep, a lock)"
    return f"{head}, running for {ran:.1f} s of CPU (an endless loop, or far too slow)"
