"""Run benchmarks and write their sections into docs/benchmarks.md.

    python -m benchmarks                 # every benchmarks/bench_*.py
    python -m benchmarks sampling moe    # some of them
    python -m benchmarks --device cuda   # on a GPU
    python -m benchmarks --no-write      # print only

Each module `bench_NAME.py` defines `run(device: str) -> Section`. A section is
replaced in place between `<!-- bench:NAME:DEVICE -->` markers, so re-running one
benchmark leaves the others' figures alone.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
from pathlib import Path

from benchmarks.common import Section, machine

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def available() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )


def write_section(doc: str, key: str, body: str) -> str:
    start, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
    block = f"{start}\n{body}{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(doc):
        return pattern.sub(lambda _: block, doc)
    return doc.rstrip() + "\n\n" + block + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", help=f"some of: {', '.join(available())}")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--no-write", action="store_true", help="print, do not update the doc")
    args = parser.parse_args()
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        section: Section = module.run(args.device)
        body = section.markdown(machine(args.device, section.torch_threads))
        print(body)
        if not args.no_write:
            doc = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
            DOC.write_text(write_section(doc, f"{name}:{args.device}", body))


if __name__ == "__main__":
    main()
