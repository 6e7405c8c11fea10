"""Checks on the solution's source that need no execution: syntax, names, forbidden imports."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

# Our own packages: a solution that imports them is refused before it runs (its worker
# could not read them anyway; the message is clearer this way).
FORBIDDEN = frozenset({"reference", "grader", "drills", "katas", "model_answer"})


@dataclass
class SourceFacts:
    syntax_error: str = ""
    defined: set[str] = field(default_factory=set)
    forbidden_imports: list[str] = field(default_factory=list)

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
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            facts.defined.add(node.name)
        elif isinstance(node, ast.Assign):
            facts.defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            facts.defined.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            facts.defined.update((a.asname or a.name).split(".")[0] for a in node.names)
    for sub in ast.walk(tree):
        modules: list[str] = []
        if isinstance(sub, ast.Import):
            modules = [a.name for a in sub.names]
        elif isinstance(sub, ast.ImportFrom) and sub.module and sub.level == 0:
            modules = [sub.module]
        facts.forbidden_imports += [m for m in modules if m.split(".")[0] in FORBIDDEN]
    return facts
