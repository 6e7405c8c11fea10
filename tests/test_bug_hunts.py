"""Bug hunts: a new attempt draws a bug the candidate has not seen, the workspace gets the
planted file and the user's report, the grade measures the size of the fix, and the
review and the interviewer get the bug.

The toy hunt (tests/fixtures/hunts/bug-hunt-toy) has no torch, so each grade here
takes a second; the built-in hunts are graded in tests/test_katas.py.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from drills import actions, hunt
from drills.history import History
from drills.mock.script import load_script
from drills.review import review
from drills.visible import failing_tests
from drills.workspace import Mode, Workspace
from grader.errors import BadInput
from grader.kata import Kata, load_kata_from
from grader.mutants import load_mutants, mutant_named, planted_source
from grader.pipeline import grade
from grader.stages.diff import changed_lines
from grader.validate import check_planted, check_symptoms
from tests.conftest import FIXTURE_KATAS

HUNTS = Path(__file__).resolve().parent / "fixtures" / "hunts"
TOY = load_kata_from(HUNTS / "bug-hunt-toy")
BUGS = [b.name for b in load_mutants(TOY)]

# The toy file rewritten from scratch: correct, and not a fix of anything.
REWRITE = '''"""Batching helpers, rewritten."""

from __future__ import annotations

from itertools import accumulate


def pad_batch(rows: list[list[int]], pad: int) -> list[list[int]]:
    longest = max(map(len, rows), default=0)
    return [[pad] * (longest - len(r)) + [*r] for r in rows]


def window_sums(xs: list[int], window: int) -> list[int]:
    if window < 1:
        raise ValueError("window must be at least 1")
    prefix = [0, *accumulate(xs)]
    return [prefix[i + 1] - prefix[max(0, i + 1 - window)] for i in range(len(xs))]
'''


@pytest.fixture
def hunts_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DRILL_KATAS", str(HUNTS))
    return HUNTS


def start(folder: Path, *, again: bool = False, bug: str | None = None) -> Workspace:
    started = actions.start(
        "bug-hunt-toy",
        folder,
        None,
        force=False,
        resume=False,
        mode=Mode.PRACTICE,
        again=again,
        bug=bug,
    )
    return started.workspace


def variant(ws: Workspace) -> str:
    name = ws.load().variant
    assert name is not None
    return name


def test_a_second_attempt_draws_a_bug_the_first_was_not_given(
    hunts_dir: Path, tmp_path: Path
) -> None:
    first = variant(start(tmp_path / "one"))
    second = variant(start(tmp_path / "two"))
    assert first != second
    assert History().draws("bug-hunt-toy") == [first, second]


def test_again_draws_every_bug_once_before_any_comes_back(hunts_dir: Path, tmp_path: Path) -> None:
    ws = start(tmp_path / "ws")
    drawn = [variant(ws)]
    for _ in range(len(BUGS) - 1):
        drawn.append(variant(start(tmp_path / "ws", again=True)))
    assert sorted(drawn) == sorted(BUGS)
    started = actions.start(
        "bug-hunt-toy", tmp_path / "ws", None, force=False, resume=False, mode=Mode.PRACTICE,
        again=True,
    )  # fmt: skip
    assert variant(started.workspace) == drawn[0]  # the one seen longest ago
    assert started.repeat.startswith("You have been given every bug of this file")


def test_once_every_bug_is_drawn_the_least_recent_comes_back() -> None:
    bugs = load_mutants(TOY)
    drawn = [BUGS[1], BUGS[0], BUGS[2], BUGS[0]]
    assert hunt.draw(bugs, drawn, random.Random(0)).name == BUGS[1]
    assert hunt.draw(bugs, drawn[:2], random.Random(0)).name == BUGS[2]


def test_the_workspace_gets_the_planted_file_the_report_and_a_diagnosis_file(
    hunts_dir: Path, tmp_path: Path
) -> None:
    ws = start(tmp_path / "ws", bug="window_one_too_long")
    bug = mutant_named(TOY, "window_one_too_long")
    assert ws.solution.read_text() == planted_source(TOY, bug)
    prompt = (ws.root / "PROMPT.md").read_text()
    assert prompt.startswith(TOY.prompt_path.read_text())
    assert f"> {bug.symptom}" in prompt and "`test_window_of_two`" in prompt
    assert bug.bug not in prompt and bug.name not in prompt  # the report, not the answer
    assert hunt.read_diagnosis(ws.root) is None  # the template is all comments


def test_a_diagnosis_or_solution_that_links_elsewhere_is_never_read(
    hunts_dir: Path, tmp_path: Path
) -> None:
    from drills.mock import snapshots

    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN=hunter2\n")
    ws = start(tmp_path / "ws", bug="window_one_too_long")
    (ws.root / hunt.DIAGNOSIS).unlink()
    (ws.root / hunt.DIAGNOSIS).symlink_to(secret)
    assert hunt.read_diagnosis(ws.root) is None
    (ws.root / hunt.DIAGNOSIS).unlink()
    (ws.root / hunt.DIAGNOSIS).write_text("the window kept one key too many\n")
    assert hunt.read_diagnosis(ws.root) == "the window kept one key too many"
    # A mock interviewer's process snapshots the candidate's solution.py on a shared
    # folder: a link there must not copy the interviewer's own file into it.
    ws.solution.unlink()
    ws.solution.symlink_to(secret)
    assert snapshots.take(ws.root) is None
    taken = [p.read_text() for p in (ws.root / ".drill").rglob("*.py")]
    assert not any("hunter2" in text for text in taken)


def test_an_unknown_bug_name_or_a_kata_that_is_no_hunt_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    katas = tmp_path / "katas"
    shutil.copytree(TOY.folder, katas / TOY.id)
    shutil.copytree(FIXTURE_KATAS / "top-k-indices", katas / "top-k-indices")
    monkeypatch.setenv("DRILL_KATAS", str(katas))
    with pytest.raises(BadInput, match="no planted bug named 'nope'; it has pads_on_the_right"):
        start(tmp_path / "ws", bug="nope")
    assert not (tmp_path / "ws").exists() and History().draws("bug-hunt-toy") == []
    with pytest.raises(BadInput, match="--bug: top-k-indices is not a bug hunt"):
        actions.start(
            "top-k-indices", tmp_path / "w2", None, force=False, resume=False,
            mode=Mode.PRACTICE, bug="x",
        )  # fmt: skip


def test_bug_hunt_with_a_named_bug_finds_the_family_that_has_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    katas = tmp_path / "katas"
    shutil.copytree(TOY.folder, katas / TOY.id)
    shutil.copytree(TOY.folder, katas / "bug-hunt-twin")
    twin = katas / "bug-hunt-twin"
    (twin / "kata.yaml").write_text((twin / "kata.yaml").read_text().replace(TOY.id, twin.name))
    mutants = twin / "mutants.yaml"
    mutants.write_text(mutants.read_text().replace("window_one_too_long", "window_too_long"))
    monkeypatch.setenv("DRILL_KATAS", str(katas))

    def hunt_for(bug: str, folder: str) -> Workspace:
        return actions.start(
            "bug-hunt", tmp_path / folder, None, force=False, resume=False,
            mode=Mode.PRACTICE, bug=bug,
        ).workspace  # fmt: skip

    ws = hunt_for("window_too_long", "w1")
    assert (ws.load().kata, ws.load().variant) == ("bug-hunt-twin", "window_too_long")
    with pytest.raises(BadInput, match="bug-hunt-toy, bug-hunt-twin each have a planted bug"):
        hunt_for("pads_on_the_right", "w2")
    with pytest.raises(BadInput, match="no bug hunt has a planted bug named 'nope'"):
        hunt_for("nope", "w3")
    assert not (tmp_path / "w2").exists() and not (tmp_path / "w3").exists()


def test_bug_hunt_starts_the_family_with_the_most_bugs_left(hunts_dir: Path) -> None:
    other = Kata.__new__(Kata)
    object.__setattr__(other, "id", "bug-hunt-other")
    assert hunt.pick_family([(TOY, 1, 2), (other, 2, 5)]) is other
    assert hunt.pick_family([(TOY, 2, 1), (other, 2, 5)]) is TOY
    with pytest.raises(BadInput, match="no bug hunt is installed"):
        hunt.pick_family([])


def test_changed_lines_count_code_not_comments_or_blank_lines() -> None:
    given = "a = 1\n\nb = 2\nc = 3\n"
    assert changed_lines(given, given + "\n# why the fix is right\n") == 0
    assert changed_lines(given, "a = 1\nb = 20\nc = 3\n") == 1  # a replaced line counts once
    assert changed_lines(given, "a = 1\nb = 2\nb += 1\nc = 3\n") == 1
    assert changed_lines(given, "a = 1\nc = 3\n") == 1
    assert changed_lines(given, "x = 0\ny = 0\nz = 0\nw = 0\n") == 4


PADS_WITH_ZERO = planted_source(TOY, mutant_named(TOY, "pads_with_zero"))
# The rewrite, run from one appended line: the given file is left as it was.
EXEC_REWRITE = PADS_WITH_ZERO + f"exec(compile({REWRITE!r}, __file__, 'exec'))\n"


def test_a_rewrite_on_one_long_line_counts_once_per_100_characters() -> None:
    appended = EXEC_REWRITE.splitlines()[-1]
    assert changed_lines(PADS_WITH_ZERO, EXEC_REWRITE) == -(-len(appended) // 100) > 4


def test_lines_inside_a_string_are_code_even_when_they_start_with_a_hash() -> None:
    payload = "".join(f"# {line}\n" for line in REWRITE.splitlines())
    fixed = f'{PADS_WITH_ZERO}_FIX = """\n{payload}"""\n'
    assert changed_lines(PADS_WITH_ZERO, fixed) == len(REWRITE.splitlines()) + 2


def test_a_one_line_fix_with_a_comment_explaining_it_counts_one() -> None:
    fixed = PADS_WITH_ZERO.replace(
        "        filler = [0] * (width - len(row))",
        "        # The filler is the caller's pad value: zero is a real token id.\n"
        "        # (Found by test_pad_value_is_used.)\n"
        "        filler = [pad] * (width - len(row))",
    )
    assert fixed != PADS_WITH_ZERO
    assert changed_lines(PADS_WITH_ZERO, fixed) == 1


def test_comments_or_whitespace_that_carry_a_payload_count_past_300_characters() -> None:
    decoder = "exec(''.join(line[2:] for line in open(__file__) if line.startswith('#|')))\n"
    in_comments = [f"#| {line}" for line in REWRITE.splitlines()]
    over = sum(map(len, in_comments)) - 300
    fixed = PADS_WITH_ZERO + "".join(f"{line}\n" for line in in_comments) + decoder
    assert changed_lines(PADS_WITH_ZERO, fixed) == 1 + -(-over // 100) > 1
    # Spaces and tabs after `return out` (twice in the file): 134 characters, two lines each.
    in_whitespace = PADS_WITH_ZERO.replace("    return out\n", "    return out" + " \t" * 60 + "\n")
    assert changed_lines(PADS_WITH_ZERO, in_whitespace) == 2 * 2


def test_line_endings_do_not_count_and_a_file_that_does_not_tokenize_counts_every_line() -> None:
    assert changed_lines(PADS_WITH_ZERO, PADS_WITH_ZERO.replace("\n", "\r\n")) == 0
    unterminated = PADS_WITH_ZERO + "x = '''\n# one\n# two\n"
    assert changed_lines(PADS_WITH_ZERO, unterminated) == 3


def test_a_rewrite_run_from_one_appended_line_is_not_a_fix(tmp_path: Path) -> None:
    report = grade(
        TOY,
        solution_at(tmp_path, EXEC_REWRITE),
        device="cpu",
        only={"tests", "diff"},
        variant="pads_with_zero",
    )
    diff = report.checks["diff"]
    assert report.checks["tests"].status == "pass" and diff.status == "fail", diff.reason
    assert "a line counts once per 100 characters" in diff.reason
    assert "over the budget of 4: a rewrite is not a fix" in diff.reason


def solution_at(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "solution.py"
    path.write_text(source)
    return path


def test_a_fix_of_the_planted_line_scores_full_marks(tmp_path: Path) -> None:
    planted = planted_source(TOY, mutant_named(TOY, "pads_with_zero"))
    fixed = planted.replace("[0] * (width", "[pad] * (width")
    # "auto": nothing is measured, so the report names where the hidden tests ran
    report = grade(TOY, solution_at(tmp_path, fixed), device="auto", variant="pads_with_zero")
    assert report.passed and report.score == pytest.approx(100.0)
    assert report.device == "cpu"
    assert report.checks["diff"].details == {
        "changed_lines": 1,
        "budget_lines": 4,
        "against_given": True,
    }
    assert report.to_json()["variant"] == "pads_with_zero"


def test_a_rewrite_that_passes_every_test_is_not_a_fix(tmp_path: Path) -> None:
    report = grade(TOY, solution_at(tmp_path, REWRITE), device="cpu", variant="pads_with_zero")
    diff = report.checks["diff"]
    assert report.checks["tests"].status == "pass" and diff.status == "fail"
    assert not report.passed and report.score == pytest.approx(70.0)
    assert diff.details["changed_lines"] > 4
    assert "over the budget of 4: a rewrite is not a fix" in diff.reason


def test_without_a_session_the_fix_is_measured_against_the_nearest_planted_file(
    tmp_path: Path,
) -> None:
    report = grade(TOY, TOY.model_answer, device="cpu")
    assert report.passed and report.variant is None
    assert report.checks["diff"].details["against_given"] is False
    assert report.checks["diff"].details["changed_lines"] == 1


def test_an_untouched_file_earns_nothing_for_the_size_of_its_fix(tmp_path: Path) -> None:
    planted = planted_source(TOY, mutant_named(TOY, "pads_on_the_right"))
    report = grade(TOY, solution_at(tmp_path, planted), device="cpu", variant="pads_on_the_right")
    assert report.checks["diff"].status == "skip" and report.checks["diff"].score == 0
    assert not report.passed


def test_the_hint_ladder_is_the_planted_bugs_own(hunts_dir: Path, tmp_path: Path) -> None:
    ws = start(tmp_path / "ws", bug="window_one_too_long")
    assert actions.hints_of(TOY, variant(ws)) == list(
        mutant_named(TOY, "window_one_too_long").hints
    )
    taken = actions.take_hint(ws.root)
    assert taken.text.startswith("The first sums are right") and taken.total == 2


def test_the_review_shows_the_planted_bug_beside_the_diagnosis(
    hunts_dir: Path, tmp_path: Path
) -> None:
    ws = start(tmp_path / "ws", bug="pads_on_the_right")
    (ws.root / hunt.DIAGNOSIS).write_text("# ignored\nrows were padded on the wrong side\n")
    r = review(ws, TOY, give_up=True)
    assert r.bug is not None and r.bug.name == "pads_on_the_right"
    assert r.diagnosis == "rows were padded on the wrong side"
    assert "+        out.append(list(row) + filler)" in r.bug.patch
    assert "-        out.append(filler + list(row))" in r.bug.patch


def test_the_interviewer_gets_the_bug_its_report_and_the_nudges() -> None:
    script = load_script(TOY, "pads_with_zero")
    bug = mutant_named(TOY, "pads_with_zero")
    assert script.bug is not None and script.bug.symptom == bug.symptom
    assert script.hints == bug.hints
    assert script.nudges == load_script(TOY).hints  # the script's own hints, said for free


def test_each_planted_bug_shows_in_the_visible_tests_it_names() -> None:
    findings = list(check_symptoms(TOY, failing_tests))
    assert [f.ok for f in findings] == [True] * (1 + len(BUGS)), findings


def test_a_bug_whose_named_visible_test_passes_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "bug-hunt-toy"
    shutil.copytree(TOY.folder, folder)
    mutants = folder / "mutants.yaml"
    mutants.write_text(
        mutants.read_text().replace(
            "shows_in: [test_window_of_two]", "shows_in: [test_short_row_is_padded_on_the_left]"
        )
    )
    kata = load_kata_from(folder)
    bad = [f for f in check_symptoms(kata, failing_tests) if not f.ok]
    assert [f.item for f in bad] == ["planted bug window_one_too_long shows"]
    assert "test_short_row_is_padded_on_the_left passed with the bug planted" in bad[0].detail


def test_a_planted_bug_without_its_report_or_over_the_budget_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "bug-hunt-toy"
    shutil.copytree(TOY.folder, folder)
    (folder / "kata.yaml").write_text(
        (folder / "kata.yaml").read_text().replace("max_lines: 4", "max_lines: 1")
    )
    mutants = folder / "mutants.yaml"
    text = mutants.read_text().replace("shows_in: [test_window_of_two]", "shows_in: [test_nope]")
    mutants.write_text(text)
    found = {f.item: f for f in check_planted(load_kata_from(folder))}
    bad = found["planted bug window_one_too_long"]
    assert not bad.ok
    assert "shows_in names test_nope" in bad.detail
    assert "its fix changes 2 lines, over the diff budget" in bad.detail
    assert found["planted bug pads_on_the_right"].ok


def test_bug_hunt_is_for_new_attempts_only(hunts_dir: Path, tmp_path: Path) -> None:
    for resume, again in ((True, False), (False, True)):
        with pytest.raises(BadInput, match="name the family"):
            actions.start(
                "bug-hunt", tmp_path / "ws", None, force=False, resume=resume,
                mode=Mode.PRACTICE, again=again,
            )  # fmt: skip


def test_a_starter_that_is_not_the_first_planted_file_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "bug-hunt-toy"
    shutil.copytree(TOY.folder, folder)
    assert {f.item: f.ok for f in check_planted(load_kata_from(folder))}["starter/solution.py"]
    (folder / "starter" / "solution.py").write_text(TOY.model_answer.read_text())
    found = {f.item: f for f in check_planted(load_kata_from(folder))}["starter/solution.py"]
    assert not found.ok and "python -m grader.mutants" in found.detail
