"""`drill mock replay`: the candidate's solution.py over time, one diff per step.

Every timeline event that carries a snapshot is a moment (start, each test, grade and
hint, and the watcher's captures while the file changed). Moments in a row with the same
content fold into one frame that lists them all, so each frame is a real change:

    frame 1  0m00s   start                      (the starter, whole)
    frame 2  3m30s   edited                     diff against frame 1
    frame 3  5m02s   test: 0 passed, 1 failed   diff against frame 2
             5m40s   hint 1 revealed            (same content: listed, no new frame)
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from drills.mock import snapshots
from drills.mock.state import Moment


@dataclass(frozen=True)
class Frame:
    number: int  # 1-based
    sha: str
    moments: list[Moment] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)  # unified diff against the previous frame
    lines: int = 0

    @property
    def t(self) -> float:
        return self.moments[0].t


def frames(root: Path, moments: list[Moment]) -> list[Frame]:
    out: list[Frame] = []
    previous = ""
    for m in moments:
        if out and out[-1].sha == m.sha:
            out[-1].moments.append(m)
            continue
        text = snapshots.load(root, m.sha)
        if text is None:
            text = f"# snapshot {m.sha} is missing from this copy of the workspace\n"
        before = f"solution.py @ frame {len(out)}" if out else "/dev/null"
        diff = list(
            difflib.unified_diff(
                previous.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=before,
                tofile=f"solution.py @ frame {len(out) + 1}",
            )
        )
        out.append(Frame(len(out) + 1, m.sha, [m], diff, len(text.splitlines())))
        previous = text
    return out
