import pytest

from drills.duration import parse_duration
from grader.errors import BadInput


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m", 1800),
        ("45m", 2700),
        ("1h30m", 5400),
        ("90s", 90),
        ("2h", 7200),
        ("1h0m30s", 3630),
        (" 30M ", 1800),
    ],
)
def test_accepts_the_documented_forms(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["30x", "-5m", "", "m", "30", "5m1h", "1h1h", "0m", "25h", "1.5h"])
def test_rejects_anything_else_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_duration(text)
    assert "--timed" in str(info.value)
    assert info.value.exit_code == 2
