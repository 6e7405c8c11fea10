"""Sizes and times for a person, worded one way wherever a grade speaks of them: in a
stage's reason and in every renderer."""

from __future__ import annotations


def minutes(seconds: float | None) -> str:
    """`12m05s`; `-` for no time at all."""
    if seconds is None:
        return "-"
    s = round(abs(seconds))
    return f"{s // 60}m{s % 60:02d}s"


def size(n: float) -> str:
    """Bytes: 812 B, 64.0 KiB, 1.5 MiB, 2.00 GiB."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:.{2 if unit == 'GiB' else 1}f} {unit}"
    return f"{int(n)} B"


def duration(seconds: float) -> str:
    """A call's time: `2.67 ms`, `87.5 us`."""
    return f"{seconds * 1e3:.3g} ms" if seconds >= 1e-4 else f"{seconds * 1e6:.3g} us"
