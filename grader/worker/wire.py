"""The wire between the judge and a worker: frames of msgpack plus raw tensor bytes.

Both sides use this module; what differs is who they trust. The judge decodes what
a worker sends with `Decoder` and nothing else: msgpack builds only plain values
(None, bool, int, float, str, bytes, list, dict), and each extension type below is
turned into a value by code of ours that runs nothing the worker chose (no pickle, no
import or class lookup by name, no `torch.load`). A tensor is a dtype from an
allow-list, a shape, a device and raw bytes whose length must match.

A frame on the socket:

    u64 length of the rest | u32 length of the header | header (msgpack) | buffers

Tensor bytes travel outside the msgpack header, each buffer at an offset the header
names, so a 4 MB tensor is not copied into and out of a msgpack string.

Values that are not plain data stay where they were made: the sender keeps them in
a table and sends a handle (an id, a kind and a type name); see `grader.worker.serve`
for the worker's table and `grader.judge.remote` for the judge's proxies.
"""

from __future__ import annotations

import builtins
import socket
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgpack

PREFIX = struct.Struct("!QI")
MAX_FRAME_BYTES = 256 << 20  # a frame larger than this is refused, not buffered
MAX_DEPTH = 64
# What a value outside its tensors' bytes may hold. Decoded, a byte can become a
# Python object of 30 to 60 bytes (an empty list, a small int), so without these a
# small reply could take the judge's memory: a frame's header, the length of any list
# or dict, and the list and dict entries of one value, all together.
MAX_HEADER_BYTES = 32 << 20
MAX_LENGTH = 1 << 20
MAX_ENTRIES = 4 << 20

# Extension type codes.
TENSOR, HANDLE, DTYPE, DEVICE, TUPLE, EXC_CLASS, GENERATOR, ARG, SLICE, BIGINT, SET = range(1, 12)
FROZENSET, ELLIPSIS = 12, 13

# The dtypes a tensor may have on the wire, by name. Nothing else is decoded.
DTYPES = (
    "float64", "float32", "float16", "bfloat16", "complex64", "complex128",
    "int64", "int32", "int16", "int8", "uint8", "bool",
)  # fmt: skip
DEVICE_KINDS = ("cpu", "cuda", "meta")

# Exceptions a worker may raise, rebuilt on the judge's side as these classes (or a
# subclass named as the worker named it): every builtin exception class.
BUILTIN_ERRORS: dict[str, type[BaseException]] = {
    name: cls
    for name, cls in vars(builtins).items()
    if isinstance(cls, type) and issubclass(cls, Exception)
}


class WireError(Exception):
    """A frame that breaks the protocol: too large, truncated, or not decodable."""


@dataclass(frozen=True)
class Handle:
    """A value that stayed on the other side: `kind` is object, callable, class or tensor."""

    id: int
    kind: str
    type_name: str


@dataclass(frozen=True)
class ExceptionClass:
    """An exception class defined by a solution: its name and its bases' names."""

    name: str
    mro: tuple[str, ...]


@dataclass(frozen=True)
class ArgRef:
    """In a reply: "this is the object you passed as tensor argument `index`"."""

    index: int


# -- frames ----------------------------------------------------------------------------


def send_frame(sock: socket.socket, header: bytes, buffers: list[memoryview]) -> None:
    """One frame in as few system calls as the socket allows (a wake-up of the other
    side costs tens of microseconds here; one per frame, not one per part)."""
    pads = [(-len(b)) % 64 for b in buffers]
    total = 4 + len(header) + sum(len(b) + p for b, p in zip(buffers, pads, strict=True))
    parts: list[memoryview] = [memoryview(PREFIX.pack(total, len(header))), memoryview(header)]
    for buf, pad in zip(buffers, pads, strict=True):
        if len(buf):  # an empty tensor has no bytes: an empty part would never be "sent"
            parts.append(buf)
        if pad:
            parts.append(memoryview(bytes(pad)))
    while parts:
        sent = sock.sendmsg(parts[:1024])
        while sent and parts:
            if sent >= len(parts[0]):
                sent -= len(parts[0])
                parts.pop(0)
            else:
                parts[0] = parts[0][sent:]
                sent = 0


def _recv_exactly(sock: socket.socket, n: int) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise EOFError("the other side closed the connection")
        got += k
    return buf


def recv_frame(sock: socket.socket, limit: int = MAX_FRAME_BYTES) -> tuple[bytes, bytearray, int]:
    """(header, the frame's bytes, where its buffers start)."""
    total, header_len = PREFIX.unpack(_recv_exactly(sock, PREFIX.size))
    if total > limit or header_len > total - 4:
        raise WireError(f"a frame of {total} bytes is over the limit of {limit}")
    if header_len > MAX_HEADER_BYTES:
        raise WireError(
            f"a value of {header_len} bytes besides its tensors is over the limit of"
            f" {MAX_HEADER_BYTES}"
        )
    body = _recv_exactly(sock, total - 4)
    return bytes(body[:header_len]), body, header_len


# -- encoding --------------------------------------------------------------------------


class Encoder:
    """Turns a value into (header, buffers). `on_other(value)` returns a `Handle` for
    anything that is not plain data (the sender keeps the value); `tensors` lists the
    tensors encoded, in order, so a reply can refer back to them."""

    def __init__(self, on_other: Callable[[Any], Handle]) -> None:
        self.on_other = on_other
        self.buffers: list[memoryview] = []
        self.tensors: list[Any] = []
        self.generators: list[Any] = []
        self._offset = 0

    def pack(self, value: Any) -> bytes:
        return msgpack.packb(value, default=self._default, strict_types=True)  # type: ignore[no-any-return]

    def _buffer(self, data: memoryview) -> int:
        offset = self._offset
        self.buffers.append(data)
        self._offset += len(data) + (-len(data)) % 64
        return offset

    def _default(self, value: Any) -> Any:
        if isinstance(value, tuple):  # torch.Size and named tuples arrive as tuples
            return msgpack.ExtType(TUPLE, self.pack(list(value)))
        if isinstance(value, bool | int | float | str | bytes | list | dict) or value is None:
            return self._plain_subclass(value)
        if isinstance(value, Handle):
            return msgpack.ExtType(HANDLE, self.pack([value.id, value.kind, value.type_name]))
        if isinstance(value, ArgRef):
            return msgpack.ExtType(ARG, self.pack(value.index))
        if isinstance(value, ExceptionClass):
            return msgpack.ExtType(EXC_CLASS, self.pack([value.name, list(value.mro)]))
        if isinstance(value, slice):
            return msgpack.ExtType(SLICE, self.pack([value.start, value.stop, value.step]))
        if value is Ellipsis:
            return msgpack.ExtType(ELLIPSIS, b"")
        if isinstance(value, set | frozenset):
            code = SET if isinstance(value, set) else FROZENSET
            return msgpack.ExtType(code, self.pack(list(value)))
        torch = sys.modules.get("torch")
        if torch is not None:
            if isinstance(value, torch.Tensor):  # a subclass crosses as its bytes only
                return self._tensor(value)
            if isinstance(value, torch.dtype):
                return msgpack.ExtType(DTYPE, self.pack(str(value).removeprefix("torch.")))
            if isinstance(value, torch.device):
                return msgpack.ExtType(DEVICE, self.pack(str(value)))
            if isinstance(value, torch.Generator):
                self.generators.append(value)
                state = value.get_state().numpy().tobytes()
                return msgpack.ExtType(GENERATOR, self.pack([str(value.device), state]))
        return self._default_other(value)

    def _plain_subclass(self, value: Any) -> Any:
        """A subclass of a plain type (an IntEnum, a str subclass) is sent as a handle:
        its methods and comparisons are the sender's, not plain data's."""
        return self._default_other(value)

    def _default_other(self, value: Any) -> Any:
        if isinstance(value, type) and issubclass(value, BaseException):
            names = [c.__name__ for c in value.__mro__[1:]]
            return msgpack.ExtType(EXC_CLASS, self.pack([value.__name__, names]))
        handle = self.on_other(value)
        return msgpack.ExtType(HANDLE, self.pack([handle.id, handle.kind, handle.type_name]))

    def _tensor(self, t: Any) -> msgpack.ExtType:
        import torch

        dtype = str(t.dtype).removeprefix("torch.")
        if dtype not in DTYPES or t.layout != torch.strided or t.is_quantized:
            return self._default_other(t)
        self.tensors.append(t)  # numbered as the receiver numbers what it decodes
        if t.device.type == "meta":  # shape and dtype only: a meta tensor has no bytes
            meta = [dtype, list(t.shape), "meta", bool(t.requires_grad), 0, 0]
            return msgpack.ExtType(TENSOR, self.pack(meta))
        flat = t.detach()
        if flat.device.type != "cpu":
            flat = flat.cpu()
        flat = flat.contiguous().reshape(-1)
        raw = flat.view(torch.uint8) if flat.numel() else torch.empty(0, dtype=torch.uint8)
        data = raw.numpy().data.cast("B")
        offset = self._buffer(data)
        meta = [dtype, list(t.shape), str(t.device), bool(t.requires_grad), offset, len(data)]
        return msgpack.ExtType(TENSOR, self.pack(meta))


def encode(
    value: Any, on_other: Callable[[Any], Handle]
) -> tuple[bytes, list[memoryview], Encoder]:
    encoder = Encoder(on_other)
    return encoder.pack(value), encoder.buffers, encoder


# -- decoding --------------------------------------------------------------------------


@dataclass
class Decoded:
    value: Any
    tensors: list[tuple[Any, int, int]]  # (tensor, offset of its bytes in the frame, nbytes)
    generators: list[tuple[Any, Any]]  # (generator, its state as decoded)
    tensor_bytes: int = 0  # what the tensors decoded so far copied out of the frame


class Decoder:
    """Rebuilds a value from a frame. `on_handle(handle)` turns a handle into what the
    receiver uses for it (the worker: its own object; the judge: a proxy)."""

    def __init__(
        self,
        on_handle: Callable[[Handle], Any],
        on_exception_class: Callable[[ExceptionClass], Any] | None = None,
        on_arg: Callable[[int], Any] | None = None,
    ) -> None:
        self.on_handle = on_handle
        self.on_exception_class = on_exception_class
        self.on_arg = on_arg

    def decode(self, header: bytes, body: bytearray, start: int) -> Decoded:
        out = Decoded(None, [], [])
        depth = [0]
        entries = [0]

        def counted(container: Any) -> Any:
            entries[0] += len(container) + 1
            if entries[0] > MAX_ENTRIES:
                raise WireError(f"a value with more than {MAX_ENTRIES} list and dict entries")
            return container

        def unpack(data: bytes) -> Any:
            depth[0] += 1
            if depth[0] > MAX_DEPTH:
                raise WireError("a value nested too deeply")
            try:
                return msgpack.unpackb(
                    data,
                    ext_hook=hook,
                    list_hook=counted,
                    object_hook=counted,
                    strict_map_key=False,
                    raw=False,
                    use_list=True,
                    max_array_len=MAX_LENGTH,
                    max_map_len=MAX_LENGTH,
                )
            finally:
                depth[0] -= 1

        def hook(code: int, data: bytes) -> Any:
            try:
                return self._ext(code, data, unpack, body, start, out)
            except (ValueError, TypeError, KeyError, IndexError, RuntimeError) as exc:
                raise WireError(f"a malformed value on the wire: {exc}") from exc

        try:
            out.value = unpack(header)
        except WireError:
            raise
        except ValueError as exc:
            if "exceeds max_" in str(exc):  # msgpack's words for MAX_LENGTH
                raise WireError(f"a list or dict longer than {MAX_LENGTH} entries") from exc
            raise WireError(f"not a valid message: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # msgpack's own errors: ExtraData, FormatError, ...
            raise WireError(f"not a valid message: {type(exc).__name__}: {exc}") from exc
        finally:
            # The two closures refer to each other (and to the frame): a cycle that only
            # the garbage collector would free, keeping every frame resident till then
            # and skewing memory figures. Emptying their cells frees them now.
            unpack = hook = counted = None  # type: ignore[assignment]
        return out

    def _ext(
        self,
        code: int,
        data: bytes,
        unpack: Callable[[bytes], Any],
        body: bytearray,
        start: int,
        out: Decoded,
    ) -> Any:
        if code == TUPLE:
            return tuple(_expect(unpack(data), list))
        if code == SET:
            return set(_expect(unpack(data), list))
        if code == FROZENSET:
            return frozenset(_expect(unpack(data), list))
        if code == SLICE:
            start_, stop, step = _expect(unpack(data), list)
            return slice(_opt_int(start_), _opt_int(stop), _opt_int(step))
        if code == ELLIPSIS:
            return Ellipsis
        if code == HANDLE:
            hid, kind, type_name = _expect(unpack(data), list)
            return self.on_handle(Handle(_int(hid), _str(kind), _str(type_name)))
        if code == EXC_CLASS and self.on_exception_class is not None:
            name, mro = _expect(unpack(data), list)
            names = tuple(_str(n) for n in _expect(mro, list))
            return self.on_exception_class(ExceptionClass(_str(name), names))
        if code == ARG and self.on_arg is not None:
            return self.on_arg(_int(unpack(data)))
        if code == TENSOR:
            tensor, offset, nbytes = _tensor(_expect(unpack(data), list), body, start)
            out.tensors.append((tensor, start + offset, nbytes))
            # Each tensor is a copy of its bytes: many pointing at one region would make
            # a small frame decode to gigabytes. Together they fit in the frame, or none do.
            out.tensor_bytes += nbytes
            if out.tensor_bytes > len(body) - start:
                raise WireError("tensors that share their bytes on the wire")
            return tensor
        if code == DTYPE:
            return _dtype(_str(unpack(data)))
        if code == DEVICE:
            return _device(_str(unpack(data)))
        if code == GENERATOR:
            device, state = _expect(unpack(data), list)
            generator = _generator(_str(device), _expect(state, bytes))
            out.generators.append((generator, generator.get_state()))
            return generator
        raise WireError(f"unknown value type {code} on the wire")


def _expect(value: Any, kind: type) -> Any:
    if type(value) is not kind:
        raise WireError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _int(value: Any) -> int:
    return int(_expect(value, int))


def _str(value: Any) -> str:
    return str(_expect(value, str))


def _opt_int(value: Any) -> int | None:
    return None if value is None else _int(value)


def _dtype(name: str) -> Any:
    import torch

    if name not in DTYPES:
        raise WireError(f"dtype {name!r} is not allowed on the wire")
    return getattr(torch, name)


def _device(name: str) -> Any:
    import torch

    if name.partition(":")[0] not in DEVICE_KINDS:
        raise WireError(f"device {name!r} is not allowed on the wire")
    return torch.device(name)


def _generator(device: str, state: bytes) -> Any:
    import torch

    generator = torch.Generator(device=_device(device))
    generator.set_state(torch.frombuffer(bytearray(state), dtype=torch.uint8))
    return generator


def _tensor(meta: list[Any], body: bytearray, start: int) -> tuple[Any, int, int]:
    import torch

    dtype_name, shape, device, requires_grad, offset, nbytes = meta
    dtype = _dtype(_str(dtype_name))
    dims = [_int(d) for d in _expect(shape, list)]
    if any(d < 0 for d in dims):
        raise WireError(f"a negative dimension in shape {dims}")
    numel = 1
    for d in dims:
        numel *= d
    itemsize = torch.empty(0, dtype=dtype).element_size()
    offset, nbytes = _int(offset), _int(nbytes)
    target = _device(_str(device))
    if target.type == "meta":
        if nbytes:
            raise WireError("a meta tensor carries no bytes")
        return torch.empty(dims, dtype=dtype, device="meta"), offset, 0
    if nbytes != numel * itemsize or offset < 0 or start + offset + nbytes > len(body):
        raise WireError(f"tensor bytes do not match shape {dims} of {dtype_name}")
    if nbytes:
        raw = torch.frombuffer(body, dtype=torch.uint8, count=nbytes, offset=start + offset)
        tensor = raw.clone().view(dtype).reshape(dims)
    else:
        tensor = torch.empty(dims, dtype=dtype)
    if target.type != "cpu":
        tensor = tensor.to(target)
    if _expect(requires_grad, bool):
        tensor.requires_grad_(True)
    return tensor, offset, nbytes
