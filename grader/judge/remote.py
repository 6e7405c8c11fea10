"""The solution as the judge sees it: proxies whose calls run in a sandboxed worker.

A hidden suite imports `solution` and calls it as it would a module:

    import solution as sol
    out = sol.filter_logits(x, temperature=0.7)      # a plain tensor, decoded here
    cache = sol.KVCache(2, 1, 16, 2, 8)              # an object that stays in the worker
    k, v = cache.update(0, k_new, v_new, start_pos)  # tensors by value
    with pytest.raises(sol.OutOfBlocks): ...         # the solution's exception class

What crosses is plain data (`grader.worker.wire`): tensors by value, objects behind
handles. A tensor argument that the call changes in place is changed here too, and
a result that *is* an argument comes back as that same object, so in-place
semantics read as they would in one process. Exceptions come back as the builtin
class the solution raised (or a class of the same name deriving from it). A call
that crashes the worker fails with `WorkerDied`; the next call starts a fresh worker
(objects made in the old one are gone). An import that fails fails every call.

For what a value cannot say, the helpers below: `keep` (results stay in the worker,
to test aliasing by behaviour), `fetch`, `vjp` (gradients through the solution),
`batch` (many calls in one round trip), and `cpu_seconds` (the worker's CPU time,
from the kernel).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from grader.judge.client import WorkerDied, WorkerProcess, WorkerSpec, ZygoteClient
from grader.worker.wire import BUILTIN_ERRORS, ExceptionClass, Handle

__all__ = [
    "RemoteError",
    "Session",
    "SolutionUnavailable",
    "WorkerDied",
    "batch",
    "cpu_seconds",
    "fetch",
    "keep",
    "keep_attr",
    "manual_seed",
    "vjp",
]


class SolutionUnavailable(Exception):
    """solution.py could not be imported (the same for every call of the grade)."""


class RemoteError(Exception):
    """The solution raised something that is not an ordinary exception (SystemExit,
    KeyboardInterrupt, a test framework's own outcome)."""


class UnsendableResult(Exception):
    """The solution's call returned, but its result is not a value the wire carries (a
    string holding a lone surrogate): the call fails, saying so."""


class Session:
    """One module (the solution, or a reference) served by a worker started on demand."""

    def __init__(
        self,
        zygote: ZygoteClient | None,
        spec: Callable[[int], WorkerSpec],
        import_timeout_s: float,
        label: str = "solution.py",
    ) -> None:
        self.zygote = zygote
        self.spec = spec  # the spec of the n-th worker (each gets its own folder)
        self.import_timeout_s = import_timeout_s
        self.label = label
        self.generation = 0
        self._worker: WorkerProcess | None = None
        self._unavailable = ""
        self._lock = threading.RLock()
        self._release: list[int] = []
        self._errors: dict[ExceptionClass, type[BaseException]] = {}
        self._select: Iterator[int] | None = None
        self.module = RemoteModule(self)

    @classmethod
    def unconnected(cls) -> Session:
        """A session with no worker behind it: collecting a suite calls nothing."""

        def no_spec(_: int) -> WorkerSpec:
            raise SolutionUnavailable("no worker in a collect-only run")

        return cls(None, no_spec, 0.0)

    # -- the worker --------------------------------------------------------------------

    def worker(self) -> WorkerProcess:
        with self._lock:
            if self._unavailable:
                raise SolutionUnavailable(self._unavailable)
            if self.zygote is None:
                raise SolutionUnavailable("this session has no worker")
            if self._worker is not None and not self._worker.dead:
                return self._worker
            self.generation += 1
            self._release.clear()
            pid = self.zygote.spawn(self.spec(self.generation))
            worker = WorkerProcess(
                self.zygote, pid, self._decode_handle, self._exception_class, self._encode_other
            )
            self._worker = worker
            try:
                hello = worker.wait_ready(self.import_timeout_s)
            except (TimeoutError, OSError):
                self._unavailable = (
                    f"importing {self.label} took longer than {self.import_timeout_s:.0f} s"
                )
                raise SolutionUnavailable(self._unavailable) from None
            except WorkerDied as exc:
                self._unavailable = f"importing {self.label}: {exc}"
                raise SolutionUnavailable(self._unavailable) from None
            if "import_error" in hello:
                kind, _bases, message, where = hello["import_error"]
                at = f" ({where})" if where else ""
                self._unavailable = f"importing {self.label} raised {kind}: {message}{at}"
                raise SolutionUnavailable(self._unavailable)
            return worker

    def cpu_mark(self) -> tuple[int, float, float] | None:
        """(which worker, the CPU seconds it has used, the seconds it waited for a CPU):
        None when none is running. Read from outside the worker, it cannot be forged."""
        worker = self._worker
        if worker is None:
            return None
        if worker.dead:  # a call the judge gave up on kills it: its last figures
            times = worker.last_times
            return None if times is None else (self.generation, *times)
        try:
            return self.generation, worker.cpu_seconds(), worker.waiting_seconds()
        except OSError:  # it exited meanwhile
            return None

    def close(self) -> None:
        """Stop the worker, even while another thread waits on it (that wait then fails)."""
        worker = self._worker
        if worker is not None:
            worker.kill()

    # -- requests ----------------------------------------------------------------------

    def request(self, message: dict[str, Any]) -> Any:
        """Send a request; raise what the solution raised; else apply what the call changed
        in place to our own tensors and generators, and return the reply."""
        with self._lock:
            worker = self.worker()
            if self._release:
                message["release"], self._release = self._release, []
            decoded, sent = worker.request(message)
        reply = decoded.value
        if not isinstance(reply, dict):
            raise WorkerDied("the solution's process sent a malformed reply")
        if "err" in reply:
            raise self._exception(reply["err"])
        if "unsendable" in reply:
            why = str(reply["unsendable"])
            raise UnsendableResult(f"what the solution returned cannot be sent to the judge: {why}")
        if "ok" not in reply:
            raise WorkerDied("the solution's process sent a malformed reply")
        _apply_updates(reply, sent.tensors, sent.generators)
        return reply

    def call(
        self,
        obj: RemoteObject | None,
        name: str | None,
        args: Sequence[Any],
        kwargs: dict[str, Any],
        *,
        keep: bool = False,
    ) -> Any:
        message: dict[str, Any] = {
            "op": "call",
            "obj": obj,
            "name": name,
            "args": list(args),
            "kwargs": kwargs,
            "keep": keep,
        }
        if self._select is not None:
            message["select"] = next(self._select)
        reply = self.request(message)
        if "args" in reply:
            _apply_containers(reply["args"], args, kwargs)
        return reply["ok"]

    def getattr(self, obj: RemoteObject | None, name: str | None, keep: bool = False) -> Any:
        return self.request({"op": "getattr", "obj": obj, "name": name, "keep": keep})["ok"]

    def put(self, value: Any) -> RemoteObject:
        """Send `value` ahead of the call that uses it: the worker keeps it, and a call
        given the returned handle gets the value itself (decoded outside that call)."""
        handle = self.request({"op": "put", "value": value})["ok"]
        if not isinstance(handle, RemoteObject):
            raise WorkerDied("the solution's process sent a malformed reply")
        return handle

    @contextlib.contextmanager
    def measuring(self, seed: int) -> Iterator[None]:
        """While measured, every call's tensors come back as samples (see serve.py), at
        positions drawn from seeds that follow `seed`: both sides of a comparison, given
        the same seed, are sampled at the same positions."""
        self._select = itertools.count(seed * 1_000_003)
        try:
            yield
        finally:
            self._select = None

    # -- what crosses ------------------------------------------------------------------

    def _decode_handle(self, worker: WorkerProcess, handle: Handle) -> RemoteObject:
        return RemoteObject(self, self.generation, handle)

    def _encode_other(self, value: Any) -> Handle:
        if isinstance(value, RemoteObject):
            if value._session is not self or value._generation != self.generation:
                raise WorkerDied(
                    f"{value!r} lived in a process of the solution that has since ended"
                )
            handle: Handle = value._handle
            return handle
        raise TypeError(f"cannot send {type(value).__name__} to the solution's process")

    def _exception_class(self, spec: ExceptionClass) -> type[BaseException]:
        """The judge's stand-in for an exception class of the solution: a subclass of
        the nearest builtin base, named as the solution names it; one class per name."""
        if spec.name in BUILTIN_ERRORS and _builtin_mro(spec):
            return BUILTIN_ERRORS[spec.name]
        if spec not in self._errors:
            base = next((BUILTIN_ERRORS[n] for n in spec.mro if n in BUILTIN_ERRORS), RemoteError)
            self._errors[spec] = type(spec.name, (base,), {"__module__": "solution"})
        return self._errors[spec]

    def _exception(self, err: Any) -> BaseException:
        kind, bases, message, where = err
        names = [str(b) for b in bases]
        if "Exception" in names or kind in BUILTIN_ERRORS:
            cls = self._exception_class(ExceptionClass(str(kind), tuple(names)))
            try:
                exc = cls(message)
            except Exception:  # a class whose constructor wants more (UnicodeDecodeError)
                exc = RemoteError(f"the solution raised {kind}: {message}")
        else:
            exc = RemoteError(f"the solution raised {kind}: {message}".rstrip(": "))
        if where:
            exc.add_note(f"raised at {where}")
        return exc

    def release(self, hid: int, generation: int) -> None:
        if generation == self.generation:
            self._release.append(hid)


def _builtin_mro(spec: ExceptionClass) -> bool:
    """The class really is the builtin of that name (not a solution's class named ValueError)."""
    builtin = BUILTIN_ERRORS[spec.name]
    return tuple(c.__name__ for c in builtin.__mro__[1:]) == spec.mro


def _apply_updates(reply: dict[str, Any], tensors: list[Any], generators: list[Any]) -> None:
    """Make the call's in-place changes to our own tensors, and advance our generators."""
    updates = reply.get("updates") or {}
    states = reply.get("states") or {}
    if updates or states:
        import torch

        for index, state in states.items():
            if not isinstance(index, int) or not 0 <= index < len(generators):
                raise WorkerDied("the solution's process sent a malformed reply")
            if not isinstance(state, bytes):
                raise WorkerDied("the solution's process sent a malformed reply")
            generators[index].set_state(torch.frombuffer(bytearray(state), dtype=torch.uint8))

        with torch.no_grad():
            for index, value in updates.items():
                if not isinstance(index, int) or not 0 <= index < len(tensors):
                    raise WorkerDied("the solution's process sent a malformed reply")
                mine = tensors[index]
                if not isinstance(value, torch.Tensor):
                    raise WorkerDied("the solution's process sent a malformed reply")
                if value.shape == mine.shape and value.dtype == mine.dtype:
                    mine.copy_(value)
                else:
                    mine.set_(value.to(mine.device))


def _apply_containers(after: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> None:
    """The call changed list or dict arguments in place: so do we, to ours."""
    if not (isinstance(after, list) and len(after) == 2):
        raise WorkerDied("the solution's process sent a malformed reply")
    new_args, new_kwargs = after
    pairs = list(zip(args, new_args if isinstance(new_args, list) else [], strict=False))
    if isinstance(new_kwargs, dict):
        pairs += [(kwargs[k], v) for k, v in new_kwargs.items() if k in kwargs]
    for mine, theirs in pairs:
        if type(mine) is list and isinstance(theirs, list):
            mine[:] = theirs
        elif type(mine) is dict and isinstance(theirs, dict):
            mine.clear()
            mine.update(theirs)


def _not_asked(name: str) -> bool:
    """Names only tools ask for (pytest's collection probes every object of a test
    module for markers and fixtures): answered here, never by a round trip. A suite
    tests the solution's public names."""
    return name.startswith("_") or name.startswith("pytest")


class RemoteModule(types.ModuleType):
    """What `import solution` gives the hidden suite."""

    def __init__(self, session: Session) -> None:
        super().__init__("solution", "solution.py, served by a sandboxed worker")
        object.__setattr__(self, "_session", session)
        # Functions and classes, once seen: they are called by name, so a later call
        # needs no round trip to look them up (a rebinding in the worker still counts).
        object.__setattr__(self, "_paths", {})

    def __getattr__(self, name: str) -> Any:
        if _not_asked(name):
            raise AttributeError(name)
        paths: dict[str, RemotePath] = object.__getattribute__(self, "_paths")
        if name in paths:
            return paths[name]
        session: Session = object.__getattribute__(self, "_session")
        value = session.getattr(None, name)
        if isinstance(value, RemoteObject) and value._handle.kind in ("callable", "class"):
            paths[name] = RemotePath(session, name, value._handle.kind)
            return paths[name]
        return value


class RemotePath:
    """A function or class of the solution, called by its name (it survives a restart
    of the worker)."""

    def __init__(self, session: Session, path: str, kind: str) -> None:
        self._session = session
        self._path = path
        self._kind = kind

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.call(None, self._path, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        if _not_asked(name):
            raise AttributeError(name)
        path = f"{self._path}.{name}"
        value = self._session.getattr(None, path)
        if isinstance(value, RemoteObject) and value._handle.kind in ("callable", "class"):
            return RemotePath(self._session, path, value._handle.kind)
        return value

    def __repr__(self) -> str:
        return f"<solution.{self._path}>"


class RemoteObject:
    """An object that lives in the worker: attribute reads and method calls go there."""

    def __init__(self, session: Session, generation: int, handle: Handle) -> None:
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_generation", generation)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_methods", set())

    def __getattr__(self, name: str) -> Any:
        if _not_asked(name):
            raise AttributeError(name)
        if name in self._methods:
            return RemoteMethod(self, name)
        value = self._session.getattr(self, name)
        if isinstance(value, RemoteObject) and value._handle.kind == "callable":
            self._methods.add(name)
            return RemoteMethod(self, name)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        self._session.request({"op": "setattr", "obj": self, "name": name, "value": value})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.call(self, None, args, kwargs)

    def __len__(self) -> int:
        return int(self._session.call(self, "__len__", (), {}))

    def __getitem__(self, key: Any) -> Any:
        return self._session.call(self, "__getitem__", (key,), {})

    def __setitem__(self, key: Any, value: Any) -> None:
        self._session.call(self, "__setitem__", (key, value), {})

    def __contains__(self, item: Any) -> bool:
        return bool(self._session.call(self, "__contains__", (item,), {}))

    def __repr__(self) -> str:
        return f"<{self._handle.type_name} in the solution's process>"

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._session.release(self._handle.id, self._generation)


class RemoteMethod:
    def __init__(self, obj: RemoteObject, name: str) -> None:
        self._obj = obj
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._obj._session.call(self._obj, self._name, args, kwargs)

    def __repr__(self) -> str:
        return f"<method {self._name} of {self._obj!r}>"


# -- helpers for hidden suites ------------------------------------------------------------


def _target(fn: Any) -> tuple[Session, RemoteObject | None, str | None]:
    if isinstance(fn, RemotePath):
        return fn._session, None, fn._path
    if isinstance(fn, RemoteMethod):
        return fn._obj._session, fn._obj, fn._name
    if isinstance(fn, RemoteObject):
        return fn._session, fn, None
    raise TypeError(f"{fn!r} is not a function of the solution")


def keep(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call `fn` and leave its tensors in the worker (as objects whose methods run there),
    to test by behaviour what a value cannot show: that a result is a view of a buffer."""
    session, obj, name = _target(fn)
    return session.call(obj, name, args, kwargs, keep=True)


def keep_attr(obj: Any, name: str) -> Any:
    """An attribute of an object in the worker, left there (a tensor as an object whose
    methods run there): a buffer kept before some calls shows what they wrote into it."""
    if not isinstance(obj, RemoteObject):
        raise TypeError(f"{obj!r} is not an object of the solution")
    return obj._session.getattr(obj, name, keep=True)


def fetch(obj: Any) -> Any:
    """The value of an object kept in the worker (a tensor, by value)."""
    if not isinstance(obj, RemoteObject):
        return obj
    return obj._session.getattr(obj, None)


def batch(calls: Sequence[tuple[Any, Sequence[Any]]]) -> list[Any]:
    """Run `(fn, args)` calls one after another in one round trip; their results."""
    if not calls:
        return []
    sessions = {_target(fn)[0] for fn, _ in calls}
    if len(sessions) != 1:
        raise ValueError("a batch runs in one worker")
    session = sessions.pop()
    items: list[list[Any]] = []
    for fn, args in calls:
        _, obj, name = _target(fn)
        items.append([obj, name, list(args), {}])
    message: dict[str, Any] = {"op": "batch", "calls": items}
    if session._select is not None:
        message["select"] = next(session._select)
    results: list[Any] = session.request(message)["ok"]
    return results


def vjp(
    fn: Any,
    args: Sequence[Any],
    wrt: Sequence[int],
    cotangents: Sequence[Any],
    **kwargs: Any,
) -> tuple[Any, list[Any], list[bool]]:
    """Run `fn(*args, **kwargs)` in the worker and backpropagate `cotangents` (one per
    tensor output) to the arguments at `wrt`: (result, gradients, whether each output
    required grad). A gradient is None where no path reached that argument."""
    session, obj, name = _target(fn)
    message = {
        "op": "vjp",
        "obj": obj,
        "name": name,
        "args": list(args),
        "kwargs": kwargs,
        "wrt": list(wrt),
        "cotangents": list(cotangents),
    }
    result, grads, requires = session.request(message)["ok"]
    return result, list(grads), [bool(r) for r in requires]


def manual_seed(module: Any, seed: int) -> None:
    """Seed the worker's global RNGs (`random.seed`, `torch.manual_seed`): what a test of
    "generator=None draws from the global RNG" sets before each call."""
    session = module._session if hasattr(module, "_session") else _target(module)[0]
    session.request({"op": "manual_seed", "seed": int(seed)})


def cpu_seconds(module: Any) -> float:
    """CPU time the worker serving `module` (or an object of it) has used, all threads."""
    session = module._session if hasattr(module, "_session") else _target(module)[0]
    return session.worker().cpu_seconds()
