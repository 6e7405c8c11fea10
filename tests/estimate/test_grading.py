"""The tolerance bands: full marks within 25%, half within 2x, and never a better grade
for an answer further off."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drills.estimate.grading import how_far, score, verdict


@pytest.mark.parametrize(
    ("answer", "points"),
    [
        (100, 1.0),
        (125, 1.0),  # 25% high: the edge is inside
        (75, 1.0),  # 25% low
        (125.5, 0.5),
        (74.5, 0.5),
        (200, 0.5),  # double
        (50, 0.5),  # half
        (200.5, 0.0),
        (49.9, 0.0),
        (1e6, 0.0),
        (0, 0.0),
    ],
)
def test_the_bands(answer: float, points: float) -> None:
    assert score(answer, 100) == points


def test_the_bands_scale_with_the_expected_value() -> None:
    assert score(1.2e10, 1e10) == 1.0 and score(1.2e-5, 1e-5) == 1.0
    assert score(1.9e10, 1e10) == 0.5 and score(0.3e-5, 1e-5) == 0.0


def test_words() -> None:
    assert verdict(1.0) == "full marks" and verdict(0.5) == "half marks"
    assert verdict(0.0) == "no marks"
    assert how_far(100, 100) == "spot on"
    assert how_far(112, 100) == "12% high" and how_far(70, 100) == "30% low"
    assert how_far(320, 100) == "3.2x too high" and how_far(2.5, 100) == "40x too low"
    assert how_far(1, 1_000_000) == "1,000,000x too low"


positive = st.floats(min_value=1e-9, max_value=1e15, allow_nan=False, allow_infinity=False)


@given(expected=positive, a=positive, b=positive)
def test_a_grade_never_rises_as_the_answer_moves_away(expected: float, a: float, b: float) -> None:
    near, far = sorted((a, b), key=lambda x: abs(x - expected))
    same_side = (near - expected) * (far - expected) >= 0
    if same_side:
        assert score(near, expected) >= score(far, expected)
