"""Native code: a kata that allows it builds the workspace's native/ C sources inside the
sandbox, and the solution loads the library named by DRILL_NATIVE_LIB; the solution's
own processes still run no program."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from drills.visible import VisibleRunner
from grader import native
from grader.kata import Kata, load_kata_from
from grader.pipeline import grade
from tests.conftest import FIXTURE_KATAS

needs_cc = pytest.mark.skipif(native.toolchain() is None, reason="no C compiler on this machine")

ADD_C = "int add(int a, int b) { return a + b; }\n"
USES_ADD = '''"""Top-k with a C helper loaded through ctypes."""

import ctypes
import os

_lib = ctypes.CDLL(os.environ["DRILL_NATIVE_LIB"])


def top_k_indices(xs: list[float], k: int) -> list[int]:
    if _lib.add(2, 3) != 5:
        return []
    return sorted(range(len(xs)), key=lambda i: (-xs[i], i))[: max(k, 0)]
'''


def kata_with_native(tmp_path: Path, allowed: bool = True) -> Kata:
    folder = tmp_path / "katas" / "top-k-indices"
    shutil.copytree(FIXTURE_KATAS / "top-k-indices", folder)
    if allowed:
        manifest = folder / "kata.yaml"
        manifest.write_text(manifest.read_text() + "native: true\n")
    return load_kata_from(folder)


def workspace(tmp_path: Path, c_source: str, solution: str = USES_ADD) -> Path:
    root = tmp_path / "ws"
    (root / "native").mkdir(parents=True)
    (root / "native" / "add.c").write_text(c_source)
    (root / "solution.py").write_text(solution)
    return root


@needs_cc
def test_the_c_sources_are_built_and_the_solution_loads_them(tmp_path: Path) -> None:
    kata = kata_with_native(tmp_path)
    root = workspace(tmp_path, ADD_C)
    report = grade(kata, root / "solution.py", device="cpu", only={"tests"})
    assert report.checks["tests"].status == "pass", report.checks["tests"].reason


@needs_cc
def test_a_build_error_fails_the_tests_with_the_compilers_first_error(tmp_path: Path) -> None:
    kata = kata_with_native(tmp_path)
    root = workspace(tmp_path, "int add(int a, int b) { return a + ; }\n")
    tests = grade(kata, root / "solution.py", device="cpu", only={"tests"}).checks["tests"]
    assert tests.status == "error"
    assert tests.reason.startswith("native/: the C build failed (cc exited with 1): native/add.c:1")
    assert "expected expression" in tests.reason


def test_without_a_compiler_the_build_says_so(tmp_path: Path) -> None:
    (tmp_path / "add.c").write_text(ADD_C)
    built = native.build([tmp_path / "add.c"], tmp_path, tmp_path, None, {}, programs=[])  # type: ignore[arg-type]
    assert built.library is None
    assert built.error == "native/ holds C sources, but this machine has no C compiler (cc)"


def test_a_kata_without_native_code_ignores_native_sources(tmp_path: Path) -> None:
    kata = kata_with_native(tmp_path, allowed=False)
    root = workspace(tmp_path, ADD_C)
    tests = grade(kata, root / "solution.py", device="cpu", only={"tests"}).checks["tests"]
    assert tests.status != "pass" and "DRILL_NATIVE_LIB" in tests.reason


@needs_cc
def test_the_solution_itself_still_cannot_run_the_compiler(tmp_path: Path) -> None:
    kata = kata_with_native(tmp_path)
    runs_cc = USES_ADD.replace(
        "_lib = ctypes",
        "import subprocess\n\ntry:\n    subprocess.run(['cc', '--version'], check=True)\n"
        "    RAN = True\nexcept OSError:\n    RAN = False\n\n_lib = ctypes",
    ).replace("    if _lib.add(2, 3) != 5:", "    if RAN or _lib.add(2, 3) != 5:")
    root = workspace(tmp_path, ADD_C, runs_cc)
    tests = grade(kata, root / "solution.py", device="cpu", only={"tests"}).checks["tests"]
    assert tests.status == "pass", tests.reason  # every call saw RAN False


@needs_cc
def test_drill_test_builds_once_and_again_only_when_the_sources_change(tmp_path: Path) -> None:
    kata = kata_with_native(tmp_path)
    root = workspace(tmp_path, ADD_C)
    shutil.copyfile(kata.starter_dir / "test_visible.py", root / "test_visible.py")
    with VisibleRunner(root, kata) as runner:
        assert runner.run().ok
        first = runner._native
        assert runner.run().ok and runner._native is first  # unchanged: not rebuilt
        (root / "native" / "add.c").write_text("int add(int a, int b) { return a - b; }\n")
        result = runner.run()
        assert not result.ok and runner._native is not first
        (root / "native" / "add.c").write_text("int add(int a, int b) { return a + ; }\n")
        broken = runner.run()
        assert not broken.ok and broken.first_failure.startswith("native/: the C build failed")


def test_a_source_that_links_elsewhere_is_refused_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN=hunter2\n")
    kata = kata_with_native(tmp_path)
    root = workspace(tmp_path, ADD_C)
    (root / "native" / "leak.c").symlink_to(secret)
    tests = grade(kata, root / "solution.py", device="cpu", only={"tests"}).checks["tests"]
    assert tests.status == "error"
    assert (
        tests.reason
        == "native/: native/leak.c is a symbolic link: drill reads only the file itself"
    )
    assert "hunter2" not in tests.reason


def test_a_solution_that_links_elsewhere_is_refused(tmp_path: Path) -> None:
    from grader.errors import BadInput

    secret = tmp_path / "secret.py"
    secret.write_text("TOKEN = 'hunter2' +\n")
    root = tmp_path / "ws"
    root.mkdir()
    (root / "solution.py").symlink_to(secret)
    kata = kata_with_native(tmp_path, allowed=False)
    with pytest.raises(BadInput, match=r"solution\.py is a symbolic link"):
        grade(kata, root / "solution.py", device="cpu", only={"tests"})


@needs_cc
@pytest.mark.parametrize(
    ("source", "refused"),
    [
        ('#include "{target}"\n', "Permission denied"),
        (
            '__asm__(".section .rodata\\n.incbin \\"{target}\\"\\n.previous");\nint f(void);\n',
            "Error: file not found",  # the assembler's word for a file it may not open
        ),
    ],
    ids=["include", "incbin"],
)
def test_the_compiler_cannot_read_the_kata_folder(
    tmp_path: Path, source: str, refused: str
) -> None:
    kata = kata_with_native(tmp_path)
    target = kata.folder / "hidden" / "test_top_k.py"
    assert target.is_file()
    root = workspace(tmp_path, source.format(target=target))
    tests = grade(kata, root / "solution.py", device="cpu", only={"tests"}).checks["tests"]
    assert tests.status == "error"
    assert tests.reason.startswith("native/: the C build failed (cc exited with 1): ")
    assert refused in tests.reason and str(target) in tests.reason
    assert str(tmp_path / "ws") not in tests.reason and "/build/" not in tests.reason
