"""reference.kv_cache: decoding through SDPA with the caches equals recomputation without them.

Oracles: `scaled_dot_product_attention` over whole sequences with masks built here
(causal, and the sliding window `i - W < j <= i`), and hand-worked slot tables.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reference.kv_cache import KVCache, RollingKVCache

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, needs_cuda])]

N_LAYERS, N_KV, GROUP, D = 2, 2, 3, 8  # 6 query heads share 2 kv heads


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """SDPA with GQA by repeat_interleave; q [b, tq, hq, d], k/v [b, tk, hkv, d], mask [b, tq, tk]."""
    k = k.repeat_interleave(GROUP, dim=2)
    v = v.repeat_interleave(GROUP, dim=2)
    out = F.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask[:, None]
    )
    return out.transpose(1, 2)  # [b, tq, hq, d]


def window_mask(n: int, window: int | None, device: torch.device | str) -> torch.Tensor:
    """[n, n] bool: query i attends key j iff i - window < j <= i (None: causal)."""
    i = torch.arange(n, device=device)[:, None]
    j = torch.arange(n, device=device)[None, :]
    allowed = j <= i
    return allowed & (j > i - window) if window is not None else allowed


def full(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int | None) -> torch.Tensor:
    """Attention over whole sequences, no cache: the recomputation every decode must equal."""
    mask = window_mask(q.shape[1], window, q.device).expand(q.shape[0], -1, -1)
    return attend(q, k, v, mask)


def decode_attend(
    q: torch.Tensor, k_all: torch.Tensor, v_all: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """One query per sequence over what update returned, keys [0, lengths[b]) valid."""
    valid = torch.arange(k_all.shape[1], device=k_all.device) < lengths[:, None]  # [b, L]
    return attend(q, k_all, v_all, valid[:, None, :])


def check(got: torch.Tensor, want: torch.Tensor) -> None:
    # allclose first: assert_close is slow, and is only needed to word a failure.
    if not torch.allclose(got, want, atol=1e-5, rtol=1e-5):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def sequences(
    batch: int, n: int, seed: int, device: str, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """q [layers, b, n, hq, d], k and v [layers, b, n, hkv, d]."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(N_LAYERS, batch, n, N_KV * GROUP, D, generator=g)
    k = torch.randn(N_LAYERS, batch, n, N_KV, D, generator=g)
    v = torch.randn(N_LAYERS, batch, n, N_KV, D, generator=g)
    return q.to(device, dtype), k.to(device, dtype), v.to(device, dtype)


def at(x: torch.Tensor, pos: list[int]) -> torch.Tensor:
    """x[b, pos[b]] for every b, as [b, 1, ...]: each sequence's own current token."""
    rows = torch.arange(x.shape[0], device=x.device)
    return x[rows, torch.tensor(pos, device=x.device)][:, None]


def numbered(start: list[int], t: int) -> torch.Tensor:
    """[b, t, 1, 1] float: token t of sequence b carries 100 * b + its position."""
    pos = torch.tensor(start)[:, None] + torch.arange(t)
    return (100.0 * torch.arange(len(start))[:, None] + pos)[:, :, None, None]


def ids(x: torch.Tensor) -> list[list[int]]:
    return [[int(v) for v in row] for row in x[:, :, 0, 0].tolist()]


# Decode through attention against recomputation -------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_contiguous_decode_matches_full_causal_recomputation(device: str) -> None:
    batch, prompt, steps = 2, 7, 60
    n = prompt + steps
    q, k, v = sequences(batch, n, seed=0, device=device)
    want = [full(q[i], k[i], v[i], None) for i in range(N_LAYERS)]
    cache = KVCache(N_LAYERS, batch, n, N_KV, D, device=device)
    start = torch.zeros(batch, dtype=torch.long)
    for layer in range(N_LAYERS):
        k_all, v_all, lengths = cache.update(
            layer, k[layer, :, :prompt], v[layer, :, :prompt], start
        )
        # The prefill attends causally over what the cache returned.
        mask = window_mask(prompt, None, device).expand(batch, -1, -1)
        got = attend(q[layer, :, :prompt], k_all, v_all, mask)
        check(got, want[layer][:, :prompt])
    for p in range(prompt, n):
        for layer in range(N_LAYERS):
            s = slice(p, p + 1)
            k_all, v_all, lengths = cache.update(
                layer, k[layer, :, s], v[layer, :, s], torch.full((batch,), p)
            )
            got = decode_attend(q[layer, :, s], k_all, v_all, lengths)
            check(got, want[layer][:, s])


@pytest.mark.parametrize("device", DEVICES)
def test_rolling_decode_matches_sliding_window_recomputation(device: str) -> None:
    batch, window, prompt, steps = 2, 8, 19, 50  # the prompt alone is longer than W
    n = prompt + steps
    q, k, v = sequences(batch, n, seed=1, device=device)
    want = [full(q[i], k[i], v[i], window) for i in range(N_LAYERS)]
    cache = RollingKVCache(N_LAYERS, batch, window, N_KV, D, device=device)
    for layer in range(N_LAYERS):
        cache.update(layer, k[layer, :, :prompt], v[layer, :, :prompt], torch.zeros(batch).long())
    for p in range(prompt, n):
        for layer in range(N_LAYERS):
            s = slice(p, p + 1)
            k_all, v_all, lengths = cache.update(
                layer, k[layer, :, s], v[layer, :, s], torch.full((batch,), p)
            )
            assert lengths.tolist() == [window] * batch
            got = decode_attend(q[layer, :, s], k_all, v_all, lengths)
            check(got, want[layer][:, s])


@pytest.mark.parametrize("window", [None, 5])
def test_ragged_right_padded_prefill_with_n_new_then_decode(window: int | None) -> None:
    prompts, steps = [9, 2, 6], 40
    batch, longest = len(prompts), max(prompts)
    n = longest + steps
    q, k, v = sequences(batch, n, seed=2, device="cpu")
    want = [full(q[i], k[i], v[i], window) for i in range(N_LAYERS)]
    cache: KVCache | RollingKVCache = (
        KVCache(N_LAYERS, batch, n, N_KV, D)
        if window is None
        else RollingKVCache(N_LAYERS, batch, window, N_KV, D)
    )
    n_new = torch.tensor(prompts)
    for layer in range(N_LAYERS):
        # Sequence b's tokens past prompts[b] are padding: they must never be read.
        padded_k = k[layer, :, :longest].clone()
        padded_v = v[layer, :, :longest].clone()
        for b, plen in enumerate(prompts):
            padded_k[b, plen:] = 1e3  # finite: masked keys must not be NaN for SDPA
            padded_v[b, plen:] = 1e3
        _, _, lengths = cache.update(
            layer, padded_k, padded_v, torch.zeros(batch).long(), n_new=n_new
        )
        cap = window or n
        assert lengths.tolist() == [min(p, cap) for p in prompts]
    for step in range(steps):
        pos = [plen + step for plen in prompts]
        for layer in range(N_LAYERS):
            k_all, v_all, lengths = cache.update(
                layer, at(k[layer], pos), at(v[layer], pos), torch.tensor(pos)
            )
            got = decode_attend(at(q[layer], pos), k_all, v_all, lengths)
            check(got, at(want[layer], pos))


# Contiguous cache: positions, views, no reallocation ---------------------------------


def test_contiguous_worked_example_from_the_docstring() -> None:
    cache = KVCache(2, 2, 8, 1, 1)
    cache.update(1, numbered([0, 0], 3), numbered([0, 0], 3), torch.tensor([0, 0]))
    k, _, lengths = cache.update(1, numbered([3, 1], 1), numbered([3, 1], 1), torch.tensor([3, 1]))
    assert tuple(k.shape) == (2, 4, 1, 1)
    assert lengths.tolist() == [4, 2]
    assert ids(k) == [[0, 1, 2, 3], [100, 101, 102, 0]]
    assert ids(cache.k[0]) == [[0] * 8, [0] * 8], "layer 0 untouched"


def test_contiguous_update_returns_views_and_never_reallocates() -> None:
    cache = KVCache(2, 2, 64, 2, 4)
    k_ptr, v_ptr = cache.k.data_ptr(), cache.v.data_ptr()
    x = torch.randn(2, 1, 2, 4)
    for p in range(50):
        k, v, _ = cache.update(1, x, x, torch.tensor([p, p]))
        assert k.data_ptr() == cache.k[1].data_ptr(), "keys must be a view of cache.k[1]"
        assert v.data_ptr() == cache.v[1].data_ptr(), "values must be a view of cache.v[1]"
        assert k._base is cache.k and v._base is cache.v
    assert (cache.k.data_ptr(), cache.v.data_ptr()) == (k_ptr, v_ptr)


def test_contiguous_layers_are_independent_and_rows_can_restart() -> None:
    cache = KVCache(2, 2, 16, 1, 1)
    cache.update(0, numbered([0, 0], 6), numbered([0, 0], 6), torch.tensor([0, 0]))
    cache.update(1, -numbered([0, 0], 2), -numbered([0, 0], 2), torch.tensor([0, 0]))
    k, _, lengths = cache.update(0, numbered([6, 0], 1), numbered([6, 0], 1), torch.tensor([6, 0]))
    assert lengths.tolist() == [7, 1], "row 1 restarted at position 0"
    assert ids(k)[0] == list(range(7)) and ids(k)[1][0] == 100
    assert ids(cache.k[1])[0][:3] == [0, -1, 0], "layer 1 keeps its own keys"


def test_contiguous_rejects_overflow_wrong_shape_and_dtype() -> None:
    cache = KVCache(1, 2, 4, 1, 2)
    x = torch.zeros(2, 3, 1, 2)
    with pytest.raises(ValueError, match="max_seq_len"):
        cache.update(0, x, x, torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="shape"):
        cache.update(0, x[:1], x[:1], torch.tensor([0]))
    with pytest.raises(TypeError, match="float32"):
        cache.update(0, x.double(), x.double(), torch.tensor([0, 0]))


# Rolling buffer: slots, time order, wrap-around ---------------------------------------


def test_rolling_worked_example_from_the_docstring() -> None:
    cache = RollingKVCache(1, 1, 4, 1, 1)
    reads = []
    for p in range(7):
        k, _, lengths = cache.update(0, numbered([p], 1), numbered([p], 1), torch.tensor([p]))
        reads.append(ids(k)[0])
    assert ids(cache.k[0]) == [[4, 5, 6, 3]], "positions 0..6 -> slots 0 1 2 3 0 1 2"
    assert reads == [[0], [0, 1], [0, 1, 2], [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 6]]
    assert lengths.tolist() == [4]
    cache = RollingKVCache(1, 1, 4, 1, 1)
    k, _, _ = cache.update(0, numbered([0], 6), numbered([0], 6), torch.tensor([0]))
    assert ids(cache.k[0]) == [[4, 5, 2, 3]], "a 6-token prefill keeps 2..5 in slots 2 3 0 1"
    assert ids(k) == [[2, 3, 4, 5]]


@pytest.mark.parametrize("window", [1, 2, 5])
@pytest.mark.parametrize("multiple", [1, 2, 3])
def test_rolling_wraps_exactly_at_multiples_of_the_window(window: int, multiple: int) -> None:
    cache = RollingKVCache(1, 1, window, 1, 1)
    end = window * multiple
    for p in range(end + 1):
        k, _, _ = cache.update(0, numbered([p], 1), numbered([p], 1), torch.tensor([p]))
        if p == end - 1:
            assert ids(k) == [list(range(end - window, end))], f"at end = {end}"
            assert ids(cache.k[0]) == [list(range(end - window, end))], "slot order = time order"
    assert ids(k) == [list(range(end + 1 - window, end + 1))], "one past the multiple"
    assert ids(cache.k[0])[0][0] == end, f"position {end} lands in slot 0"


def test_rolling_reads_views_before_the_wrap_and_gathers_after() -> None:
    cache = RollingKVCache(1, 2, 4, 1, 1)
    k, _, _ = cache.update(0, numbered([0, 0], 3), numbered([0, 0], 3), torch.tensor([0, 0]))
    assert k.data_ptr() == cache.k[0].data_ptr(), "before any wrap the read is a view"
    k, _, lengths = cache.update(0, numbered([3, 3], 2), numbered([3, 3], 2), torch.tensor([3, 3]))
    assert ids(k) == [[1, 2, 3, 4], [101, 102, 103, 104]] and lengths.tolist() == [4, 4]


def test_rolling_ragged_batch_rotates_each_sequence_by_its_own_end() -> None:
    cache = RollingKVCache(1, 3, 4, 1, 1)
    cache.update(0, numbered([0, 0, 0], 3), numbered([0, 0, 0], 3), torch.tensor([0, 0, 0]))
    k, _, lengths = cache.update(
        0, numbered([3, 3, 0], 3), numbered([3, 3, 0], 3), torch.tensor([3, 3, 0])
    )
    assert lengths.tolist() == [4, 4, 3]
    valid = [row[:n] for row, n in zip(ids(k), lengths.tolist(), strict=True)]
    assert valid == [[2, 3, 4, 5], [102, 103, 104, 105], [200, 201, 202]]


def test_rolling_slot_order_read_holds_the_time_order_keys_as_views() -> None:
    ordered, slotted = RollingKVCache(1, 2, 4, 1, 1), RollingKVCache(1, 2, 4, 1, 1)
    for p in range(7):  # lane 0 wraps at position 4; lane 1 restarts at 0 when p = 3
        start = torch.tensor([p, p % 3])
        x = numbered(start.tolist(), 1)
        k_t, _, n_t = ordered.update(0, x, x, start)
        k_s, _, n_s = slotted.update(0, x, x, start, ordered=False)
        assert k_s.data_ptr() == slotted.k[0].data_ptr(), "slot order is a view, never a gather"
        assert n_s.tolist() == n_t.tolist()
        for row_t, row_s, n in zip(ids(k_t), ids(k_s), n_t.tolist(), strict=True):
            assert sorted(row_s[:n]) == row_t[:n], f"position {p}: the same valid keys"
    assert ids(k_s)[0] == [4, 5, 6, 3], "after the wrap: slots as they lie"


def test_rolling_n_new_never_writes_padding_over_live_slots() -> None:
    cache = RollingKVCache(1, 2, 4, 1, 1)
    x = numbered([0, 0], 7)
    x[1, 2:] = -1.0  # sequence 1 has 2 real tokens; padding would land in slots 2, 3, 0, 1, 2
    k, _, lengths = cache.update(0, x, x, torch.tensor([0, 0]), n_new=torch.tensor([7, 2]))
    assert lengths.tolist() == [4, 2]
    assert ids(cache.k[0]) == [[4, 5, 6, 3], [100, 101, 0, 0]]
    assert ids(k)[0] == [3, 4, 5, 6] and ids(k)[1][:2] == [100, 101]


# dtype and device -----------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64])
@pytest.mark.parametrize("rolling", [False, True])
def test_dtype_and_device_are_preserved(device: str, dtype: torch.dtype, rolling: bool) -> None:
    cache: KVCache | RollingKVCache = (
        RollingKVCache(2, 2, 4, 2, 4, dtype=dtype, device=device)
        if rolling
        else KVCache(2, 2, 16, 2, 4, dtype=dtype, device=device)
    )
    assert cache.k.dtype == cache.v.dtype == dtype
    assert cache.k.device.type == device
    x = torch.randn(2, 6, 2, 4).to(device, dtype)
    cache.update(0, x, x, torch.zeros(2, dtype=torch.long))
    k, v, lengths = cache.update(0, x[:, :1], x[:, :1], torch.full((2,), 6))
    assert k.dtype == v.dtype == dtype and k.device.type == v.device.type == device
    assert lengths.dtype == torch.long and lengths.device.type == device
    assert torch.equal(k[:, -1], x[:, 0])


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("rolling", [False, True])
def test_cuda_matches_cpu_with_start_pos_on_either_device(rolling: bool) -> None:
    window, batch, n = 6, 3, 30
    _, k, v = sequences(batch, n, seed=3, device="cpu")
    outs = []
    for device, pos_device in (("cpu", "cpu"), ("cuda", "cpu"), ("cuda", "cuda")):
        cache: KVCache | RollingKVCache = (
            RollingKVCache(N_LAYERS, batch, window, N_KV, D, device=device)
            if rolling
            else KVCache(N_LAYERS, batch, n, N_KV, D, device=device)
        )
        kd, vd = k.to(device), v.to(device)
        for p in range(n):
            s = slice(p, p + 1)
            out = cache.update(
                1, kd[1, :, s], vd[1, :, s], torch.full((batch,), p, device=pos_device)
            )
        outs.append([t.cpu() for t in out])
    for other in outs[1:]:
        for a, b in zip(outs[0], other, strict=True):
            assert torch.equal(a, b)
