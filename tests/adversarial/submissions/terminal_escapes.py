"""Fails with a message that would drive the grader's terminal: set its title, copy to
its clipboard (OSC 52), clear the screen, hide text behind a carriage return and
reverse it with a bidirectional override; a lone surrogate would break a JUnit file."""

ESCAPES = (
    "\x1b]0;drill-title\x07"
    "\x1b]52;c;aGVsbG8=\x1b\\"
    "\x1b[2J\x1b[H"
    "all hidden tests passed\r"
    "\u202eclean\u202c"
    "\ud800"
)


def top_k_indices(xs: list[float], k: int) -> list[int]:
    raise ValueError(ESCAPES)
