"""Grading an estimate: the tolerance bands, in one place.

- full marks (1): within 25% of the expected value, either way;
- half marks (0.5): within a factor of 2, either way (half to double);
- no marks (0): anything further off, and zero.

The grade depends on the two numbers alone, so the same answer always gets the same
grade, and it never rises as the answer moves away from the expected value.
"""

from __future__ import annotations

FULL_MARKS_WITHIN = 0.25  # |answer - expected| <= 25% of expected
HALF_MARKS_FACTOR = 2.0  # expected / 2 <= answer <= expected x 2
_EPS = 1e-9  # an answer exactly on a band's edge (1.25 x) is inside it despite rounding


def score(answer: float, expected: float) -> float:
    if expected <= 0:
        raise ValueError(f"expected values are positive, not {expected}")
    if answer <= 0:
        return 0.0
    if abs(answer - expected) <= FULL_MARKS_WITHIN * expected * (1 + _EPS):
        return 1.0
    if (
        expected / HALF_MARKS_FACTOR * (1 - _EPS)
        <= answer
        <= expected * HALF_MARKS_FACTOR * (1 + _EPS)
    ):
        return 0.5
    return 0.0


def verdict(points: float) -> str:
    return {1.0: "full marks", 0.5: "half marks"}.get(points, "no marks")


def how_far(answer: float, expected: float) -> str:
    """`spot on`, `12% high`, `30% low`, `3.2x too high`, `40x too low`."""
    if answer <= 0:
        return "zero"
    ratio = answer / expected
    if abs(ratio - 1) < 0.005:
        return "spot on"
    if ratio > 1:
        return f"{(ratio - 1) * 100:.0f}% high" if ratio < 2 else f"{_times(ratio)} too high"
    return f"{(1 - ratio) * 100:.0f}% low" if ratio > 0.5 else f"{_times(1 / ratio)} too low"


def _times(factor: float) -> str:
    return f"{factor:.3g}x" if factor < 1000 else f"{factor:,.0f}x"
