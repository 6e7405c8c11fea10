"""Reading a mock workspace's files in tests, straight from disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from drills.mock import store, timeline


def events(ws: Path, kind: str | None = None) -> list[timeline.Event]:
    found = timeline.read(store.timeline_path(ws))
    return [e for e in found if kind is None or e.kind == kind]


def session_json(ws: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ws / ".drill" / "session.json").read_text())
    return data
