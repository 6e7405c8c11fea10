"""Kata folders: find them, load `kata.yaml` against its schema, and name what is wrong.

A kata's manifest is the single truth about it (docs/authoring.md). Loading checks it
against `schemas/kata.schema.json` and a few rules a schema cannot say (weights sum to
100, a weight for every measured check); a bad file is a `KataError` that names the
file, the field and what was expected.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from grader.checks import SECTIONED
from grader.errors import BadInput, KataError
from grader.paths import cache_dir, katas_dir

SCHEMAS = Path(__file__).resolve().parent / "schemas"


@dataclass(frozen=True)
class MemorySpec:
    case: str
    max_ratio: float
    slack_bytes: int = 1 << 20
    advice: str = ""


@dataclass(frozen=True)
class SpeedSpec:
    case: str
    max_ratio: float
    sizes: tuple[int, int] | None = None
    max_growth: float | None = None
    advice: str = ""  # when the ratio fails (and growth, without growth_advice)
    growth_advice: str = ""  # when the time grows past max_growth
    # Partial credit past max_ratio, in steps rather than linearly: (ratio to the
    # reference, share of the speed weight), by increasing ratio and decreasing share.
    tiers: tuple[tuple[float, float], ...] = ()
    # "starter": also time the file the candidate was given (a speed-up kata's slow
    # original) against the reference, and report the speed-up over it.
    baseline: str | None = None


@dataclass(frozen=True)
class IntegrationSpec:
    case: str
    advice: str = ""


@dataclass(frozen=True)
class DiffSpec:
    max_lines: int  # changed lines against the given file that still count as a fix
    advice: str = ""


@dataclass(frozen=True)
class Kata:
    id: str
    title: str
    summary: str
    topics: tuple[str, ...]
    difficulty: int
    minutes: int
    entrypoints: tuple[str, ...]
    reference: str
    pass_mark: float
    hint_cost: float
    weights: dict[str, float]
    test_timeout_s: float
    test_deadline_s: float
    memory: MemorySpec | None
    speed: SpeedSpec | None
    integration: IntegrationSpec | None
    diff: DiffSpec | None
    memory_limit_mb: int
    process_limit: int
    network: bool
    preload: tuple[str, ...]  # what workers have imported before the solution (torch)
    folder: Path = field(compare=False)
    # "write": from stubs; "bug-hunt": fix a planted bug; "speedup": make a correct,
    # slow starter fast (it passes the tests and fails the speed check).
    format: str = "write"
    native: bool = False  # the candidate may add C sources in native/ (grader.native)

    @property
    def is_bug_hunt(self) -> bool:
        return self.format == "bug-hunt"

    @property
    def import_timeout_s(self) -> float:
        """How long importing solution.py may take in a worker: a minute, or half the
        suite's deadline (a busy import must leave the tests time to fail honestly)."""
        return min(60.0, self.test_deadline_s / 2)

    @property
    def prompt_path(self) -> Path:
        return self.folder / "prompt.md"

    @property
    def starter_dir(self) -> Path:
        return self.folder / "starter"

    @property
    def hidden_dir(self) -> Path:
        return self.folder / "hidden"

    @property
    def model_answer(self) -> Path:
        return self.folder / "model_answer.py"

    @property
    def interview_path(self) -> Path:
        return self.folder / "interview.yaml"

    def headline(self) -> str:
        """The prompt's first `# ` heading, else the title."""
        for line in self.prompt_path.read_text(encoding="utf-8").splitlines():
            if line.startswith("# "):
                return line[2:].strip()
        return self.title


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a syntax error becomes a `KataError` naming file and line."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except OSError as exc:
        raise KataError(f"{path}: cannot be read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise KataError(f"{path}:{where}: invalid YAML: {problem}") from exc


def _stringify_keys(value: Any) -> Any:
    """YAML reads `1:` as an int key; the schemas speak JSON, whose keys are strings."""
    if isinstance(value, dict):
        return {str(k): _stringify_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify_keys(v) for v in value]
    return value


@cache
def _validator(schema_name: str) -> Any:
    import jsonschema

    schema = json.loads((SCHEMAS / schema_name).read_text())
    return jsonschema.Draft202012Validator(schema)


def _fingerprint(data: dict[str, Any], schema_name: str) -> str:
    schema = (SCHEMAS / schema_name).read_bytes()
    return hashlib.sha256(schema + json.dumps(data, sort_keys=True).encode()).hexdigest()


def _known_valid() -> tuple[Path, set[str]]:
    """Fingerprints of manifests that passed their schema before: `drill list` then skips
    importing jsonschema (a visible share of a start-up that should feel instant)."""
    path = cache_dir() / "valid-manifests.json"
    try:
        return path, set(json.loads(path.read_text()))
    except (OSError, ValueError):
        return path, set()


def validate_schema(path: Path, data: Any, schema_name: str) -> dict[str, Any]:
    """Check `data` against a schema; the first error names the field and the rule."""
    data = _stringify_keys(data)
    if not isinstance(data, dict):
        raise KataError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    fingerprint = _fingerprint(data, schema_name)
    known_path, known = _known_valid()
    if fingerprint in known:
        return data
    errors = sorted(_validator(schema_name).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise KataError(f"{path}: field `{where}`: {err.message}")
    _remember(known_path, known | {fingerprint})
    return data


def _remember(path: Path, known: set[str]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(sorted(known)))
        tmp.replace(path)
    except OSError:
        pass  # a cache that cannot be written only costs time


def _check_weights(path: Path, data: dict[str, Any]) -> None:
    weights: dict[str, float] = data["weights"]
    total = sum(weights.values())
    if abs(total - 100) > 1e-6:
        raise KataError(f"{path}: field `weights`: expected weights summing to 100, got {total:g}")
    for check in SECTIONED:
        if (check in weights) != (check in data):
            raise KataError(
                f"{path}: field `weights.{check}`: a weight is required exactly when "
                f"the `{check}` section is present"
            )
    tiers = [(t["max_ratio"], t["share"]) for t in data.get("speed", {}).get("tiers", [])]
    ratios = [data["speed"]["max_ratio"], *(r for r, _ in tiers)] if tiers else []
    shares = [1.0, *(s for _, s in tiers)]
    if any(a >= b for a, b in pairwise(ratios)) or any(a <= b for a, b in pairwise(shares)):
        raise KataError(
            f"{path}: field `speed.tiers`: each tier needs a larger max_ratio than max_ratio "
            "and the tier before it, and a smaller share"
        )
    hunt = data.get("format") == "bug-hunt"
    if hunt != ("diff" in data):
        raise KataError(
            f"{path}: field `diff`: a bug hunt (format: bug-hunt) needs a `diff` budget, "
            "and only a bug hunt has one"
        )


def load_kata_from(folder: Path) -> Kata:
    """Load and validate the kata in `folder`."""
    folder = folder.resolve()
    path = folder / "kata.yaml"
    if not path.is_file():
        raise KataError(f"{path}: missing (every kata folder needs a kata.yaml)")
    data = validate_schema(path, read_yaml(path), "kata.schema.json")
    if data["id"] != folder.name:
        raise KataError(
            f"{path}: field `id`: expected '{folder.name}' (the folder name), got '{data['id']}'"
        )
    _check_weights(path, data)
    mem, spd, integ = data.get("memory"), data.get("speed"), data.get("integration")
    limits = data.get("limits", {})
    return Kata(
        id=data["id"],
        title=data["title"],
        summary=data["summary"],
        topics=tuple(data["topics"]),
        difficulty=data["difficulty"],
        minutes=data["minutes"],
        entrypoints=tuple(data["entrypoints"]),
        reference=data["reference"],
        pass_mark=float(data["pass_mark"]),
        hint_cost=float(data["hint_cost"]),
        weights={k: float(v) for k, v in data["weights"].items()},
        test_timeout_s=float(data["tests"]["timeout_s"]),
        test_deadline_s=float(data["tests"]["deadline_s"]),
        memory=MemorySpec(
            mem["case"],
            float(mem["max_ratio"]),
            int(mem.get("slack_bytes", 1 << 20)),
            mem.get("advice", ""),
        )
        if mem
        else None,
        speed=SpeedSpec(
            spd["case"],
            float(spd["max_ratio"]),
            (int(spd["sizes"][0]), int(spd["sizes"][1])) if "sizes" in spd else None,
            float(spd["max_growth"]) if "max_growth" in spd else None,
            spd.get("advice", ""),
            spd.get("growth_advice", ""),
            tuple((float(t["max_ratio"]), float(t["share"])) for t in spd.get("tiers", [])),
            spd.get("baseline"),
        )
        if spd
        else None,
        integration=IntegrationSpec(integ["case"], integ.get("advice", "")) if integ else None,
        diff=DiffSpec(int(data["diff"]["max_lines"]), data["diff"].get("advice", ""))
        if "diff" in data
        else None,
        memory_limit_mb=int(limits.get("memory_mb", 4096)),
        process_limit=int(limits.get("processes", 16)),
        network=bool(limits.get("network", False)),
        preload=tuple(data.get("preload", ["torch"])),
        folder=folder,
        format=data.get("format", "write"),
        native=bool(data.get("native", False)),
    )


def kata_ids(root: Path | None = None) -> list[str]:
    """Every folder under `katas/` that holds a kata.yaml, sorted."""
    return sorted(p.parent.name for p in (root or katas_dir()).glob("*/kata.yaml"))


def load_kata(kata_id: str, root: Path | None = None) -> Kata:
    """The kata called `kata_id`; an unknown id suggests the closest one."""
    if kata_id not in kata_ids(root):
        known = kata_ids(root)
        close = difflib.get_close_matches(kata_id, known, n=1, cutoff=0.4)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise BadInput(f"unknown kata '{kata_id}'.{hint} (`drill list` shows them all)")
    return load_kata_from((root or katas_dir()) / kata_id)


def all_katas(root: Path | None = None) -> list[Kata]:
    base = root or katas_dir()
    return [load_kata_from(base / k) for k in kata_ids(base)]
