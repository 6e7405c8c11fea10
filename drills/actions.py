"""What the commands do, below the CLI: each function takes plain values and returns data.

Errors a user can cause are `DrillError`s with one clear line; nothing here prints.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drills import workspace
from drills.duration import parse_duration
from drills.history import History
from drills.hooks import SessionHooks, hooks_for
from drills.visible import VisibleResult, VisibleRunner, run_visible
from drills.workspace import Hint, Mode, Session, Started, Workspace, find_workspace, now
from grader.errors import BadInput
from grader.kata import Kata, load_kata, read_yaml
from grader.mutants import load_mutants
from grader.report import Report

if TYPE_CHECKING:
    from drills.batch import BatchResult
    from drills.estimate.session import TopicStats as EstimateStats
    from drills.plan import Plan
    from drills.review import Review
    from drills.schedule import Recommendation
    from drills.stats import KataStats, TopicStats
    from grader.bench import BenchRun
    from grader.sandbox import ZygoteProcess
    from grader.validate import Finding

BENCH = Path(".drill") / "bench"  # `drill bench` runs, kept across attempts


def start(
    kata_id: str,
    directory: Path | None,
    timed: str | None,
    *,
    force: bool,
    resume: bool,
    mode: Mode,
    again: bool = False,
    bug: str | None = None,
) -> Started:
    """A new (or resumed) workspace. A bug hunt's new attempt draws a planted bug this
    candidate has not been given (or `bug`, by name) and the history records the draw;
    `bug-hunt` stands for the family with the most bugs left to see."""
    from drills import hunt

    store = History()  # opened only by a bug hunt
    if kata_id == hunt.ALIAS and (resume or again):
        raise BadInput(
            f"`{hunt.ALIAS}` picks a family for a new attempt: name the family "
            "(e.g. bug-hunt-moe) to resume or redo one"
        )
    if kata_id != hunt.ALIAS:
        kata = load_kata(kata_id)
    else:
        kata = _pick_hunt(store) if bug is None else _hunt_with(bug)
    if bug is not None and not kata.is_bug_hunt:
        raise BadInput(f"--bug: {kata.id} is not a bug hunt")
    if bug is not None and resume:
        raise BadInput("--bug and --resume contradict each other: a resumed hunt keeps its bug")
    planted, drawn = None, []
    if kata.is_bug_hunt and not resume:
        bugs, drawn = load_mutants(kata), store.draws(kata.id)
        planted = (
            hunt.named(bugs, bug, kata)
            if bug is not None
            else hunt.draw(bugs, drawn, random.Random())
        )
    limit_s = parse_duration(timed) if timed else kata.minutes * 60
    target = directory if directory is not None else _default_target(kata, again)
    started = workspace.start(
        kata, target, limit_s, force=force, resume=resume, again=again, mode=mode, bug=planted
    )
    if planted is not None:
        if planted.name in drawn:
            started.repeat = (
                "You named a bug you have been given before."
                if bug is not None
                else "You have been given every bug of this file: this is the one seen longest ago."
            )
        session = started.session
        store.record_draw(kata.id, planted.name, session.attempt, session.started_at)
    if not started.resumed and not os.environ.get("DRILL_NO_WARM"):
        from grader.warm import spawn

        spawn(kata.id)
    return started


def _pick_hunt(store: History) -> Kata:
    """The bug hunt with the most planted bugs this candidate has not been given."""
    from drills import hunt

    families = []
    for kata in hunt.families():
        drawn = store.draws(kata.id)
        unseen = sum(1 for b in load_mutants(kata) if b.name not in drawn)
        families.append((kata, unseen, len(drawn)))
    return hunt.pick_family(families)


def _hunt_with(bug: str) -> Kata:
    """`drill start bug-hunt --bug NAME`: the family whose catalogue has NAME."""
    from drills import hunt
    from grader.paths import katas_dir

    hunts = hunt.families()
    having = [k for k in hunts if any(b.name == bug for b in load_mutants(k))]
    if len(having) == 1:
        return having[0]
    if having:
        names = ", ".join(k.id for k in having)
        raise BadInput(f"--bug: {names} each have a planted bug named '{bug}': name the family")
    raise BadInput(
        f"--bug: no bug hunt has a planted bug named '{bug}'; the names are in each "
        f"family's mutants.yaml ({katas_dir()}/bug-hunt-*/mutants.yaml)"
    )


def _default_target(kata: Kata, again: bool) -> Path:
    """./KATA; for `--again`, the workspace we stand in when it is one of this kata."""
    if again:
        try:
            here = find_workspace(Path.cwd())
            if here.load().kata == kata.id:
                return here.root
        except BadInput:
            pass
    return Path(kata.id)


def _open(directory: Path) -> tuple[Workspace, Session, SessionHooks]:
    """The workspace at `directory` (or the nearest parent), its session, and the hooks
    of the session's mode."""
    ws = find_workspace(directory)
    session = ws.load()
    return ws, session, hooks_for(ws, session)


def status(directory: Path) -> tuple[Workspace, Session, Kata]:
    ws, session, hooks = _open(directory)
    session = hooks.refresh(session)
    hooks.on_status(session)
    return ws, session, load_kata(session.kata)


def run_tests(
    directory: Path, runner: VisibleRunner | None = None, profile: bool = False
) -> VisibleResult:
    """The visible tests: in `runner`'s warm zygote (`drill watch`), else in one of their
    own, their output on this terminal (`drill test`, under cProfile with `profile`)."""
    ws, session, hooks = _open(directory)
    result = run_visible(ws.root, profile) if runner is None else runner.run()
    last_test = {
        "at": now().isoformat(timespec="seconds"),
        "elapsed_s": round(session.elapsed_s(), 1),
        "passed": result.passed,
        "failed": result.failed,
        "ok": result.ok,
    }

    def record(s: Session) -> bool:
        s.last_test = last_test
        return True

    # Re-read under the lock: a hint may have been taken, or revealed by an interviewer,
    # while the tests ran.
    session = ws.update(record)
    hooks.on_test(session, result)
    return result


def new_hints(directory: Path) -> list[tuple[int, str]]:
    """Hints revealed to the candidate since they last looked: by a mock interview's
    interviewer; in practice, none."""
    _, session, hooks = _open(directory)
    return hooks.new_hints(session)


@dataclass(frozen=True)
class HintTaken:
    text: str
    number: int  # 1-based
    total: int
    cost: float
    session: Session


def hints_of(kata: Kata, variant: str | None = None) -> list[str]:
    """The hint ladder: the interview script's, or a bug hunt's own planted bug's (read
    here, not through the mock interview's script: practice never loads the mock)."""
    if kata.is_bug_hunt and variant is not None:
        from grader.mutants import mutant_named

        return list(mutant_named(kata, variant).hints)
    data: Any = read_yaml(kata.interview_path)
    hints = data.get("hints", []) if isinstance(data, dict) else []
    return [str(h) for h in hints]


def next_hint(directory: Path) -> tuple[int, int, float]:
    """(the next hint's number, how many there are, what it costs), taking nothing."""
    _, session, hooks = _open(directory)
    kata = load_kata(session.kata)
    hooks.check_hint()
    hints = hints_of(kata, session.variant)
    _refuse_when_none_left(len(session.hints), len(hints))
    return len(session.hints) + 1, len(hints), kata.hint_cost


def _refuse_when_none_left(taken: int, total: int) -> None:
    if taken >= total:
        raise BadInput(f"no hints left: all {total} have been revealed (`drill status` lists them)")


def take_hint(directory: Path) -> HintTaken:
    next_hint(directory)  # the same refusals, before anything is recorded
    ws = find_workspace(directory)
    # Under the session's lock: a grade saving its result at this moment keeps it, and
    # two hints taken at once are two hints.
    with ws.lock():
        session = ws.load()
        kata = load_kata(session.kata)
        hints = hints_of(kata, session.variant)
        index = len(session.hints)
        _refuse_when_none_left(index, len(hints))
        at, elapsed = now().isoformat(timespec="seconds"), round(session.elapsed_s(), 1)
        session.hints.append(Hint(index=index, at=at, elapsed_s=elapsed))
        ws.save(session)
    return HintTaken(hints[index], index + 1, len(hints), kata.hint_cost, session)


@dataclass(frozen=True)
class GradeOutcome:
    report: Report
    workspace: Workspace
    history_moved_aside: Path | None
    not_kept: str = ""  # why the history store could not keep this grade, if it could not


def gate(report: Report | None, min_score: float | None) -> bool:
    """Passed, and at least `min_score` when one is given (`--min-score`)."""
    if report is None:
        return False
    return report.passed and (min_score is None or report.score >= min_score)


def _bare_folder(directory: Path) -> Workspace:
    """A folder graded with --kata: it needs a solution.py, not a session."""
    root = directory.resolve()
    if not (root / "solution.py").is_file():
        raise BadInput(f"{root} has no solution.py to grade")
    return Workspace(root)


def grade(
    directory: Path,
    *,
    device: str,
    only: set[str] | None,
    kata_id: str | None = None,
    strict_time: bool = False,
    zygote: ZygoteProcess | None = None,
) -> GradeOutcome:
    """The full grade (or `only` some checks). `zygote`: a running one to fork the
    grade's workers from (`drill watch`'s, with torch loaded), rather than a new one."""
    from grader.pipeline import grade as run_grade

    if kata_id is not None:
        kata = load_kata(kata_id)
        ws = _bare_folder(directory)
        report = run_grade(kata, ws.solution, device=device, only=only)
        return GradeOutcome(report, ws, None)
    ws, session, hooks = _open(directory)
    store = History()
    store.open()  # a store this release cannot write is said now, not after the grade
    session = hooks.before_grade(session)
    kata = load_kata(session.kata)
    graded_at = now()
    report = run_grade(
        kata,
        ws.solution,
        device=device,
        only=only,
        elapsed_s=session.elapsed_s(graded_at),
        limit_s=session.limit_s,
        hints_taken=len(session.hints),
        strict_time=strict_time,
        zygote=zygote,
        variant=session.variant,
    )
    if report.partial:  # not a grade of the kata: neither history nor the session keep it
        hooks.on_grade(session, report, only)
        return GradeOutcome(report, ws, None)
    not_kept = ""
    try:
        store.record(session.attempt, ws.root, report)
    except sqlite3.Error as exc:  # the grade took minutes: show it, say it was not kept
        not_kept = f"{type(exc).__name__}: {exc}"
    last_grade = {
        "at": report.graded_at,
        "score": round(report.score, 1),
        "passed": report.passed,
        "checks": {name: c.status for name, c in report.checks.items()},
    }

    def record(s: Session) -> bool:
        s.last_grade = last_grade
        return True

    # Re-read under the lock: another process may have added a hint meanwhile.
    session = ws.update(record)
    hooks.on_grade(session, report, only)
    return GradeOutcome(report, ws, store.moved_aside, not_kept)


def grade_batch(
    root: Path,
    *,
    workers: int,
    device: str,
    only: set[str] | None,
    on_result: Callable[[BatchResult], None],
    kata: str | None = None,
    strict_time: bool = False,
) -> list[BatchResult]:
    from drills.batch import grade_batch as run_batch

    return run_batch(
        root,
        workers=workers,
        device=device,
        only=only,
        on_result=on_result,
        kata=kata,
        strict_time=strict_time,
    )


def validate(
    kata_id: str | None, *, every: bool, quick: bool, on_finding: Callable[[Finding], None]
) -> list[Finding]:
    from drills import hunt
    from drills.visible import failing_tests
    from grader.kata import kata_ids
    from grader.paths import katas_dir
    from grader.validate import validate as run_validate

    if every == (kata_id is not None):
        raise BadInput("give one kata id or --all")
    if every:
        ids = kata_ids()
    elif kata_id == hunt.ALIAS:
        ids = [k.id for k in hunt.families()]
    else:  # an unknown id is bad input, with the closest one named
        ids = [load_kata(str(kata_id)).id]
    findings = []
    for kid in ids:
        findings += run_validate(
            katas_dir() / kid, grades=not quick, on_finding=on_finding, visible=failing_tests
        )
    return findings


@dataclass(frozen=True)
class NextUp:
    katas: list[Recommendation]  # every kata, in the order to practise them
    estimate: tuple[str, str]  # the estimation topic to drill next, and why
    moved_aside: Path | None  # where an unreadable history store went, if it did


def next_up() -> NextUp:
    """What to practise now (drills/schedule.py): the katas in order, and a topic of
    `drill estimate`."""
    from drills.estimate.names import TOPIC_NAMES
    from drills.estimate.session import topic_stats as estimate_stats
    from drills.schedule import attempts_from, estimation_topic, recommend, utcnow
    from grader.kata import all_katas

    store = History()
    katas = recommend(all_katas(), attempts_from(store.export()), utcnow())
    practised = {t.topic: (t.answered, t.recent) for t in estimate_stats(store.estimates())}
    return NextUp(katas, estimation_topic(list(TOPIC_NAMES), practised), store.moved_aside)


@dataclass(frozen=True)
class Progress:
    katas: list[KataStats]
    topics: list[TopicStats]
    estimates: list[EstimateStats]  # per topic of `drill estimate`
    moved_aside: Path | None


def stats() -> Progress:
    """Progress per kata, per topic and per estimation topic, from the history."""
    from drills.estimate.session import topic_stats as estimate_stats
    from drills.schedule import attempts_from
    from drills.stats import kata_stats, topic_stats
    from grader.kata import all_katas

    store = History()
    per_kata = kata_stats(all_katas(), attempts_from(store.export()))
    estimates = estimate_stats(store.estimates())
    return Progress(per_kata, topic_stats(per_kata), estimates, store.moved_aside)


def review(directory: Path, *, give_up: bool) -> Review:
    from drills.review import review as build

    ws, session, _ = _open(directory)
    return build(ws, load_kata(session.kata), give_up=give_up)


@dataclass(frozen=True)
class PlanView:
    plan: Plan
    done: set[int]  # indexes into plan.items
    today: int  # the plan's day number today (may be past its end)
    replaced: bool  # a new plan replaced an older one
    fits_at: int | None = None  # minutes a day at which every first try and mock fits


def plan(days: int | None, minutes_per_day: int) -> PlanView | None:
    """With `days`, lay out a new plan from today; else the saved plan, if any. Each
    with its items ticked from the history."""
    from drills import plan as plans
    from drills.estimate.names import TOPIC_NAMES
    from drills.schedule import attempts_from
    from grader.kata import all_katas

    replaced = False
    if days is not None:
        replaced = plans.load() is not None
        current = plans.make_plan(
            all_katas(), plans.today(), days, minutes_per_day, tuple(TOPIC_NAMES)
        )
        plans.save(current)
    else:
        loaded = plans.load()
        if loaded is None:
            return None
        current = loaded
    store = History()
    done = plans.ticked(current, attempts_from(store.export()), estimation_drills(store))
    fits_at = None
    if any(i.kind in ("learn", "mock") for i in current.left_out):  # else nothing to suggest
        fits_at = plans.minutes_to_fit(
            all_katas(), current.start, current.days, current.minutes_per_day, tuple(TOPIC_NAMES)
        )
    return PlanView(current, done, current.day_of(plans.today()), replaced, fits_at)


def estimation_drills(store: History) -> list[tuple[datetime, frozenset[str]]]:
    """Each `drill estimate` session: when it began, and the topics it asked."""
    sessions: dict[str, tuple[datetime, set[str]]] = {}
    for row in reversed(store.estimates()):  # oldest first
        at = datetime.fromisoformat(row.answered_at)
        sessions.setdefault(row.session, (at, set()))[1].add(row.topic)
    return [(at, frozenset(topics)) for at, topics in sessions.values()]


@dataclass(frozen=True)
class Benched:
    attempt: str
    run: BenchRun
    saved: Path  # the run, with pytest-benchmark's own JSON, in the workspace
    earlier: list[tuple[str, BenchRun]]  # (attempt, run) of every earlier run, oldest first


def bench(directory: Path, *, device: str) -> Benched:
    """Time the workspace's solution against the reference on the kata's speed case;
    keep the run in .drill/bench/, beside the earlier ones."""
    from grader.bench import bench as run_bench

    ws, session, _ = _open(directory)
    earlier = bench_runs(ws)
    run, raw = run_bench(load_kata(session.kata), ws.solution, device)
    saved = ws.root / BENCH / f"{_next_run_number(ws.root / BENCH):03d}-{session.attempt}.json"
    saved.parent.mkdir(parents=True, exist_ok=True)
    body = {"attempt": session.attempt, "run": run.to_json(), "pytest_benchmark": raw}
    workspace.write_atomic(saved, json.dumps(body, indent=2) + "\n")
    return Benched(session.attempt, run, saved, earlier)


def _next_run_number(folder: Path) -> int:
    """One past the highest run kept, readable or not: a new run never replaces one."""
    numbers = [int(p.name[:3]) for p in folder.glob("[0-9][0-9][0-9]-*.json")]
    return max(numbers, default=0) + 1


def bench_runs(ws: Workspace) -> list[tuple[str, BenchRun]]:
    """The runs kept in the workspace, oldest first, across its attempts."""
    from grader.bench import BenchRun

    runs = []
    for path in sorted((ws.root / BENCH).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            runs.append((str(data["attempt"]), BenchRun.from_json(data["run"])))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a damaged file is skipped, not a reason to lose the others
    return runs
