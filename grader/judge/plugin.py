"""Our pytest plugin, loaded in the judge's tests process: it reports each test to the parent.

Records: `collected` (the ids pytest found), `collect_error`, `start` (so the parent
knows which test was running if the child dies), `result` (per test), `finish`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from typing import Any

import pytest
from pytest_timeout import PYTEST_FAILURE_MESSAGE

from grader.judge.channel import Channel

_channel: Channel | None = None
_skip: frozenset[str] = frozenset()
_before_tests: Callable[[], None] = lambda: None  # noqa: E731
# The solution's worker CPU clock (`Session.cpu_mark`), and its reading when the running
# test started: a test that times out says how much of its time the solution ran.
_cpu_mark: Callable[[], tuple[int, float, float] | None] = lambda: None  # noqa: E731
_started_at: tuple[int, float, float] | None = None


def install(
    channel: Channel,
    skip: list[str] | None = None,
    before_tests: Callable[[], None] | None = None,
    cpu_mark: Callable[[], tuple[int, float, float] | None] | None = None,
) -> None:
    """Report over `channel`; leave out `skip` (tests a previous, stopped run already
    settled); call `before_tests` once the suite is collected (start the worker)."""
    global _channel, _skip, _before_tests, _cpu_mark
    _channel = channel
    _skip = frozenset(skip or ())
    if before_tests is not None:
        _before_tests = before_tests
    if cpu_mark is not None:
        _cpu_mark = cpu_mark


def _send(record: dict[str, Any]) -> None:
    if _channel is not None:
        _channel.send(record)


def _message(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    if isinstance(longrepr, tuple):  # skips: (path, line, reason)
        return str(longrepr[2])
    return str(longrepr or "")[-2000:]


RAISED_AT = re.compile(r"raised at solution\.py line (\d+)")
# pytest-timeout's own failure, as pytest reports it: the type `Failed` is pytest's, and
# the solution's exceptions reach the judge only as RemoteError, so no message the
# solution writes can read as a timeout.
TIMED_OUT = re.compile(
    "Failed: " + re.escape(PYTEST_FAILURE_MESSAGE).replace(re.escape("%s"), r"[0-9.]+")
)


def _solution_line(report: pytest.TestReport) -> int | None:
    """Where in solution.py the failure was raised (the worker's note), for CI annotations."""
    found = RAISED_AT.findall(str(report.longrepr or ""))
    return int(found[-1]) if found else None


def pytest_configure(config: pytest.Config) -> None:
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:
        return
    # The same code always gets the same grade: fixed examples, no example database.
    settings.register_profile(
        "drill",
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    settings.load_profile("drill")


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    try:
        return (yield)
    except SystemExit as exc:
        # Since pytest 9.2 a SystemExit while importing a test module ends the whole session.
        # A solution that exits at import must fail that module's tests, not stop the suite.
        message = f"SystemExit({exc.code!r}) raised while importing {collector.name}: solution.py exits at import"
        return pytest.CollectReport(collector.nodeid, "failed", message, [])


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _send({"kind": "collect_error", "nodeid": report.nodeid, "message": _message(report)})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _skip:
        return
    keep = [item for item in items if item.nodeid not in _skip]
    dropped = [item for item in items if item.nodeid in _skip]
    items[:] = keep
    config.hook.pytest_deselected(items=dropped)


def pytest_collection_finish(session: pytest.Session) -> None:
    _send({"kind": "collected", "ids": [item.nodeid for item in session.items]})
    if not session.config.option.collectonly:
        _before_tests()


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    global _started_at
    _started_at = _cpu_mark()
    _send({"kind": "start", "nodeid": nodeid})


def _solution_time() -> list[float] | None:
    """[CPU seconds the solution's worker ran, seconds it waited for a CPU] since the
    running test started (None if it was not the same worker throughout)."""
    now = _cpu_mark()
    if now is None or _started_at is None or now[0] != _started_at[0]:
        return None
    return [now[1] - _started_at[1], now[2] - _started_at[2]]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.failed or report.skipped:
        message = _message(report) if not report.passed else ""
        record: dict[str, Any] = {
            "kind": "result",
            "nodeid": report.nodeid,
            "when": report.when,
            "outcome": report.outcome,
            "message": message,
            "line": _solution_line(report) if report.failed else None,
            "duration": report.duration,
        }
        if TIMED_OUT.fullmatch(message):  # with how much of it the solution ran
            record["outcome"] = "timeout"
            record["solution_time"] = _solution_time()
        _send(record)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _send({"kind": "finish", "exitstatus": int(exitstatus)})
