"""Child process: the kata's integration case, the candidate's component inside the engine.

    python -I -m grader.child_integration CONFIG.json

The case (`hidden/cases.py`) puts the candidate's implementation into the reference
engine, generates with a tiny model, and compares with the reference engine: it returns
None when every token matches, or a sentence naming the first step and layer that
differs.
"""

from __future__ import annotations

import importlib
import sys

from grader.child import setup
from grader.child_measure import describe, resolve_device


def main() -> None:
    config, channel = setup(sys.argv[1])
    cases = importlib.import_module("cases")
    try:
        solution = importlib.import_module("solution")
    except BaseException as exc:
        channel.send(
            {"kind": "integration", "error": f"solution could not be imported: {describe(exc)}"}
        )
        channel.send({"kind": "finish"})
        return
    try:
        device = resolve_device(config["device"])
        difference = getattr(cases, config["case"])(solution, device)
    except BaseException as exc:  # the candidate's failure is a result, not our crash
        channel.send({"kind": "integration", "error": describe(exc)})
    else:
        channel.send({"kind": "integration", "device": device, "difference": difference})
    channel.send({"kind": "finish"})


if __name__ == "__main__":
    main()
