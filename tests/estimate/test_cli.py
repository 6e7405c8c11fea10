"""`drill estimate` end to end: a piped session, the JSON forms, the history, every error a
user can cause as one line and exit 2, Ctrl-C as 130 with the answers kept."""

from __future__ import annotations

import builtins
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from drills.__main__ import run
from drills.estimate.topics import session_questions
from drills.estimate.units import format_value
from drills.history import History


def drill(
    args: list[str], stdin: str, capsys: pytest.CaptureFixture[str], mp: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    mp.setattr(sys, "stdin", io.StringIO(stdin))
    code = run(args)
    out, err = capsys.readouterr()
    return code, out, err


def right(topic: str, seed: int, i: int) -> str:
    q = session_questions(topic, seed)(i)
    return format_value(q.kind, q.expected)


def test_a_piped_session_with_right_wrong_and_bad_answers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [right("kv-cache", 3, 0), "1 B", "banana", "", "12 ms", right("kv-cache", 3, 2), "?"]
    code, out, err = drill(
        ["estimate", "kv-cache", "--count", "5", "--seed", "3"],
        "\n".join(lines) + "\n",
        capsys,
        monkeypatch,
    )
    assert code == 0 and err == ""
    assert "5 questions on kv-cache (seed 3" in out
    assert out.count("Full marks (1/1)") == 2 and "No marks (0/1)" in out
    assert "'banana' is not a number" in out and "no answer given" in out
    assert "'12 ms' is a time, but this question asks for a size in bytes" in out
    assert "Shown (0/1)" in out and "How it is worked out:" in out
    assert "Input ended after 4 of 5 questions." in out
    assert "Score 2/4 (50%)" in out
    assert "Traceback" not in out + err
    rows = History().estimates()
    assert [(r.topic, r.score) for r in reversed(rows)] == [
        ("kv-cache", 1.0),
        ("kv-cache", 0.0),
        ("kv-cache", 1.0),
        ("kv-cache", 0.0),
    ]
    assert rows[0].answer is None and rows[-1].answer == lines[0]


def test_ctrl_c_prints_the_summary_keeps_the_answers_and_exits_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter([right("moe", 5, 0)])

    def typed(prompt: str = "") -> str:
        try:
            return next(answers)
        except StopIteration:
            raise KeyboardInterrupt from None

    monkeypatch.setattr(builtins, "input", typed)
    code = run(["estimate", "moe", "--seed", "5"])
    out, err = capsys.readouterr()
    assert code == 130
    assert "Interrupted after 1 of 5 questions." in out and "Score 1/1" in out
    assert err == "drill: interrupted; the answer given is saved\n"
    assert len(History().estimates("moe")) == 1


def test_ctrl_c_before_any_answer_says_nothing_was_recorded_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def typed(prompt: str = "") -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(builtins, "input", typed)
    code = run(["estimate", "moe", "--seed", "5"])
    out, err = capsys.readouterr()
    assert code == 130
    assert err == "drill: interrupted; nothing was recorded\n"
    assert "nothing was recorded" not in out and "No answers given" not in out
    assert History().estimates() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["estimate", "kv"], "unknown topic 'kv' (did you mean kv-cache?): one of weights, "),
        (["estimate", "--count", "0"], "--count 0: between 1 and 200 questions"),
        (["estimate", "--count", "201"], "--count 201: between 1 and 200 questions"),
        (["estimate", "--timed", "10x"], "--timed '10x': expected a duration like 30m"),
        (["estimate", "--answers", "a.txt"], "--answers goes with --format json"),
        (["estimate", "--format", "json", "--timed", "5m"], "--timed is for the interactive"),
        (["estimate", "--history", "--count", "3"], "--history takes a TOPIC, --limit"),
        (["estimate", "-f", "json", "--answers", "missing.txt"], "cannot read --answers missing"),
    ],
)
def test_errors_a_user_can_cause_are_one_line_and_exit_2(
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _out, err = drill(args, "", capsys, monkeypatch)
    assert code == 2
    assert err.startswith(f"drill: {message}") and err.count("\n") == 1, err


def test_json_without_answers_is_the_answer_key_and_records_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = drill(
        ["estimate", "ttft", "-n", "3", "--seed", "9", "-f", "json"], "", capsys, monkeypatch
    )
    assert code == 0
    doc = json.loads(out)
    make = session_questions("ttft", 9)
    assert doc["seed"] == 9 and doc["topic"] == "ttft"
    assert [q["n"] for q in doc["questions"]] == [1, 2, 3]
    for i, q in enumerate(doc["questions"]):
        assert q["expected"] == make(i).expected and q["kind"] == "time"
        assert q["derivation"] == list(make(i).derivation) and q["question"] == make(i).text
        assert set(q) >= {"seed", "expected_text", "params"}
    assert History().estimates() == []


def test_json_grades_answers_from_stdin_and_records_them(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = f"{right('cost', 4, 0)}\nbanana\n\n"
    args = ["estimate", "cost", "--seed", "4", "-f", "json", "--answers", "-"]
    code, out, _ = drill(args, stdin, capsys, monkeypatch)
    assert code == 0
    doc = json.loads(out)
    assert [q["score"] for q in doc["questions"]] == [1.0, None, None]
    assert "'banana' is not a number" in doc["questions"][1]["error"]
    assert doc["answered"] == 1 and doc["score"] == 1.0
    assert [r.score for r in History().estimates()] == [1.0]
    code, _, err = drill([*args, "--count", "2"], stdin, capsys, monkeypatch)
    assert code == 2 and "--answers has 3 lines for 2 questions" in err


def test_history_by_topic_in_text_and_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = drill(["estimate", "--history"], "", capsys, monkeypatch)
    assert code == 0 and "No estimates yet" in out
    drill(
        ["estimate", "speculative", "-n", "2", "--seed", "1"],
        f"{right('speculative', 1, 0)}\n?\n",
        capsys,
        monkeypatch,
    )
    code, out, _ = drill(["estimate", "--history"], "", capsys, monkeypatch)
    assert code == 0 and "speculative" in out and "50%" in out and "(shown)" in out
    code, out, _ = drill(
        ["estimate", "--history", "speculative", "-f", "json"], "", capsys, monkeypatch
    )
    doc = json.loads(out)
    assert doc["topics"][0]["topic"] == "speculative" and doc["topics"][0]["answered"] == 2
    assert doc["topics"][0]["mean"] == 0.5
    assert [a["score"] for a in doc["answers"]] == [0.0, 1.0]


def test_grades_in_drill_history_are_untouched_by_estimates(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    drill(["estimate", "moe", "-n", "1", "--seed", "2"], "?\n", capsys, monkeypatch)
    code, out, _ = drill(["history"], "", capsys, monkeypatch)
    assert code == 0 and "No grades yet" in out


def test_topics_are_listed_and_help_is_fast_to_load(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = drill(["estimate", "--topics"], "", capsys, monkeypatch)
    assert code == 0 and out.splitlines()[0].startswith("weights ")
    assert len(out.splitlines()) == 12
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['drill', 'estimate', '--help']\n"
        "try:\n    runpy.run_module('drills', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('torch', 'numpy', 'textual', 'sqlite3') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert "HEAVY []" in result.stdout, result.stdout[-500:] + result.stderr[-500:]
    assert "kv-cache" in result.stdout and "--answers" in result.stdout


def test_json_grades_gigabits_as_an_eighth_of_gigabytes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    q = session_questions("kv-cache", 1)(0)
    gb = q.expected / 1e9
    stdin = f"{gb:.6g} Gb\n{gb:.6g} GB\n{gb * 8:.6g} Gbit\n"
    args = ["estimate", "kv-cache", "--seed", "1", "-f", "json", "--answers", "-", "-n", "1"]
    for line, value, score in zip(
        stdin.splitlines(), (q.expected / 8, q.expected, q.expected), (0.0, 1.0, 1.0), strict=True
    ):
        code, out, _ = drill(args, line + "\n", capsys, monkeypatch)
        assert code == 0
        (graded,) = json.loads(out)["questions"]
        assert graded["value"] == pytest.approx(value, rel=1e-5) and graded["score"] == score
