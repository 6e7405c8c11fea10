"""The grade report: plain dataclasses whose JSON form is the contract in docs/report.md.

Every renderer (Rich, JSON, JUnit, markdown) reads a `Report`; nothing else. The
parent builds it from results it checked itself, never from what a child claims. Its
text may still quote the solution (an exception's message): every reason and detail is
made printable here, once, so no renderer shows a control character a solution chose.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from grader.wording import printable, printable_value

# "unmeasured": the check ran but the machine was too busy for a verdict (costs nothing).
Status = Literal["pass", "fail", "error", "skip", "unmeasured"]
SCHEMA_VERSION = 1


@dataclass
class TestOutcome:
    """One hidden test as the parent recorded it."""

    id: str
    outcome: Literal["passed", "failed", "error", "timeout", "not run", "skipped"]
    reason: str = ""
    duration_s: float = 0.0
    line: int | None = None  # where in solution.py it failed, when the traceback says

    def __post_init__(self) -> None:
        self.reason = printable(self.reason)


@dataclass
class Check:
    """One stage's result. `details` carries the stage's own fields (peak_bytes, ratio...)."""

    name: str
    status: Status
    score: float = 0.0
    max: float = 0.0
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reason = printable(self.reason)
        self.details = printable_value(self.details)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, **self.details}
        out["score"] = round(self.score, 2)
        out["max"] = self.max
        if self.status != "pass" or self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class Report:
    kata: str
    score: float
    passed: bool
    elapsed_s: float | None
    limit_s: float | None
    hints_taken: int
    checks: dict[str, Check]
    pass_mark: float
    hint_penalty: float = 0.0
    tests: list[TestOutcome] = field(default_factory=list)
    device: str = "cpu"
    graded_at: str = ""
    solution: str = "solution.py"
    # The checks that ran, when `--only` left some of the kata's out: the score and
    # `passed` then speak of those checks alone, and the grade is not a full one.
    partial: list[str] | None = None
    strict_time: bool = False  # overtime fails the grade (`drill grade --strict-time`)
    variant: str | None = None  # a bug hunt's planted bug, when the session named it

    @property
    def overtime_s(self) -> float | None:
        """Seconds past the session's limit when graded (None: within it, or no limit)."""
        if self.elapsed_s is None or not self.limit_s or self.elapsed_s <= self.limit_s:
            return None
        return self.elapsed_s - self.limit_s

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "kata": self.kata,
            "score": round(self.score, 1),
            "passed": self.passed,
            "elapsed_s": None if self.elapsed_s is None else round(self.elapsed_s, 1),
            "limit_s": self.limit_s,
            "hints_taken": self.hints_taken,
            "hint_penalty": self.hint_penalty,
            "pass_mark": self.pass_mark,
            "graded_at": self.graded_at,
            "device": self.device,
            **({"partial": self.partial} if self.partial else {}),
            **({"overtime_s": round(self.overtime_s, 1)} if self.overtime_s else {}),
            "strict_time": self.strict_time,
            **({"variant": self.variant} if self.variant else {}),
            "checks": {name: check.to_json() for name, check in self.checks.items()},
            "tests": [dataclasses.asdict(t) for t in self.tests],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)
