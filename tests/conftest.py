"""Fixtures shared by the project's tests."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.kata import Kata, load_kata_from

FIXTURE_KATAS = Path(__file__).resolve().parent / "fixtures" / "katas"


@pytest.fixture(autouse=True, scope="session")
def multiprocessing_temp_outside_the_tests() -> None:
    """multiprocessing makes its temporary folder once per process, inside the temporary
    folder of the moment; made first, it is not inside a test's, which goes with the test
    (and its removal at exit would fail)."""
    import multiprocessing.util

    multiprocessing.util.get_temp_dir()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own history store and temporary folder (a grade a test kills
    leaves its private folder there, not in the machine's); no background mypy warm-ups."""
    home = tmp_path / "drill-home"
    monkeypatch.setenv("DRILL_HOME", str(home))
    monkeypatch.setenv("DRILL_NO_WARM", "1")
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    yield home


@pytest.fixture
def toy_kata() -> Kata:
    """A kata without torch: the grader's behaviour, exercised in seconds."""
    return load_kata_from(FIXTURE_KATAS / "top-k-indices")


@pytest.fixture
def toy_katas_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point `drill` at the fixture katas instead of the built-in ones."""
    monkeypatch.setenv("DRILL_KATAS", str(FIXTURE_KATAS))
    return FIXTURE_KATAS
