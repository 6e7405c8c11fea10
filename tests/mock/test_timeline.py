"""The timeline file: many writers, killed writers and torn lines lose no whole record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from drills.mock import timeline
from drills.mock.timeline import Event

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from drills.mock.timeline import Event, append

    path, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    i = 0
    while count < 0 or i < count:
        event = Event("note", name, float(i), f"2030-01-01T00:00:00.{i:06d}+00:00",
                      {"seq": i, "text": "x" * 300})
        append(path, event)
        print(event.id, flush=True)  # told only after append returned
        i += 1
    """
)


def writer(path: Path, name: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), name, str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )


def raw_lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().split(b"\n") if line]


def test_four_processes_appending_at_once_lose_no_line(tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    procs = [writer(path, f"w{n}", 150) for n in range(4)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    events = timeline.read(path)
    assert len(events) == len(raw_lines(path)) == 600  # every line whole and parseable
    for n, out in enumerate(outs):
        mine = [e for e in events if e.by == f"w{n}"]
        assert sorted(e.data["seq"] for e in mine) == list(range(150))
        assert {e.id for e in mine} == set(out.split())


def test_a_writer_killed_mid_stream_keeps_every_record_it_reported(tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    proc = writer(path, "victim", -1)
    assert proc.stdout is not None
    reported = [proc.stdout.readline().strip() for _ in range(80)]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    reported += proc.stdout.read().split()
    ids = {e.id for e in timeline.read(path)}
    assert set(reported) <= ids
    assert len(raw_lines(path)) == len(ids)  # no torn line: a record is one write


def test_a_torn_tail_is_skipped_and_the_next_record_starts_on_its_own_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "timeline.jsonl"
    first = Event("note", "interviewer", 1.0, "2030-01-01T00:00:01+00:00", {"text": "a"})
    timeline.append(path, first)
    with path.open("ab") as f:  # what a process killed inside write() could leave
        f.write(b'{"v":1,"id":"torn","kind":"sco')
    second = Event("score", "interviewer", 2.0, "2030-01-01T00:00:02+00:00", {"value": 3})
    timeline.append(path, second)
    assert [e.id for e in timeline.read(path)] == [first.id, second.id]
    assert path.read_bytes().endswith(b"\n" + second.to_line())


def test_a_merged_timeline_reads_in_time_order_with_each_event_once(tmp_path: Path) -> None:
    """What `git merge` with merge=union makes of two sides' appends."""
    path = tmp_path / "timeline.jsonl"
    a = Event("test", "candidate", 60.0, "2030-01-01T00:01:00+00:00", {"ok": False})
    b = Event("hint", "interviewer", 90.0, "2030-01-01T00:01:30+00:00", {"index": 0})
    c = Event("test", "candidate", 120.0, "2030-01-01T00:02:00+00:00", {"ok": True})
    path.write_bytes(a.to_line() + c.to_line() + b.to_line() + a.to_line())
    assert [e.id for e in timeline.read(path)] == [a.id, b.id, c.id]


def test_lines_that_are_not_events_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    good = Event("note", "candidate", 5.0, "2030-01-01T00:00:05+00:00", {"text": "ok"})
    junk = [b"not json", b"[1, 2]", json.dumps({"kind": "note"}).encode(), b"\xff\xfe"]
    path.write_bytes(b"\n".join([*junk, good.to_line()]))
    (event,) = timeline.read(path)
    assert event == good


def test_an_event_round_trips_through_its_line() -> None:
    e = Event("grade", "candidate", 12.5, "2030-01-01T00:00:12+00:00", {"score": 91.5})
    (back,) = timeline.parse(e.to_line())
    assert back == e
    assert json.loads(e.to_line())["score"] == 91.5


def test_the_timeline_file_is_readable_by_the_other_side(tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    old = os.umask(0o022)
    try:
        timeline.append(path, Event("note", "candidate", 0.0, "2030-01-01T00:00:00+00:00"))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o044 == 0o044


def test_text_the_other_side_wrote_is_read_without_its_control_characters(
    tmp_path: Path,
) -> None:
    from drills.workspace import Session

    record = {
        "v": 1, "id": "e1", "kind": "test\x1b[2J", "by": "candidate", "at": "2026-12-07T09:00:00",
        "t": 1.0, "first_failure": "\x1b]52;c;aGk=\x07boom\r", "failures": ["\u202eok"],
    }  # fmt: skip
    path = tmp_path / "timeline.jsonl"
    path.write_text(json.dumps(record) + "\n")
    (event,) = timeline.read(path)
    assert event.kind == "test\\x1b[2J"
    assert event.data["first_failure"] == "\\x1b]52;c;aGk=\\x07boom\\x0d"
    assert event.data["failures"] == ["\\u202eok"]
    session = Session.from_json(
        {"kata": "kv-cache\x1b[31m", "started_at": "2026-12-07T09:00:00+00:00", "limit_s": 60,
         "last_test": {"first_failure": "\x1b]0;x\x07"}}
    )  # fmt: skip
    assert session.kata == "kv-cache\\x1b[31m"
    assert session.last_test == {"first_failure": "\\x1b]0;x\\x07"}
