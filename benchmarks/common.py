"""What every benchmark shares: the machine it ran on and a markdown table."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class Section:
    """One benchmark's results, rendered into docs/benchmarks.md."""

    name: str
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    torch_threads: int | None = None  # set when the benchmark ran with other than the default

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def markdown(self, machine: str) -> str:
        lines = [f"## {self.title}", "", f"Machine: {machine}", ""]
        lines.append(table(self.headers, self.rows))
        if self.notes:
            lines.append("")
            lines.extend(self.notes)
        return "\n".join(lines) + "\n"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def machine(device: str = "cpu", torch_threads: int | None = None) -> str:
    """A one-line description of where the numbers were measured."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    threads = torch_threads or torch.get_num_threads()
    desc = (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"torch {torch.__version__}, {threads} torch thread{'s' if threads != 1 else ''}"
    )
    if device == "cuda" and torch.cuda.is_available():
        desc += f", {torch.cuda.get_device_name()}"
    return desc


def fmt_ratio(x: float) -> str:
    return f"{x:.2f}x"


def fmt_s(x: float) -> str:
    if x < 1e-3:
        return f"{x * 1e6:.1f} us"
    if x < 1:
        return f"{x * 1e3:.2f} ms"
    return f"{x:.2f} s"


def single_threaded(device: str, body: Callable[[str], Section]) -> Section:
    """`body(device)`, with one torch thread on the CPU (recorded in the section).

    Small-kernel work (batch-1 decoding, per-call overheads) runs fastest on one thread,
    and on a shared 2-core machine a second thread mostly waits.
    """
    import torch

    if device != "cpu":
        return body(device)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        section = body(device)
    finally:
        torch.set_num_threads(threads)
    section.torch_threads = 1
    return section
