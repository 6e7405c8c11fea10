"""Judge process: the kata's memory, speed and integration cases, candidate beside reference.

    python -I -m grader.judge.run_measure CONFIG.json

The candidate's solution and the kata's reference module each run in a worker of
their own, behind the same channel; the case factories (`hidden/cases.py`) run here
and drive both the same way (`grader.judge.measuring`). Integration puts the
candidate's component, by proxy, inside the reference engine running here.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from grader.judge import workers
from grader.judge.channel import Channel, exit_now, setup
from grader.judge.client import ZygoteClient
from grader.judge.measuring import (
    Case,
    Footprint,
    RemoteSide,
    channel_overhead,
    one_measurement_at_a_time,
    peak_memory,
    same_result,
    verify,
)
from grader.judge.remote import Session, SolutionUnavailable, WorkerDied
from grader.judge.timing import compare_sides

SPEED_MAX_S = 3.0
BASELINE_MAX_S, BASELINE_ROUNDS = 2.0, 7  # a report, not a verdict: a few rounds do
GROWTH_MAX_S = 2.0


def describe(exc: BaseException, who: str = "your code") -> str:
    """`your code raised NotImplementedError: top_p (raised at solution.py line 12)`, or
    what became of the worker (`the solution's process died from SIGSEGV`)."""
    if isinstance(exc, SolutionUnavailable | WorkerDied):
        return str(exc)
    text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    notes = [n for n in getattr(exc, "__notes__", []) if n.startswith("raised at")]
    return f"{who} raised " + text[:300] + (f" ({notes[0]})" if notes else "")


def resolve_device(wanted: str) -> str:
    if wanted != "cuda" and "torch" not in sys.modules:
        return "cpu"  # a kata without torch: no reason to pay for its import
    import torch

    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if wanted == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no CUDA device")
    return wanted


def _sync(device: str) -> Callable[[], None]:
    if device == "cuda":
        import torch

        return torch.cuda.synchronize
    return lambda: None


class Measurer:
    def __init__(self, config: dict[str, Any], channel: Channel, zygote: ZygoteClient) -> None:
        self.config = config
        self.channel = channel
        self.zygote = zygote
        self.sessions: list[Session] = []

    def session(self, who: str, alone: bool = True) -> Session:
        """A fresh worker for the candidate, the reference or the kata's starter; `alone`:
        one process, no children (memory and speed; the engine may want more)."""
        make = {
            "candidate": workers.candidate,
            "reference": workers.reference,
            "baseline": workers.baseline,
        }[who]
        session = make(self.zygote, self.config, f"measure-{who}", alone)
        self.sessions.append(session)
        return session

    def close(self) -> None:
        for session in self.sessions:
            session.close()

    # -- memory ------------------------------------------------------------------------

    def memory(self, factory: Callable[..., Case], device: str) -> None:
        sync = _sync(device)
        found: dict[str, Footprint] = {}
        for who in ("reference", "candidate"):
            session = self.session(who)

            def build(s: Session = session) -> Case:
                return factory(s.module, device)

            try:
                found[who] = peak_memory(session, build, sync, device)
            except BaseException as exc:  # the candidate's failure is a result, not our crash
                subject = "the reference" if who == "reference" else "your code"
                error = describe(exc, subject)
                self.channel.send({"kind": "memory", "who": who, "error": error})
                return
            finally:
                session.close()
        record = {
            "kind": "memory",
            "peak_bytes": found["candidate"].peak_bytes,
            "setup_bytes": found["candidate"].setup_bytes,
            "reference_peak_bytes": found["reference"].peak_bytes,
            "reference_setup_bytes": found["reference"].setup_bytes,
            "held_bytes": found["candidate"].held_bytes,
            "reference_held_bytes": found["reference"].held_bytes,
        }
        # Both sides ran the same inputs: the candidate must have computed the same thing.
        differs = same_result(found["candidate"], found["reference"])
        if differs:
            record["differs"] = differs
        self.channel.send(record)

    # -- speed -------------------------------------------------------------------------

    def speed(
        self,
        factory: Callable[..., Case],
        device: str,
        sizes: list[int] | None,
        budgets: list[float] | None = None,
        growth_budget: float | None = None,
        baseline: bool = False,
    ) -> None:
        sync = _sync(device)
        cand, ref = self.session("candidate"), self.session("reference")
        large = sizes[-1] if sizes else None
        try:
            a = RemoteSide(cand, factory(cand.module, device, large), sync)
            b = RemoteSide(ref, factory(ref.module, device, large), sync)
            both = compare_sides(a, b, max_s=SPEED_MAX_S, budget=budgets)
            differs, checked = verify(a, b)
            record: dict[str, Any] = {
                "kind": "speed",
                "ratio": both.ratio,
                "candidate_s": both.a_s,
                "reference_s": both.b_s,
                "rounds": both.rounds,
                "interval": [both.low, both.high],
                "spread": both.b_spread,
                "checked_calls": checked,
                "channel_s": channel_overhead(cand),
            }
            if differs:
                record["differs"] = differs
            if sizes and not differs:
                record.update(self._growth(factory, device, sizes, cand, ref, sync, growth_budget))
            if baseline and not differs:
                record.update(self._baseline(factory, device, large, b, sync))
        except BaseException as exc:
            self.channel.send({"kind": "speed", "error": describe(exc)})
            return
        self.channel.send(record)

    def _growth(
        self,
        factory: Callable[..., Case],
        device: str,
        sizes: list[int],
        cand: Session,
        ref: Session,
        sync: Callable[[], None],
        budget: float | None,
    ) -> dict[str, Any]:
        small, large = sizes
        found = {}
        for who, session in (("candidate", cand), ("reference", ref)):
            big = RemoteSide(session, factory(session.module, device, large), sync)
            little = RemoteSide(session, factory(session.module, device, small), sync)
            settle = budget if who == "candidate" else None
            found[who] = compare_sides(big, little, max_s=GROWTH_MAX_S, budget=settle)
        growth = found["candidate"]
        return {
            "growth": growth.ratio,
            "growth_interval": [growth.low, growth.high],
            "growth_spread": growth.b_spread,
            "reference_growth": found["reference"].ratio,
            "sizes": sizes,
        }

    def _baseline(
        self,
        factory: Callable[..., Case],
        device: str,
        size: int | None,
        ref: RemoteSide,
        sync: Callable[[], None],
    ) -> dict[str, Any]:
        """The kata's starter against the reference on the same case: what the candidate's
        ratio is worth as a speed-up over the file they were given."""
        session = self.session("baseline")
        try:
            original = RemoteSide(session, factory(session.module, device, size), sync)
            found = compare_sides(original, ref, max_s=BASELINE_MAX_S, rounds=BASELINE_ROUNDS)
        except BaseException as exc:
            return {"baseline_error": describe(exc, "the original")}
        finally:
            session.close()
        return {"baseline_ratio": found.ratio, "baseline_s": found.a_s}

    # -- integration -------------------------------------------------------------------

    def integration(self, case: Callable[[Any, str], str | None], device: str) -> None:
        """The candidate's component inside the reference engine: None, or where it differs."""
        session = self.session("candidate", alone=False)
        try:
            difference = case(session.module, device)
        except BaseException as exc:
            self.channel.send({"kind": "integration", "error": describe(exc)})
        else:
            self.channel.send({"kind": "integration", "device": device, "difference": difference})


def main() -> None:
    config, channel, zygote = setup(sys.argv[1])
    assert zygote is not None, "the measurement judge needs workers"
    sys.path.insert(0, config["hidden_dir"])
    cases = importlib.import_module("cases")
    measurer = Measurer(config, channel, zygote)
    try:
        try:
            device = resolve_device(config["device"])
        except RuntimeError as exc:
            channel.send({"kind": "fatal", "error": str(exc)})
            return
        channel.send({"kind": "device", "device": device})
        probe = measurer.session("candidate")
        try:
            probe.worker()
            channel.send({"kind": "imported"})
        except SolutionUnavailable as exc:
            channel.send({"kind": "import_error", "error": str(exc)})
            channel.send({"kind": "finish"})
            return
        finally:
            probe.close()
        with one_measurement_at_a_time() as waited:
            channel.send({"kind": "lock", "waited_s": waited})
            if config.get("memory"):
                measurer.memory(getattr(cases, config["memory"]["case"]), device)
            if config.get("speed"):
                spec = config["speed"]
                measurer.speed(
                    getattr(cases, spec["case"]),
                    device,
                    spec.get("sizes"),
                    [spec["max_ratio"], *(ratio for ratio, _ in spec.get("tiers", []))],
                    spec.get("max_growth"),
                    baseline=spec.get("baseline") == "starter",
                )
        if config.get("integration"):
            measurer.integration(getattr(cases, config["integration"]["case"]), device)
        channel.send({"kind": "finish"})
    finally:
        measurer.close()
        exit_now()


if __name__ == "__main__":
    main()
