"""`drill stats`: progress per kata and per topic, from the history's grades.

An attempt counts as its last grade (as in `drill next`). A pass's time is the time the
attempt had used when it was graded; it is compared with the kata's minutes, the time
an interview gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drills.schedule import Attempt

if TYPE_CHECKING:
    from grader.kata import Kata


@dataclass(frozen=True)
class KataStats:
    kata: str
    topics: tuple[str, ...]
    minutes: int  # the kata's time limit
    attempts: list[Attempt]

    @property
    def scores(self) -> list[float]:
        return [a.score for a in self.attempts]

    @property
    def passes(self) -> int:
        return sum(a.passed for a in self.attempts)

    @property
    def best(self) -> float | None:
        return max(self.scores, default=None)

    @property
    def last(self) -> float | None:
        return self.scores[-1] if self.scores else None

    @property
    def fastest_pass_min(self) -> float | None:
        times = [a.elapsed_s / 60 for a in self.attempts if a.passed and a.elapsed_s is not None]
        return min(times, default=None)

    @property
    def trend(self) -> float | None:
        """The last score less the first: how far practice has moved the score."""
        return self.scores[-1] - self.scores[0] if len(self.scores) > 1 else None

    def to_json(self) -> dict[str, Any]:
        return {
            "kata": self.kata,
            "topics": list(self.topics),
            "attempts": len(self.attempts),
            "passes": self.passes,
            "best": self.best,
            "last": self.last,
            "trend": self.trend,
            "fastest_pass_min": _round(self.fastest_pass_min),
            "minutes": self.minutes,
            "scores": self.scores,
        }


@dataclass(frozen=True)
class TopicStats:
    topic: str
    katas: int  # katas on the topic that were tried
    attempts: int
    passes: int
    mean_last: float | None  # mean over those katas of their last score

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "katas": self.katas,
            "attempts": self.attempts,
            "passes": self.passes,
            "mean_last": _round(self.mean_last),
        }


def kata_stats(katas: list[Kata], attempts: list[Attempt]) -> list[KataStats]:
    """One entry per kata tried, in the order of `katas`."""
    out = []
    for kata in katas:
        mine = [a for a in attempts if a.kata == kata.id]
        if mine:
            out.append(KataStats(kata.id, kata.topics, kata.minutes, mine))
    return out


def topic_stats(per_kata: list[KataStats]) -> list[TopicStats]:
    topics = sorted({t for k in per_kata for t in k.topics})
    out = []
    for topic in topics:
        on = [k for k in per_kata if topic in k.topics]
        lasts = [k.last for k in on if k.last is not None]
        out.append(
            TopicStats(
                topic,
                len(on),
                sum(len(k.attempts) for k in on),
                sum(k.passes for k in on),
                sum(lasts) / len(lasts) if lasts else None,
            )
        )
    return out


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)
