"""`--timed` values: 30m, 45m, 1h30m, 90s, 2h."""

from __future__ import annotations

import re

from grader.errors import BadInput

_PART = re.compile(r"(\d+)([hms])")
_UNIT = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    """Seconds in `text`; anything else is a `BadInput` that shows the accepted forms."""
    cleaned = text.strip().lower()
    parts = _PART.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise BadInput(f"--timed '{text}': expected a duration like 30m, 45m, 1h30m or 90s")
    units = [u for _, u in parts]
    if len(set(units)) != len(units) or units != sorted(units, key="hms".index):
        raise BadInput(
            f"--timed '{text}': give hours, minutes and seconds at most once each, in that order"
        )
    seconds = sum(int(n) * _UNIT[u] for n, u in parts)
    if seconds <= 0:
        raise BadInput(f"--timed '{text}': the duration must be longer than zero")
    if seconds > 24 * 3600:
        raise BadInput(f"--timed '{text}': at most 24h")
    return seconds
