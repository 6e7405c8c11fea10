"""Where drill keeps things: the history store, caches, and the kata folders."""

from __future__ import annotations

import os
import stat
from pathlib import Path

BUILTIN_KATAS = Path(__file__).resolve().parent.parent / "katas"


def katas_dir() -> Path:
    """The kata folders: `$DRILL_KATAS` (an author's own collection), else the built-in ones."""
    override = os.environ.get("DRILL_KATAS")
    return Path(override).expanduser() if override else BUILTIN_KATAS


def data_dir() -> Path:
    """The history store's folder: `$DRILL_HOME`, else the user data directory."""
    home = os.environ.get("DRILL_HOME")
    if home:
        return Path(home).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("drill", appauthor=False))


def cache_dir() -> Path:
    """Caches (mypy, the hidden suites' expected test ids): `$DRILL_CACHE`, else the user cache directory.

    Separate from `DRILL_HOME` on purpose: a throwaway history store (tests, CI) should
    still reuse a warm mypy cache, which takes seconds to build when torch is imported.
    """
    cache = os.environ.get("DRILL_CACHE")
    if cache:
        return Path(cache).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("drill", appauthor=False))


def package_dir(name: str) -> Path | None:
    """Where one of our top-level packages lives, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def reference_dir() -> Path:
    found = package_dir("reference")
    if found is None:
        raise RuntimeError("the reference package is not installed")
    return found


def off_limits() -> list[Path]:
    """What no worker that runs candidate code may read: our packages, the kata folders,
    the history store and the caches."""
    ours = [package_dir(name) for name in ("grader", "reference", "drills", "katas")]
    found = [p for p in ours if p is not None]
    return [*found, *_checkout_copies(found), BUILTIN_KATAS, katas_dir(), data_dir(), cache_dir()]


def _checkout_copies(packages: list[Path]) -> list[Path]:
    """Run from a source checkout (an editable install can put its root on sys.path, a
    read root): the folders there that hold other copies of the hidden suites (git's
    objects, a build, an sdist, the tests' fixtures). Not the checkout itself, which
    may hold the virtual environment."""
    roots = {p.parent for p in packages if (p.parent / "pyproject.toml").is_file()}
    return [root / name for root in sorted(roots) for name in (".git", "build", "dist", "tests")]


def copy_own_file(src: Path, dst: Path) -> None:
    """Copy the regular file `src` itself, never what a symbolic link there points to.

    What a candidate hands in (solution.py, native/ sources) is read here, by the
    grader, with the grader's rights: a link to a secret would be copied into the grade
    and could come back in a compiler's or a parser's message."""
    dst.write_bytes(read_own_file(src))


def read_own_file(src: Path, max_bytes: int = -1, offset: int = 0) -> bytes:
    """The content of the regular file `src` itself (at most `max_bytes` of it, from
    byte `offset`), never
    of what a symbolic link there points to: `O_NOFOLLOW` refuses the link at the moment
    of opening, so nothing can swap one in after a check. Whoever runs drill on a
    candidate's folder (a grader, a mock interviewer on a shared folder) reads only
    what the candidate wrote, never a file of their own that a link names."""
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if src.is_symlink():
            raise NotOwnFile(f"{src} is a symbolic link: drill reads only the file itself") from exc
        raise
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise NotOwnFile(f"{src} is not a regular file")
        file.seek(offset)
        return file.read(max_bytes)


class NotOwnFile(OSError):
    """A file handed in that is a link or a device, not a file of its own."""
