"""Checks on the solution's source that need no execution: syntax, names, forbidden imports,
and what keeps mypy from checking the code that runs."""

from __future__ import annotations

import ast
import operator
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Our own packages: a solution that imports them is refused before it runs (its worker
# could not read them anyway; the message is clearer this way).
FORBIDDEN = frozenset({"reference", "grader", "drills", "katas", "model_answer"})


# Decorators that switch mypy off for what they decorate.
UNCHECKED = frozenset({"no_type_check", "no_type_check_decorator"})
# Names whose value mypy decides before it checks: code under `if TYPE_CHECKING:` is
# what mypy sees and never what runs (and `if not TYPE_CHECKING:` the other way round).
STATIC_CONDITIONS = frozenset({"TYPE_CHECKING", "MYPY", "version_info", "platform"})
# Names mypy takes to be true, or false, whatever they hold at run time (mypy's
# reachability rules go by the name alone).
MYPY_TRUE = frozenset({"TYPE_CHECKING", "MYPY", "PY3"})
MYPY_FALSE = frozenset({"PY2"})
# Builtins that run source text or reach a namespace by name: what they define or run,
# mypy never reads. (`vars(obj)` only reads an object; a bare `vars()` is the namespace.)
DYNAMIC_NAMES = frozenset(
    {"exec", "eval", "compile", "globals", "locals", "vars", "__import__", "__builtins__"}
)
# Attributes that reach a module's namespace or a function's code from the inside.
DYNAMIC_ATTRIBUTES = frozenset(
    {"__globals__", "__code__", "__builtins__", "f_globals", "f_locals", "import_module"}
)
# Modules whose import hands out the same: the builtins, and the solution itself.
DYNAMIC_MODULES = frozenset({"builtins", "solution"})


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


def parse(source: str, name: str) -> tuple[ast.Module | None, str]:
    """(the module's tree, "") or (None, why it does not parse: `solution.py line 3: ...`)."""
    try:
        return ast.parse(source, filename=name), ""
    except SyntaxError as exc:
        where = f"{name} line {exc.lineno}" if exc.lineno else name
        return None, f"{where}: {exc.msg}"
    except ValueError as exc:  # a null byte, on Pythons that do not call it a SyntaxError
        return None, f"{name} cannot be read as Python source ({exc})"


def inspect_source(path: Path) -> SourceFacts:
    facts = SourceFacts()
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        facts.syntax_error = f"{path.name} cannot be read as UTF-8 Python source ({exc})"
        return facts
    tree, facts.syntax_error = parse(source, path.name)
    if tree is None:
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
    """The module's statements, and those inside its top-level `if`, `try`, `with` and
    `match` blocks (a name defined there is the module's too), not inside functions or classes."""
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
        elif isinstance(node, ast.Match):
            out += _module_level([s for case in node.cases for s in case.body])
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
    found = _switched_off(tree, entrypoints)
    found += _truncated(tree)
    found += _not_defs(tree, entrypoints)
    found += _dynamic_code(tree)
    return found


def _switched_off(tree: ast.Module, entrypoints: tuple[str, ...]) -> list[str]:
    """Decorators and calls that turn mypy off, and definitions under a condition mypy
    decides before it checks."""
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
            hidden = sorted(_defined_in([*node.body, *node.orelse]) & set(entrypoints))
            if hidden:
                found.append(
                    f"line {node.lineno}: {', '.join(hidden)} defined under "
                    f"`if {ast.unparse(node.test)}:`, which mypy decides before it checks: "
                    "what mypy checks there is not what runs"
                )
            unread = _runtime_only(node)
            if unread:
                found.append(
                    f"line {unread[0].lineno}: code in the branch of `if "
                    f"{ast.unparse(node.test)}:` that runs is never read by mypy"
                )
        elif isinstance(node, ast.Call) and _names(node.func) & unchecked:
            found.append(f"line {node.lineno}: {ast.unparse(node.func)}() switches mypy off")
    return found


def _defined_in(stmts: list[ast.stmt]) -> set[str]:
    """Every name the statements define, at any depth."""
    return {
        name for stmt in stmts for sub in ast.walk(stmt) if isinstance(sub, ast.stmt)
        for name in _defines(sub)
    }  # fmt: skip


def _runtime_only(node: ast.If) -> list[ast.stmt]:
    """The statements of the branch that runs but that mypy skips (the `else:` of `if
    TYPE_CHECKING:`, at any depth), less `pass`, `...` and docstrings: mypy checks none
    of them, so a typed stub beside them proves nothing."""
    if not _names(node.test) & (MYPY_TRUE | MYPY_FALSE):
        return []
    value = _mypy_value(node.test)
    skipped = node.orelse if value else node.body if value is False else []
    return [
        stmt
        for stmt in skipped
        if not isinstance(stmt, ast.Pass)
        and not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
    ]


def _truncated(tree: ast.Module) -> list[str]:
    """mypy stops reading a module at a top-level `assert` it decides is false (and says
    nothing, warn_unreachable or not): everything after it runs unchecked."""
    for stmt in tree.body[:-1]:
        if isinstance(stmt, ast.Assert) and _mypy_value(stmt.test) is False:
            test = ast.unparse(stmt.test)
            return [
                f"line {stmt.lineno}: code after `assert {test}` is unreachable to mypy, "
                "which checks none of it"
            ]
    return []


def _mypy_value(test: ast.expr) -> bool | None:
    """The value mypy gives a condition before it checks (mypy's reachability rules), or
    None where it leaves the condition to the type checker."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        value = _mypy_value(test.operand)
        return None if value is None else not value
    if isinstance(test, ast.BoolOp):
        values = [_mypy_value(v) for v in test.values]
        deciding = isinstance(test.op, ast.Or)  # one true decides an `or`, one false an `and`
        if deciding in values:
            return deciding
        return None if None in values else not deciding
    name = test.id if isinstance(test, ast.Name) else ""
    name = test.attr if isinstance(test, ast.Attribute) else name
    if name in MYPY_TRUE | MYPY_FALSE:
        return name in MYPY_TRUE
    value = _version_value(test)
    return value if value is not None else _platform_value(test)


# Comparisons mypy evaluates on sys.version_info and sys.platform, by operator.
COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
MIRRORED: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.Eq,
    ast.NotEq: ast.NotEq,
    ast.Lt: ast.Gt,
    ast.Gt: ast.Lt,
    ast.LtE: ast.GtE,
    ast.GtE: ast.LtE,
}


def _is_sys(node: ast.expr, attr: str) -> bool:
    """`sys.<attr>`, spelt so: mypy goes by the spelling, not by what `sys` is."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr == attr
        and isinstance(node.value, ast.Name)
        and node.value.id == "sys"
    )


def _version_value(test: ast.expr) -> bool | None:
    """A comparison of sys.version_info as mypy decides it: on (major, minor) of the
    interpreter that runs mypy, which is this one."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    op, left, right = type(test.ops[0]), test.left, test.comparators[0]
    if op not in COMPARE:
        return None
    mine, other = _version_part(left), _ints(right)
    if mine is None or other is None:  # `(3, 11) <= sys.version_info`
        mine, other, op = _version_part(right), _ints(left), MIRRORED[op]
    if mine is None or other is None or type(mine) is not type(other):
        return None
    if isinstance(mine, tuple) and isinstance(other, tuple):
        same = len(mine) == len(other)
        if not same and (len(mine) < len(other) or op in (ast.Eq, ast.NotEq)):
            return None
    return COMPARE[op](mine, other)


def _version_part(node: ast.expr) -> int | tuple[int, ...] | None:
    now = tuple(sys.version_info[:2])
    if _is_sys(node, "version_info"):
        return now
    if not (isinstance(node, ast.Subscript) and _is_sys(node.value, "version_info")):
        return None
    index = node.slice
    if isinstance(index, ast.Constant) and type(index.value) is int:
        return now[index.value] if 0 <= index.value <= 1 else None
    if isinstance(index, ast.Slice) and index.step is None:
        low, high = _int_or(index.lower, 0), _int_or(index.upper, 2)
        if low is not None and high is not None and 0 <= low < high <= 2:
            return now[low:high]
    return None


def _int_or(node: ast.expr | None, default: int) -> int | None:
    if node is None:
        return default
    return node.value if isinstance(node, ast.Constant) and type(node.value) is int else None


def _ints(node: ast.expr) -> int | tuple[int, ...] | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Tuple):
        items = [_ints(item) for item in node.elts]
        if all(type(item) is int for item in items):
            return tuple(item for item in items if isinstance(item, int))
    return None


def _platform_value(test: ast.expr) -> bool | None:
    """A test of sys.platform as mypy decides it: on this interpreter's platform."""
    if isinstance(test, ast.Call):
        func, prefix = test.func, _strings(test.args)
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "startswith"
            and _is_sys(func.value, "platform")
            and prefix is not None
            and len(prefix) == 1
            and not test.keywords
        ):
            return sys.platform.startswith(prefix[0])
        return None
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    op, right = type(test.ops[0]), test.comparators[0]
    if not _is_sys(test.left, "platform"):
        return None
    if op in (ast.Eq, ast.NotEq) and isinstance(right, ast.Constant):
        return COMPARE[op](sys.platform, right.value) if isinstance(right.value, str) else None
    items = _strings(right.elts) if isinstance(right, ast.Tuple | ast.List | ast.Set) else None
    if op not in (ast.In, ast.NotIn) or items is None:
        return None
    return (sys.platform in items) == (op is ast.In)


def _strings(nodes: list[ast.expr]) -> list[str] | None:
    values = [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return values if len(values) == len(nodes) else None


def _not_defs(tree: ast.Module, entrypoints: tuple[str, ...]) -> list[str]:
    """Entrypoints that mypy cannot check as they run: missing from the source, or bound
    by anything but a def or class (`f = ns["f"]` after `exec`, an import, a `global`)."""
    bindings = _module_bindings(tree)
    found: list[str] = []
    for name in entrypoints:
        mine = [(line, how) for bound, line, how in bindings if bound == name]
        others = [(line, how) for line, how in mine if how]
        if others:
            line, how = others[0]
            found.append(
                f"line {line}: {name} is bound by {how}, not by a def or class: "
                "mypy cannot check what runs"
            )
        elif not mine:
            found.append(
                f"{name} is not defined by a def or class at module level: mypy cannot check it"
            )
    return found


# What binds the names in a statement's targets, by statement (the rest are assignments).
BINDS: dict[type[ast.stmt], str] = {
    ast.For: "a for loop",
    ast.With: "a with statement",
    ast.Delete: "a del statement",
}


def _module_bindings(tree: ast.Module) -> list[tuple[str, int, str]]:
    """Every binding of a name in the module's namespace: the name, its line, and what
    binds it ("" for a def or class)."""
    found = [binding for stmt in _module_level(tree.body) for binding in _bound_by(stmt)]
    found += [
        (name, node.lineno, "a `global` statement")
        for node in ast.walk(tree)
        if isinstance(node, ast.Global)
        for name in node.names
    ]
    return found


def _bound_by(stmt: ast.stmt) -> list[tuple[str, int, str]]:
    """The names `stmt` itself binds (not the statements nested in it)."""
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return [((a.asname or a.name).split(".")[0], stmt.lineno, "an import") for a in stmt.names]
    found = []
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        found.append((stmt.name, stmt.lineno, ""))
    for node, parent in _own_nodes(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            how = BINDS.get(type(stmt), "an assignment")
            if isinstance(parent, ast.NamedExpr):
                how = "an assignment expression"
            found.append((node.id, node.lineno, how))
        elif isinstance(node, ast.ExceptHandler) and node.name:
            found.append((node.name, node.lineno, "an except clause"))
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            found.append((node.name, node.lineno, "a match pattern"))
        elif isinstance(node, ast.MatchMapping) and node.rest:
            found.append((node.rest, node.lineno, "a match pattern"))
    return found


def _own_nodes(node: ast.AST) -> Iterator[tuple[ast.AST, ast.AST]]:
    """The nodes of a statement, each with its parent, leaving out nested statements."""
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.stmt):
            yield child, node
            yield from _own_nodes(child)


def _dynamic_code(tree: ast.Module) -> list[str]:
    """Ways to run code mypy never reads or to bind names behind its back: `exec`, the
    module's namespace by name, a function's code object, a module-level `__getattr__`."""
    sys_names = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == "sys"
    }
    reads = {  # vars(obj) reads an object's attributes: nothing is defined
        id(node.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and node.args
        and isinstance(node.func, ast.Name)
        and node.func.id == "vars"
    }
    reads |= _shadowed_loads(tree)
    uses = [
        use for node in ast.walk(tree) if id(node) not in reads for use in _dynamic(node, sys_names)
    ]
    uses += [
        (stmt.lineno, "def __getattr__")
        for stmt in _module_level(tree.body)
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name == "__getattr__"
    ]
    return [
        f"line {line}: `{text}` can define names or run code that mypy never checks"
        for line, text in sorted(uses)
    ]


def _dynamic(node: ast.AST, sys_names: set[str]) -> list[tuple[int, str]]:
    """`node`, with its line, if it runs source text or reaches a namespace by name."""
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        return [(node.lineno, node.id)] if node.id in DYNAMIC_NAMES else []
    if isinstance(node, ast.Attribute):
        of_sys = isinstance(node.value, ast.Name) and node.value.id in sys_names
        hit = node.attr in DYNAMIC_ATTRIBUTES or (of_sys and node.attr == "modules")
        return [(node.lineno, ast.unparse(node))] if hit else []
    if isinstance(node, ast.Import | ast.ImportFrom) and _dynamic_import(node):
        return [(node.lineno, ast.unparse(node))]
    return []


def _dynamic_import(node: ast.Import | ast.ImportFrom) -> bool:
    """`import builtins`, `import solution` (itself), `from sys import modules`, ..."""
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] in DYNAMIC_MODULES for alias in node.names)
    names = {alias.name for alias in node.names}
    if node.module == "sys" and "modules" in names:
        return True
    module = (node.module or "").split(".")[0]
    # `from torch import compile` binds torch's function, not the builtin: only the
    # builtins module holds those (its `__builtins__` is on every module).
    return module in DYNAMIC_MODULES or bool(names & (DYNAMIC_ATTRIBUTES | DYNAMIC_MODULES))


# Scopes of their own: a name bound in one is not the builtin of that name there.
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _shadowed_loads(tree: ast.Module) -> set[int]:
    """The loads of a builtin's name that cannot reach the builtin: a parameter named
    `compile`, a local `vars`, a module-level `from torch import compile` read after it.

    A function's local binding shadows the builtin for its whole body (an unbound local
    raises rather than falling back); a module-level one only once it has run and while
    nothing can unbind it, so it counts only when a top-level statement binds it before
    the code that reads it runs, and nothing deletes it or declares it `global`."""
    found: set[int] = set()
    module = _module_bound(tree)

    def visit(node: ast.AST, local: frozenset[str], since: int | None) -> None:
        if isinstance(node, FUNCTIONS):
            outer = [*node.args.defaults, *node.args.kw_defaults]
            if not isinstance(node, ast.Lambda):
                outer += [*node.decorator_list, *_annotations(node)]
            for part in outer:
                if part is not None:
                    visit(part, local, since)
            inner = local - _declared_global(node) | _function_bound(node)
            body = [node.body] if isinstance(node, ast.Lambda) else node.body
            for stmt in body:
                visit(stmt, inner, node.lineno if since is None else since)
            return
        if isinstance(node, COMPREHENSIONS):
            first, *rest = node.generators
            visit(first.iter, local, since)  # evaluated in the enclosing scope
            inner = local | {n.id for g in node.generators for n in _stored(g.target)}
            parts: list[ast.AST] = [first.target, *first.ifs, *rest]
            parts += [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            for sub in parts:
                visit(sub, inner, since)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            bound_at = module.get(node.id)
            after = bound_at is not None and bound_at < (since or node.lineno)
            if node.id in local or after:
                found.add(id(node))
        for child in ast.iter_child_nodes(node):
            visit(child, local, since)

    visit(tree, frozenset(), None)
    return found


def _annotations(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.expr | None]:
    args = node.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return [node.returns, *(a.annotation for a in every if a is not None)]


def _stored(target: ast.AST) -> list[ast.Name]:
    """The names an assignment target binds (not `vars` in `x[vars] = 1`)."""
    return [n for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]


def _scope_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """The nodes of one scope's body, not entering the scopes nested in it (a nested
    def or class is itself yielded: its name is bound here)."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (*FUNCTIONS, ast.ClassDef, *COMPREHENSIONS)):
            stack += ast.iter_child_nodes(node)


def _scope_bound(body: list[ast.stmt]) -> set[str]:
    """Every name a scope's body binds."""
    found: set[str] = set()
    for node in _scope_nodes(body):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            found.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            found |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            found.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            found.add(node.rest)
    return found


def _declared_global(node: ast.AST) -> set[str]:
    body = node.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else []
    return {name for sub in _scope_nodes(body) if isinstance(sub, ast.Global) for name in sub.names}


def _function_bound(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> frozenset[str]:
    """A function's locals: its parameters and what its body binds, less its globals."""
    args = node.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    params = {a.arg for a in every if a is not None}
    if isinstance(node, ast.Lambda):
        return frozenset(params)
    return frozenset(params | _scope_bound(node.body)) - _declared_global(node)


def _module_bound(tree: ast.Module) -> dict[str, int]:
    """Names a top-level assignment, import, def or class binds for good: each with the
    last line of its first such binding. A name that anything deletes (`del`, the end of
    an `except ... as` clause) or declares `global` is left out."""
    unbound = {
        name
        for node in ast.walk(tree)
        for name in (
            node.names if isinstance(node, ast.Global)
            else [node.name] if isinstance(node, ast.ExceptHandler) and node.name
            else [node.id] if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Del)
            else []
        )
    }  # fmt: skip
    found: dict[str, int] = {}
    for stmt in tree.body:
        names: set[str] = set()
        if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names = {n.id for target in targets for n in _stored(target)}
        elif isinstance(stmt, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef):
            names = _scope_bound([stmt])
        for name in names - unbound:
            found.setdefault(name, stmt.end_lineno or stmt.lineno)
    return found
