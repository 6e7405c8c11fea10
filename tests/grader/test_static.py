"""The types check refuses code that mypy is kept from reading: what runs after a
module-level `assert` mypy decides is false, entrypoints that are not a def or class,
code run from text, names written into the module's namespace behind mypy's back.

The verdicts go through the real types check on the torch-free kata; the finer points
(what counts, what does not) through the source facts alone, without running mypy.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

from grader.kata import Kata
from grader.pipeline import grade
from grader.stages.static import inspect_source
from grader.stages.types import CONFIG, mypy_cache_dir

# The toy kata's answer, correct and untyped: mypy --strict would report it anywhere.
UNTYPED = """
def top_k_indices(xs, k):
    return sorted(range(len(xs)), key=lambda i: (-xs[i], i))[: max(k, 0)]
"""
TYPED = """
def top_k_indices(xs: list[float], k: int) -> list[int]:
    return sorted(range(len(xs)), key=lambda i: (-xs[i], i))[: max(k, 0)]
"""


def evasions(
    tmp_path: Path, source: str, entrypoints: tuple[str, ...] = ("top_k_indices",)
) -> list[str]:
    path = tmp_path / "solution.py"
    path.write_text(source)
    return inspect_source(path).type_evasions(entrypoints)


EVASIONS = {
    "assert_not_type_checking": (
        "from typing import TYPE_CHECKING\nassert not TYPE_CHECKING\n" + UNTYPED,
        "line 2: code after `assert not TYPE_CHECKING` is unreachable to mypy",
    ),
    "assert_not_typing_type_checking": (
        "import typing\nassert not typing.TYPE_CHECKING, 'runs'\n" + UNTYPED,
        "line 2: code after `assert not typing.TYPE_CHECKING` is unreachable to mypy",
    ),
    "entrypoint_built_by_exec": (
        "_ns: dict[str, object] = {}\n"
        f"exec({UNTYPED!r}, _ns)\n"
        "top_k_indices = _ns['top_k_indices']\n",
        "line 3: top_k_indices is bound by an assignment, not by a def or class",
    ),
    "typed_def_replaced_through_globals": (
        TYPED + "globals()['top_k_indices'] = lambda xs, k: []\n",
        "`globals` can define names or run code that mypy never checks",
    ),
    "typed_def_replaced_through_sys_modules": (
        "import sys\n" + TYPED + "setattr(sys.modules[__name__], 'top_k_indices', print)\n",
        "`sys.modules` can define names or run code that mypy never checks",
    ),
    "helper_behind_a_typed_stub": (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    def _order(xs: list[float]) -> list[int]: ...\n"
        "else:\n"
        "    def _order(xs):\n"
        "        return sorted(range(len(xs)), key=lambda i: -xs[i])\n"
        "def top_k_indices(xs: list[float], k: int) -> list[int]:\n"
        "    return _order(xs)[: max(k, 0)]\n",
        "code in the branch of `if TYPE_CHECKING:` that runs is never read by mypy",
    ),
    "statements_behind_type_checking_in_a_function": (
        "from typing import TYPE_CHECKING\n"
        "def top_k_indices(xs: list[float], k: int) -> list[int]:\n"
        "    if TYPE_CHECKING:\n"
        "        order: list[int] = []\n"
        "    else:\n"
        "        untyped: int = 'not an int'\n"
        "        order = sorted(range(len(xs)), key=lambda i: -xs[i])\n"
        "    return order[: max(k, 0)]\n",
        "line 6: code in the branch of `if TYPE_CHECKING:` that runs is never read by mypy",
    ),
}


@pytest.mark.parametrize("name", sorted(EVASIONS))
def test_each_way_around_mypy_fails_the_types_check_with_its_reason(
    name: str, toy_kata: Kata, tmp_path: Path
) -> None:
    source, reason = EVASIONS[name]
    path = tmp_path / "solution.py"
    path.write_text(source)
    types = grade(toy_kata, path, device="cpu", only={"types"}).checks["types"]
    assert types.status == "fail" and types.score == 0, types.reason
    assert types.reason.startswith("mypy cannot vouch for this code: ")
    assert reason in types.reason


def test_an_assert_false_guard_is_reported_by_mypy_itself(toy_kata: Kata, tmp_path: Path) -> None:
    # mypy's checker (warn_unreachable) reports what follows `assert False` or a
    # `raise` under `if TYPE_CHECKING:`; only its pre-pass truncation is silent.
    path = tmp_path / "solution.py"
    path.write_text("assert False\n" + UNTYPED)
    types = grade(toy_kata, path, device="cpu", only={"types"}).checks["types"]
    assert types.status == "fail" and "Statement is unreachable" in types.reason


def test_an_honest_typed_answer_with_type_checking_imports_passes(
    toy_kata: Kata, tmp_path: Path
) -> None:
    path = tmp_path / "solution.py"
    path.write_text(
        "from __future__ import annotations\n"
        "import sys\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from collections.abc import Sequence\n"
        "assert sys.version_info >= (3, 11)\n"
        "def top_k_indices(xs: Sequence[float], k: int) -> list[int]:\n"
        "    return sorted(range(len(xs)), key=lambda i: (-xs[i], i))[: max(k, 0)]\n"
    )
    types = grade(toy_kata, path, device="cpu", only={"types"}).checks["types"]
    assert types.status == "pass", types.reason


@pytest.mark.parametrize(
    "source",
    [
        "import re\nPATTERN = re.compile('a+')\n",  # an attribute named compile
        "import torch\nfast = torch.compile(lambda x: x)\n",
        "def names(obj: object) -> list[str]:\n    return list(vars(obj))\n",  # reads an object
        "class Model:\n    def eval(self) -> None: ...\nModel().eval()\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\nelse:\n    pass\n",
        "import sys\nif sys.platform == 'win32':\n    SEP = '\\\\'\n",
        # names of builtins bound by the code that reads them
        "def scale(x: float, compile: bool = False) -> float:\n    return x if compile else -x\n",
        "def spread(xs: list[float]) -> float:\n    vars = [x * x for x in xs]\n    return max(vars)\n",
        "def pick(eval: int) -> int:\n    return sorted([eval for eval in range(eval)])[0]\n",
        "from torch import compile\nfast = compile(lambda x: x)\n",
        "from torch import compile\ndef build() -> object:\n    return compile(lambda x: x)\n",
    ],
)
def test_ordinary_code_around_a_typed_entrypoint_hides_nothing(tmp_path: Path, source: str) -> None:
    assert evasions(tmp_path, source + TYPED) == []


def test_an_assert_with_nothing_after_it_hides_nothing(tmp_path: Path) -> None:
    source = TYPED + "from typing import TYPE_CHECKING\nassert not TYPE_CHECKING\n"
    assert evasions(tmp_path, source) == []


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("from typing import Any\ntop_k_indices: Any = None", "bound by an assignment"),
        ("from heapq import nsmallest as top_k_indices", "bound by an import"),
        ("for top_k_indices in [print]: pass", "bound by a for loop"),
        ("print(top_k_indices := len)", "bound by an assignment expression"),
        ("def patch() -> None:\n    global top_k_indices", "bound by a `global` statement"),
        ("del top_k_indices", "bound by a del statement"),
    ],
)
def test_a_typed_def_rebound_by_anything_else_is_not_what_mypy_checked(
    tmp_path: Path, line: str, reason: str
) -> None:
    found = evasions(tmp_path, TYPED + line + "\n")
    assert [e for e in found if reason in e and "not by a def or class" in e], found


def test_an_entrypoint_missing_beside_the_others_cannot_be_checked(tmp_path: Path) -> None:
    found = evasions(tmp_path, TYPED, ("top_k_indices", "other"))
    assert found == ["other is not defined by a def or class at module level: mypy cannot check it"]


@pytest.mark.parametrize(
    "line",
    [
        "exec('x = 1')",
        "y = eval('1')",
        "code = compile('x = 1', 'f', 'exec')",
        "vars()['top_k_indices'] = print",
        "import builtins",
        "from importlib import import_module",
        "from sys import modules",
        "import solution",
        "top_k_indices.__code__ = (lambda xs, k: []).__code__",
        "def __getattr__(name: str) -> object:\n    return print",
        "import torch\ntorch.__builtins__['exec']('x = 1')",
        "from torch import __builtins__",
        # a name of a builtin that can still reach the builtin where it is read
        "def patch() -> None:\n    global vars\n    vars()['top_k_indices'] = print",
        "def rows() -> list[object]:\n    return [vars for vars in vars()]",
        "def grab() -> object:\n    return vars()\nvars = grab()",
        "vars = 1\ndel vars\nvars()['top_k_indices'] = print",
        "vars = 1\ntry:\n    pass\nexcept ValueError as vars:\n    pass\nvars()['x'] = 1",
        "if len('a') > 1:\n    vars = 1\nvars()['top_k_indices'] = print",
    ],
)
def test_code_run_from_text_or_names_written_by_name_are_refused(tmp_path: Path, line: str) -> None:
    found = evasions(tmp_path, TYPED + line + "\n")
    assert any("can define names or run code that mypy never checks" in e for e in found), found


# Conditions of a module-level `assert`: mypy's own pre-pass decides some before it
# checks, and drops what follows without a word when it decides them false.
CONDITIONS = [
    "not TYPE_CHECKING",
    "not typing.TYPE_CHECKING",
    "TYPE_CHECKING",
    "not TC",  # an alias: mypy goes by the name, so it checks on
    "TYPE_CHECKING is False",
    "not MYPY",
    "PY2",
    "not PY3",
    "sys.version_info < (3, 0) or not TYPE_CHECKING",
    "sys.version_info >= (3, 11) or not TYPE_CHECKING",
    "(3, 11) <= sys.version_info and not TYPE_CHECKING",
    "sys.version_info >= (3, 11)",
    "sys.version_info[0] == 2",
    "sys.version_info[:2] != sys.version_info[:2]",
    "sys.platform == 'win32'",
    "sys.platform.startswith('linux')",
    "sys.platform not in ('linux', 'darwin')",
    "x > 0",
]


def test_the_asserts_refused_are_those_after_which_mypy_is_silent(tmp_path: Path) -> None:
    header = (
        "import sys\nimport typing\nfrom typing import TYPE_CHECKING\n"
        "from typing import TYPE_CHECKING as TC\nMYPY = PY2 = PY3 = False\nx = 1\n"
    )
    files = []
    for i, condition in enumerate(CONDITIONS):
        files.append(tmp_path / f"probe_{i}.py")
        files[-1].write_text(f'{header}assert {condition}\nbad: int = "not an int"\n')
    stdout, _, _ = api.run(
        [*map(str, files), "--config-file", str(CONFIG), "--cache-dir", str(mypy_cache_dir())]
    )
    for path, condition in zip(files, CONDITIONS, strict=True):
        mypy_silent = f"{path.name}:8:" not in stdout
        refused = bool(inspect_source(path).type_evasions(()))
        assert refused == mypy_silent, (condition, mypy_silent)
