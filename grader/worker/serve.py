"""The worker's loop: import one module, then serve the judge's requests about it.

This runs beside untrusted code, in a sandboxed process (`grader.worker.zygote`), and
decides nothing: it imports `solution` (or a reference module, in a reference worker),
calls what the judge asks for, and sends back plain values. A solution can rewrite
this loop; all it can change is what it sends, and the judge checks that itself.

Requests (msgpack maps) and what the reply's "ok" holds:

    getattr  {obj, name, keep}                 the attribute's value
    setattr  {obj, name, value}                None
    call     {obj, name, args, kwargs, keep,   the result (name None: call obj itself)
              select}
    batch    {calls: [[obj, name, args, kwargs], ...], select}
                                               the list of results
    vjp      {obj, name, args, kwargs, wrt, cotangents}
                                               [result, gradients of the `wrt` tensor arguments]
    release  {ids}                             None: the judge dropped these handles
    ping     {}                                "pong" (the channel's own cost)
    put      {value}                           a handle to `value`, kept here
    cuda_memory {reset}                        [allocated, peak allocated] bytes on the GPU
    manual_seed {seed}                         None: seeds `random` and torch's global RNG
    dist_init {rank, world_size, port, timeout_s}
                                               None: this worker joins a gloo process group
    dist_new_group {ranks}                     a handle to the new group (every rank calls it)

`obj` is None for the module itself or a handle. `keep` asks for tensors to stay here
behind handles. `select` (a seed) replaces every tensor of the result by a sample of
its elements at positions drawn from the seed: a measured call returns something the
judge can check without moving megabytes. A reply is {"ok": value, "updates": {i:
tensor}, "states": {i: generator state}} where `updates` are tensor arguments the call
changed in place (by their order in the request) and `states` the generators it
advanced; or {"err": [type, bases, message, where]}; or, when the result itself cannot
be encoded, {"unsendable": why}.
"""

from __future__ import annotations

import errno
import importlib
import itertools
import os
import socket
import sys
import traceback
from typing import Any

from grader.worker.wire import (
    ArgRef,
    Decoder,
    Handle,
    encode,
    recv_frame,
    send_frame,
)

SAMPLE = 64  # elements of each tensor that a measured call sends back


class Worker:
    def __init__(self, sock: socket.socket, module_name: str) -> None:
        self.sock = sock
        self.module_name = module_name
        self.module: Any = None
        self.objects: dict[int, Any] = {}
        self.ids = itertools.count(1)
        self.decoder = Decoder(self._lookup)

    # -- handles -----------------------------------------------------------------------

    def _lookup(self, handle: Handle) -> Any:
        if handle.id not in self.objects:
            raise KeyError(f"no object #{handle.id} in this worker (released, or from another)")
        return self.objects[handle.id]

    def _keep(self, value: Any) -> Handle:
        hid = next(self.ids)
        self.objects[hid] = value
        if isinstance(value, type):
            kind = "class"
        elif _is_tensor(value):
            kind = "tensor"
        elif callable(value):
            kind = "callable"
        else:
            kind = "object"
        return Handle(
            hid, kind, type(value).__qualname__ if kind != "class" else value.__qualname__
        )

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> None:
        if not self._import():
            return
        while True:
            try:
                header, body, start = recv_frame(self.sock)
            except (EOFError, OSError):
                return
            try:
                decoded = self.decoder.decode(header, body, start)
                request = decoded.value
                before = _containers(request)
                result = self._dispatch(request)
                reply: dict[str, Any] = {"ok": result}
                self._changes(reply, decoded, body)
                if before is not None and _containers(request) != before:
                    reply["args"] = [request.get("args", []), request.get("kwargs", {})]
            except BaseException as exc:  # the solution's failure is a reply, not our exit
                reply = {"err": describe(exc)}
                decoded = None
            self._send(reply, decoded)

    def _import(self) -> bool:
        # Said before the solution runs, so that what it says is still ours.
        self._send({"import_rss": _resident_bytes()}, None)
        try:
            self.module = importlib.import_module(self.module_name)
            hello: dict[str, Any] = {"ready": os.getpid()}
        except BaseException as exc:
            hello = {"import_error": describe(exc)}
        self._send(hello, None)
        return "ready" in hello

    def _send(self, reply: dict[str, Any], decoded: Any) -> None:
        args = decoded.tensors if decoded is not None else []
        try:
            header, buffers, _ = encode(_arg_refs(reply, args), self._keep)
        except BaseException as exc:  # a value the wire cannot carry (a lone surrogate)
            unsendable = {"unsendable": describe(exc)[2]}  # not something the solution raised
            header, buffers, _ = encode(unsendable, self._keep)
        send_frame(self.sock, header, buffers)

    # -- requests ----------------------------------------------------------------------

    def _target(self, request: dict[str, Any]) -> Any:
        """`obj` (the module when None), then each part of a dotted `name` in turn
        (`BPETokenizer.train`: a class method reached through its class)."""
        obj = request.get("obj")
        target = self.module if obj is None else obj
        name = request.get("name")
        for part in name.split(".") if name else ():
            target = getattr(target, part)
        return target

    def _dispatch(self, request: dict[str, Any]) -> Any:
        for hid in request.get("release", ()):
            self.objects.pop(hid, None)
        op = request["op"]
        if op == "getattr":
            return self._wrap(self._target(request), request.get("keep", False))
        if op == "setattr":
            setattr(request["obj"] or self.module, request["name"], request["value"])
            return None
        if op == "call":
            fn = self._target(request)
            result = fn(*request.get("args", ()), **request.get("kwargs", {}))
            return self._result(result, request)
        if op == "batch":
            results = []
            for obj, name, args, kwargs in request["calls"]:
                fn = self._target({"obj": obj, "name": name})
                results.append(fn(*args, **kwargs))
            return self._result(results, request)
        if op == "vjp":
            return self._vjp(request)
        if op == "release":
            for hid in request["ids"]:
                self.objects.pop(hid, None)
            return None
        if op == "ping":
            return "pong"
        if op == "cuda_memory":  # GPU memory is the driver's, not the kernel's: ask torch here
            import torch

            torch.cuda.synchronize()
            if request.get("reset"):
                torch.cuda.reset_peak_memory_stats()
            return [int(torch.cuda.memory_allocated()), int(torch.cuda.max_memory_allocated())]
        if op == "put":  # a value to keep here for later calls (inputs sent ahead of time)
            return self._keep(request["value"])
        if op == "dist_init":
            return _dist_init(request)
        if op == "dist_new_group":
            import torch.distributed as dist

            return self._keep(dist.new_group([int(r) for r in request["ranks"]]))
        if op == "manual_seed":  # the worker's global RNGs, as torch.manual_seed would set ours
            import random

            random.seed(int(request["seed"]))
            if "torch" in sys.modules:
                sys.modules["torch"].manual_seed(int(request["seed"]))
            return None
        raise ValueError(f"unknown request {op!r}")

    def _result(self, result: Any, request: dict[str, Any]) -> Any:
        seed = request.get("select")
        if seed is not None:
            return _select(result, int(seed))
        return self._wrap(result, request.get("keep", False))

    def _wrap(self, value: Any, keep: bool) -> Any:
        """With `keep`, tensors (at any depth of lists and tuples) stay here as handles."""
        if not keep:
            return value
        if _is_tensor(value):
            return self._keep(value)
        if isinstance(value, list | tuple):
            return type(value)(self._wrap(v, keep) for v in value)
        return value

    def _vjp(self, request: dict[str, Any]) -> Any:
        import torch

        args = list(request.get("args", ()))
        wrt = [int(i) for i in request["wrt"]]
        for i in wrt:
            args[i] = args[i].detach().requires_grad_(True)
        out = self._target(request)(*args, **request.get("kwargs", {}))
        outputs = [out] if _is_tensor(out) else [t for t in out if _is_tensor(t)]
        cotangents = list(request["cotangents"])
        pairs = [(o, c) for o, c in zip(outputs, cotangents, strict=False) if o.requires_grad]
        grads: list[Any] = [None] * len(wrt)
        if pairs:
            found = torch.autograd.grad(
                [o for o, _ in pairs],
                [args[i] for i in wrt],
                [c for _, c in pairs],
                allow_unused=True,
            )
            grads = list(found)
        detached = out.detach() if _is_tensor(out) else out
        return [detached, grads, [bool(o.requires_grad) for o in outputs]]

    def _changes(self, reply: dict[str, Any], decoded: Any, body: bytearray) -> None:
        """Tensor arguments changed in place, and generators advanced, by the call."""
        import_torch = sys.modules.get("torch")
        if import_torch is None:
            return
        torch = import_torch
        updates = {}
        for i, (tensor, offset, nbytes) in enumerate(decoded.tensors):
            if tensor.device.type == "meta":
                continue  # no values to change
            before = (
                torch.frombuffer(body, dtype=torch.uint8, count=nbytes, offset=offset)
                if nbytes
                else None
            )
            now = tensor.detach()
            if now.device.type != "cpu":
                now = now.cpu()
            now = now.contiguous().reshape(-1)
            same_size = now.numel() * now.element_size() == nbytes
            if not same_size or (nbytes and not torch.equal(now.view(torch.uint8), before)):
                updates[i] = tensor.detach()
        if updates:
            reply["updates"] = updates
        states = {}
        for i, (generator, before_state) in enumerate(decoded.generators):
            state = generator.get_state()
            if not torch.equal(state, before_state):
                states[i] = state.numpy().tobytes()
        if states:
            reply["states"] = states


def _containers(request: Any) -> bytes | None:
    """The arguments' lists and dicts as bytes (None when there are none): compared
    after the call, it tells whether the call changed them in place."""
    if not isinstance(request, dict) or request.get("op") != "call":
        return None
    args, kwargs = request.get("args", []), request.get("kwargs", {})
    values = [*args, *kwargs.values()]
    if not any(type(v) is list or type(v) is dict for v in values):
        return None
    placeholder = Handle(0, "", "")
    try:
        header, _, _ = encode([args, kwargs], lambda _: placeholder)
    except Exception:
        return None
    return header


# ProcessGroup methods behind torch.distributed's collectives. A ring kata asks for
# point-to-point sends only: once the group exists these raise, so an honest mistake
# fails at once and says why (a hostile solution can undo this; the judge also reads
# the source, and the bytes each rank writes come from the kernel, not from here).
COLLECTIVES = (
    "allreduce", "allreduce_coalesced", "broadcast", "allgather", "_allgather_base",
    "allgather_coalesced", "allgather_into_tensor_coalesced", "all_gather_single",
    "all_gather_single_coalesced", "reduce_scatter", "_reduce_scatter_base",
    "reduce_scatter_single", "reduce_scatter_single_coalesced",
    "reduce_scatter_tensor_coalesced", "reduce", "gather", "scatter", "alltoall",
    "alltoall_base", "all_to_all_single",
)  # fmt: skip


def _dist_init(request: dict[str, Any]) -> None:
    from datetime import timedelta

    import torch.distributed as dist

    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{int(request['port'])}",
        rank=int(request["rank"]),
        world_size=int(request["world_size"]),
        timeout=timedelta(seconds=float(request["timeout_s"])),
    )
    if request.get("point_to_point_only"):
        pg: Any = dist.ProcessGroup
        for name in COLLECTIVES:
            if name in vars(pg):
                setattr(pg, name, _forbidden(name))


def _forbidden(name: str) -> Any:
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"collective ProcessGroup.{name} called: only point-to-point "
            "send/recv/isend/irecv/batch_isend_irecv are allowed"
        )

    return call


def _arg_refs(value: Any, args: list[Any]) -> Any:
    """A result that *is* one of the tensor arguments is sent as a reference to it."""
    if not args:
        return value
    if isinstance(value, dict):
        return {k: (v if k != "ok" else _refs(v, args)) for k, v in value.items()}
    return value


def _refs(value: Any, args: list[Any]) -> Any:
    for i, (tensor, _, _) in enumerate(args):
        if value is tensor:
            return ArgRef(i)
    if type(value) is list or type(value) is tuple:
        return type(value)(_refs(v, args) for v in value)
    return value


def _is_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _select(value: Any, seed: int) -> Any:
    """Every tensor in `value` replaced by {shape, dtype, sample}: its elements at SAMPLE
    positions drawn from `seed` (all of them when it has fewer)."""
    counter = itertools.count()

    def walk(v: Any) -> Any:
        if _is_tensor(v):
            return _sample(v, seed + next(counter))
        if type(v) is list or type(v) is tuple:
            return type(v)(walk(x) for x in v)
        if type(v) is dict:
            return {k: walk(x) for k, x in v.items()}
        return v

    return walk(value)


def _sample(t: Any, seed: int) -> dict[str, Any]:
    import torch

    t = t.detach()
    meta = {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")}
    n = t.numel()
    if n <= SAMPLE:
        meta["sample"] = t.reshape(-1).cpu() if n else t.reshape(0).cpu()
        return meta
    g = torch.Generator().manual_seed(seed)
    flat = torch.randint(0, n, (SAMPLE,), generator=g)
    # The multi-index of each flat position, by hand: indexing a strided view with it
    # copies 64 elements, not the view (torch.unravel_index would import sympy here).
    index = []
    for size in reversed(t.shape):
        index.append(flat % size)
        flat = flat // size
    meta["sample"] = t[tuple(i.to(t.device) for i in reversed(index))].cpu()
    return meta


OUTPUT_CAP_MB = 0  # set by the zygote: the file size limit on what the solution prints


def describe(exc: BaseException) -> list[Any]:
    """[type name, base names, message, where in solution.py]."""
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith("solution.py"):
            where = f"solution.py line {frame.lineno}"
            break
    bases = [c.__name__ for c in type(exc).__mro__[1:]]
    try:
        message = str(exc)
    except BaseException:
        message = "(its message could not be read)"
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG and OUTPUT_CAP_MB:
        message += f" (output is capped at {OUTPUT_CAP_MB} MiB per process: print less)"
    # A message (or a class name) may hold what UTF-8 cannot (a lone surrogate): send it
    # written out, not a failure of its own.
    return [
        _sendable(type(exc).__name__),
        [_sendable(b) for b in bases],
        _sendable(message[:2000]),
        where,
    ]


def _sendable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def serve(sock: socket.socket, module_name: str) -> None:
    Worker(sock, module_name).run()


def _resident_bytes() -> int:
    with open("/proc/self/status", encoding="ascii", errors="replace") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0
