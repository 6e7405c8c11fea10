"""Checks on the solution's source that need no execution: syntax, names, forbidden imports."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

# Our own packages: a solution that imports them is refused before it runs (its worker
# could not read them anyway; the message is clearer this way).
FORBIDDEN = frozenset({"reference", "grader", "drills", "katas", "model_answer"})


# Decorators that switch mypy off for what they decorate.
UNCHECKED = frozenset({"no_type_check", "no_type_check_decorator"})
# Names whose value mypy decides before it checks: code under `if TYPE_CHECKING:` is
# what mypy sees and never what runs (and `if not TYPE_CHECKING:` the other way round).
STATIC_CONDITIONS = frozenset({"TYPE_CHECKING", "MYPY", "version_info", "platform"})


@dataclass
class SourceFacts:
    syntax_error: str = ""
    defined: set[str] = field(default_factory=set)
    forbidden_imports: list[str] = field(default_factory=list)
    tree: ast.Module | None = None

    def type_evasions(self, entrypoints: tuple[str, ...]) -> list[str]:
        """Ways the source keeps mypy from checking what runs, each as a reason."""
        return _evasions(self.tree, entrypoints) if self.tree is not None else []

    def missing(self, names: tuple[str, ...]) -> list[str]:
        return [n for n in names if n not in self.defined]


def inspect_source(path: Path) -> SourceFacts:
    facts = SourceFacts()
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=path.name)
    except SyntaxError as exc:
        facts.syntax_error = f"{path.name} line {exc.lineno}: {exc.msg}"
        return facts
    except (UnicodeDecodeError, ValueError) as exc:
        facts.syntax_error = f"{path.name} cannot be read as UTF-8 Python source ({exc})"
        return facts
    facts.tree = tree
    for node in _module_level(tree.body):
        facts.defined.update(_defines(node))
    for sub in ast.walk(tree):
        modules: list[str] = []
        if isinstance(sub, ast.Import):
            modules = [a.name for a in sub.names]
        elif isinstance(sub, ast.ImportFrom) and sub.module and sub.level == 0:
            modules = [sub.module]
        facts.forbidden_imports += [m for m in modules if m.split(".")[0] in FORBIDDEN]
    return facts


def _module_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """The module's statements, and those inside its top-level `if`, `try` and `with`
    blocks (a name defined there is the module's too), not inside functions or classes."""
    out: list[ast.stmt] = []
    for node in body:
        out.append(node)
        if isinstance(node, ast.If | ast.While | ast.For):
            out += _module_level([*node.body, *node.orelse])
        elif isinstance(node, ast.With):
            out += _module_level(node.body)
        elif isinstance(node, ast.Try | ast.TryStar):
            inner = [*node.body, *node.orelse, *node.finalbody]
            inner += [s for h in node.handlers for s in h.body]
            out += _module_level(inner)
    return out


def _names(node: ast.AST) -> set[str]:
    """Every name and attribute name mentioned in `node`."""
    found: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.add(sub.attr)
    return found


def _defines(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {t.id for target in targets for t in ast.walk(target) if isinstance(t, ast.Name)}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return set()


def _evasions(tree: ast.Module, entrypoints: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    aliases = {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name in UNCHECKED | STATIC_CONDITIONS and alias.asname
    }
    unchecked, static = UNCHECKED | aliases, STATIC_CONDITIONS | aliases
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for deco in node.decorator_list:
                if _names(deco) & unchecked:
                    found.append(
                        f"line {deco.lineno}: @{ast.unparse(deco)} switches mypy off for {node.name}"
                    )
        elif isinstance(node, ast.If) and (
            _names(node.test) & static or isinstance(node.test, ast.Constant)
        ):
            branches = [*node.body, *node.orelse]
            hidden = sorted(
                {name for stmt in branches for sub in ast.walk(stmt) if isinstance(sub, ast.stmt)
                 for name in _defines(sub)} & set(entrypoints)
            )  # fmt: skip
            if hidden:
                found.append(
                    f"line {node.lineno}: {', '.join(hidden)} defined under "
                    f"`if {ast.unparse(node.test)}:`, which mypy decides before it checks: "
                    "what mypy checks there is not what runs"
                )
        elif isinstance(node, ast.Call) and _names(node.func) & unchecked:
            found.append(f"line {node.lineno}: {ast.unparse(node.func)}() switches mypy off")
    return found
