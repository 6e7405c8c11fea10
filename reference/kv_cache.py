"""Key/value caches for decoding: a preallocated contiguous cache and a rolling buffer.

Both hold every layer of a decoder with grouped-query attention, for a batch of
sequences that may have different lengths. Storage is allocated once, at
construction, with the dtype and device it will always have:

    k, v   [n_layers, batch, capacity, n_kv_heads, head_dim]

where capacity is `max_seq_len` (contiguous) or the window W (rolling buffer).

One call per layer per forward pass:

    k_all, v_all, lengths = cache.update(layer, k_new, v_new, start_pos)

    k_new, v_new  [batch, T, n_kv_heads, head_dim]   T new tokens per sequence
    start_pos     int64 [batch]   position of k_new[b, 0] (tokens sequence b already has)
    k_all, v_all  [batch, L, n_kv_heads, head_dim]   what attention reads: row b holds
                  that sequence's cached tokens in time order, oldest first, in
                  k_all[b, :lengths[b]]; entries after lengths[b] are stale or padding
    lengths       int64 [batch] on the cache's device

Every layer of a forward pass is called with the same start_pos; the cache keeps no
position state of its own, so layers cannot drift apart and a row can be reused by
a new sequence by passing start_pos 0 for it. Keep start_pos on the CPU: the cache
reads max(start_pos) to size its views, which on a GPU tensor would wait for the
device. The returned tensors are valid until the next update: the contiguous
cache returns views of its storage, the rolling buffer gathers into a scratch
buffer that every layer's next read reuses.

A decode step writes batch * T tokens and returns views: O(1) per appended token,
never a copy or a reallocation of the cache (gpt-fast's preallocated cache; a cache
grown with `torch.cat` copies every cached token on every step).
"""

from __future__ import annotations

import torch

Device = torch.device | str


class KVCache:
    """Contiguous cache: token at position p of sequence b lives at `k[layer, b, p]`.

    update returns views `k[layer, :, :L]`, L = max(start_pos) + T, and
    lengths = start_pos + T (or start_pos + n_new when the chunk is right-padded).
    Worked example, batch 2, start_pos [3, 1], T = 1: the new tokens are written to
    `k[layer, 0, 3]` and `k[layer, 1, 1]`; the result is `k[layer, :, :4]` with
    lengths [4, 2], so sequence 1 reads keys 0..1 and ignores keys 2..3.
    """

    def __init__(
        self,
        n_layers: int,
        batch_size: int,
        max_seq_len: int,
        n_kv_heads: int,
        head_dim: int,
        *,
        dtype: torch.dtype = torch.float32,
        device: Device = "cpu",
    ) -> None:
        shape = (n_layers, batch_size, max_seq_len, n_kv_heads, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.max_seq_len = max_seq_len
        self._rows = _Rows(self.k, self.v)

    def update(
        self,
        layer: int,
        k_new: torch.Tensor,
        v_new: torch.Tensor,
        start_pos: torch.Tensor,
        *,
        n_new: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Write token t of sequence b at position start_pos[b] + t; return what to attend.

        n_new (int64 [batch], optional): real tokens per sequence when the chunk is
        right-padded to T; the padding is written past each sequence's end, where
        attention ignores it and later tokens overwrite it.
        """
        rows = self._rows
        t = rows.check(k_new, v_new)
        end = int(start_pos.max()) + t  # host int, free when start_pos is on the CPU
        if end > self.max_seq_len:
            raise ValueError(f"positions up to {end - 1} do not fit max_seq_len={self.max_seq_len}")
        pos = start_pos.to(device=self.k.device, dtype=torch.long, non_blocking=True)  # [batch]
        rows.write(layer, rows.span(pos, t), k_new, v_new)
        lengths = pos + (t if n_new is None else n_new.to(pos.device, torch.long))
        return rows.k[layer][:, :end], rows.v[layer][:, :end], lengths


class RollingKVCache:
    """Rolling buffer for a sliding window W: only the last W tokens of a sequence are kept.

    The token at position p goes to slot `p % W`, overwriting the token at p - W,
    which has just left the window (query p attends keys p-W+1 .. p, itself included).
    Worked example, W = 4, one sequence, positions 0..6 written one at a time:

        position  0 1 2 3 4 5 6
        slot      0 1 2 3 0 1 2

        after position 6 the slots hold   slot: 0 1 2 3
                                      position: 4 5 6 3

    The cache has seen end = 7 tokens; it keeps lengths = min(end, W) = 4 of them,
    the oldest being position end - lengths = 3, in slot 3. Reading in time order
    starts there and wraps: slots 3, 0, 1, 2 -> positions 3, 4, 5, 6. In general key i
    of sequence b is position oldest_b + i, read from slot (oldest_b + i) % W.
    Until a sequence has W tokens nothing has wrapped and slot order is time order.

    A chunk longer than the window keeps only its last W tokens: a 6-token prefill
    (positions 0..5) into W = 4 stores positions 2, 3, 4, 5 in slots 2, 3, 0, 1.
    update returns the window after the write: [batch, L, n_kv_heads, head_dim] with
    L = min(W, max(start_pos) + T) and lengths = min(start_pos + T, W). That is what a
    decode step attends to. A multi-token chunk's own attention needs keys that this
    chunk may evict (query p needs p-W+1..p), so it attends over the chunk's fresh keys
    instead (with the window mask), as mistral-inference does in prefill.

    start_pos[b] must be the sequence's current length (append), one less (rewrite
    the newest token), or 0 (a new sequence in row b): older positions have been
    overwritten and cannot be rewritten. Before the wrap the read is a view of the
    buffer; after it, a gather into a scratch buffer that the next update (of any
    layer) overwrites: attend over it before updating again.
    """

    def __init__(
        self,
        n_layers: int,
        batch_size: int,
        window: int,
        n_kv_heads: int,
        head_dim: int,
        *,
        dtype: torch.dtype = torch.float32,
        device: Device = "cpu",
    ) -> None:
        shape = (n_layers, batch_size, window, n_kv_heads, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.window = window
        self._rows = _Rows(self.k, self.v)
        # Time-ordered reads are gathered here, one layer's worth shared by all layers:
        # a decode step then allocates nothing (on the CPU a fresh tensor per read
        # costs more in page faults than the gather itself).
        self._read_k = torch.empty_like(self._rows.k_flat[0])  # [batch * window, n_kv, hd]
        self._read_v = torch.empty_like(self._rows.v_flat[0])

    def update(
        self,
        layer: int,
        k_new: torch.Tensor,
        v_new: torch.Tensor,
        start_pos: torch.Tensor,
        *,
        n_new: torch.Tensor | None = None,
        ordered: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Write the last W tokens of the chunk to slots `pos % W`; return the window in time order.

        n_new (int64 [batch], optional): real tokens per sequence when the chunk is
        right-padded to T. Padding must not be written here (its slots hold live
        tokens), so this path selects the stored tokens with a boolean mask, which
        costs a device synchronisation on a GPU: meant for prefill, not decode.

        ordered=False returns the window in slot order instead: views of the buffer,
        no gather. Key i is then slot i, valid for i < lengths[b] as in time order
        (before the wrap the two orders agree; after it every slot is valid). For a
        caller whose attention does not depend on the order of the keys, such as a
        decode step whose keys were cached after RoPE (the engine's).
        """
        w, rows = self.window, self._rows
        t = rows.check(k_new, v_new)
        pos = start_pos.to(device=self.k.device, dtype=torch.long, non_blocking=True)  # [batch]
        if n_new is None:
            keep = min(t, w)  # a chunk longer than the window leaves its last w tokens
            first = pos + (t - keep) if keep < t else pos  # [batch] first stored position
            slots = rows.span(first, keep) % w  # [batch, keep]
            rows.write(layer, slots, k_new[:, t - keep :], v_new[:, t - keep :])
            end = pos + t
        else:
            n = n_new.to(pos.device, torch.long)
            end = pos + n
            j = torch.arange(t, device=pos.device)
            # Token j is stored iff it is real (j < n) and among the last w real ones.
            stored = (j < n[:, None]) & (j >= (n - w)[:, None])  # [batch, T]
            b, j = stored.nonzero(as_tuple=True)  # [n_stored] each
            rows.write_at(layer, b, (pos[b] + j) % w, k_new[b, j], v_new[b, j])
        lengths = end.clamp(max=w)
        longest = int(start_pos.max()) + t  # host int, an upper bound on every end
        if longest <= w or not ordered:
            # Nothing has wrapped: slots 0 .. end-1 hold positions 0 .. end-1, a view will do.
            width = min(longest, w)
            return rows.k[layer][:, :width], rows.v[layer][:, :width], lengths
        oldest = end - lengths  # [batch] position of the oldest cached token
        slots = rows.span(oldest, w) % w  # [batch, w] slot of key i
        return (*rows.read(layer, slots, self._read_k, self._read_v), lengths)


class _Rows:
    """A cache seen as rows of [n_kv_heads, head_dim]: indexed writes and reads.

    Each layer's [batch, capacity] grid of tokens is flattened to batch * capacity
    rows, row b * capacity + c holding column c (a position, or a slot) of sequence
    b. One `index_copy_` then writes every new token of every sequence, and one
    `index_select` gathers a read, whatever the per-sequence columns. Per-layer views
    are kept in tuples so that the hot path does no indexing of its own.
    """

    def __init__(self, k: torch.Tensor, v: torch.Tensor) -> None:
        n_layers, batch, capacity, n_kv, head_dim = k.shape
        self.k = k.unbind(0)  # per layer [batch, capacity, n_kv_heads, head_dim] views
        self.v = v.unbind(0)
        self.k_flat = k.view(n_layers, batch * capacity, n_kv, head_dim).unbind(0)
        self.v_flat = v.view(n_layers, batch * capacity, n_kv, head_dim).unbind(0)
        self.shape = (batch, n_kv, head_dim)
        self.dtype = k.dtype
        self.row_start = (torch.arange(batch, device=k.device) * capacity)[:, None]  # [batch, 1]
        self.steps = torch.arange(max(capacity, 1), device=k.device)  # 0, 1, 2, ...

    def check(self, k_new: torch.Tensor, v_new: torch.Tensor) -> int:
        """Validate a chunk [batch, T, n_kv_heads, head_dim] (shape, dtype); return T."""
        batch, n_kv, head_dim = self.shape
        if k_new.dim() != 4 or (k_new.shape[0], *k_new.shape[2:]) != self.shape:
            raise ValueError(
                f"expected k_new of shape [batch={batch}, T, n_kv_heads={n_kv}, "
                f"head_dim={head_dim}], got {tuple(k_new.shape)}"
            )
        if v_new.shape != k_new.shape:
            raise ValueError(f"v_new {tuple(v_new.shape)} differs from k_new {tuple(k_new.shape)}")
        if k_new.dtype != self.dtype or v_new.dtype != self.dtype:
            raise TypeError(f"the cache holds {self.dtype}, got {k_new.dtype} / {v_new.dtype}")
        return k_new.shape[1]

    def span(self, first: torch.Tensor, n: int) -> torch.Tensor:
        """Columns first[b] + i for i < n, [batch, n]; a decode step (n = 1) is just first."""
        return first[:, None] if n == 1 else first[:, None] + self.steps[:n]

    def write(self, layer: int, cols: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
        """Store k[b, i], v[b, i] at column cols[b, i] of sequence b; cols [batch, n]."""
        rows = (cols + self.row_start).view(-1)  # [batch * n]
        self.k_flat[layer].index_copy_(0, rows, k.flatten(0, 1))
        self.v_flat[layer].index_copy_(0, rows, v.flatten(0, 1))

    def write_at(
        self, layer: int, b: torch.Tensor, col: torch.Tensor, k: torch.Tensor, v: torch.Tensor
    ) -> None:
        """Store k[i], v[i] at column col[i] of sequence b[i]; b, col [n], k, v [n, ...]."""
        rows = self.row_start[b, 0] + col
        self.k_flat[layer].index_copy_(0, rows, k)
        self.v_flat[layer].index_copy_(0, rows, v)

    def read(
        self, layer: int, cols: torch.Tensor, out_k: torch.Tensor, out_v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Gather column cols[b, i] of sequence b: [batch, n, n_kv_heads, head_dim] views of out_*."""
        rows = (cols + self.row_start).view(-1)  # [batch * n]
        k = torch.index_select(self.k_flat[layer], 0, rows, out=out_k[: rows.numel()])
        v = torch.index_select(self.v_flat[layer], 0, rows, out=out_v[: rows.numel()])
        return k.view(*cols.shape, *k.shape[1:]), v.view(*cols.shape, *v.shape[1:])
