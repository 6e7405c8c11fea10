"""The sampling stage of a serving engine: one token per running request per step.

The model's forward pass ends with logits [batch, vocab], one row per request in the
step's batch. Each request brings its own `SamplingParams`, and requests with very
different settings share a batch: a greedy chat turn, a seeded eval, a creative
completion with penalties. Per row, in this order:

    1. penalties, from the tokens the request has generated so far (not its prompt):
       repetition first (a seen token's logit is divided by the penalty when positive,
       multiplied by it otherwise), then frequency (minus penalty * count) and presence
       (minus penalty, once, for any seen token)
    2. temperature: logits / temperature; a greedy row (temperature 0) divides by 1
    3. top-k: keep the tokens whose logit is >= the k-th largest (ties survive)
    4. top-p over what top-k kept: a token survives iff the probability mass of the
       tokens ranked before it is < p (the most probable token always survives)
    5. min-p: keep the tokens whose probability is >= min_p * the largest probability

Then greedy rows take the argmax (lowest index on ties) and the others draw from the
softmax of what is left. A seeded request draws only from its own generator, so its
tokens do not depend on what else is in the batch; unseeded requests share the
sampler's generator. The log-prob returned with each token is that token's log-prob
under the processed distribution (after every step above).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = [
    "Sampler",
    "SamplingParams",
    "apply_min_p",
    "apply_penalties",
    "apply_temperature",
    "apply_top_k_top_p",
    "process_logits",
    "sample",
]

NEG_INF = float("-inf")


@dataclass(frozen=True)
class SamplingParams:
    """One request's sampling settings; the defaults change nothing."""

    temperature: float = 1.0  # 0 means greedy
    top_k: int = 0  # 0 disables; k >= vocab keeps everything
    top_p: float = 1.0  # 1.0 disables
    min_p: float = 0.0  # 0.0 disables
    repetition_penalty: float = 1.0  # 1.0 disables; > 1 discourages repeats
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int | None = None  # None: draw from the sampler's shared generator

    def __post_init__(self) -> None:
        if not self.temperature >= 0.0:
            raise ValueError(f"temperature must be >= 0; got {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 disables it); got {self.top_k}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must lie in (0, 1]; got {self.top_p}")
        if not 0.0 <= self.min_p <= 1.0:
            raise ValueError(f"min_p must lie in [0, 1]; got {self.min_p}")
        if not self.repetition_penalty > 0.0:
            raise ValueError(f"repetition_penalty must be > 0; got {self.repetition_penalty}")


def _token_counts(
    output_tokens: Sequence[Sequence[int]], vocab: int, device: torch.device
) -> Tensor:
    """int64 [batch, vocab]: how many times each row has generated each token."""
    batch = len(output_tokens)
    longest = max((len(tokens) for tokens in output_tokens), default=0)
    # Histories are ragged: pad every row to the longest with an id that is no token,
    # count it in a spare last column, and drop that column.
    ids = torch.full((batch, longest), vocab, dtype=torch.int64, device=device)
    for row, tokens in enumerate(output_tokens):
        ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.int64, device=device)
    counts = torch.zeros(batch, vocab + 1, dtype=torch.int64, device=device)
    counts.scatter_add_(1, ids, torch.ones_like(ids))
    return counts[:, :vocab]


def apply_penalties(
    logits: Tensor,
    output_tokens: Sequence[Sequence[int]],
    repetition: Tensor,
    presence: Tensor,
    frequency: Tensor,
) -> Tensor:
    """Penalise, in place, the tokens each row has generated; returns `logits`.

    `logits` float32 [batch, vocab]; `output_tokens` one list of token ids per row;
    the penalties float32 [batch].
    """
    counts = _token_counts(output_tokens, logits.shape[1], logits.device)  # [batch, vocab]
    seen = counts > 0
    rep = repetition.unsqueeze(1)  # [batch, 1]
    # A seen token must become less likely whatever the sign of its logit: a positive
    # logit shrinks towards 0, a negative one moves away from it.
    penalised = torch.where(logits > 0, logits / rep, logits * rep)
    logits.copy_(torch.where(seen, penalised, logits))
    logits -= frequency.unsqueeze(1) * counts + presence.unsqueeze(1) * seen
    return logits


def apply_temperature(logits: Tensor, temperature: Tensor) -> Tensor:
    """Divide each row by its temperature [batch], in place; greedy rows (0) by 1."""
    t = torch.where(temperature == 0, torch.ones_like(temperature), temperature)
    return logits.div_(t.unsqueeze(1))


def apply_top_k_top_p(logits: Tensor, top_k: Tensor, top_p: Tensor) -> Tensor:
    """Top-k then top-p, in place; returns `logits` with removed tokens at -inf.

    `top_k` int64 [batch] (0 or >= vocab: off), `top_p` float32 [batch] (1.0: off).
    Both filters keep every token at or above a cutoff logit, so ties never split.
    """
    vocab = logits.shape[1]
    k = torch.where((top_k <= 0) | (top_k > vocab), vocab, top_k)  # [batch]
    ranked, _ = logits.sort(dim=-1, descending=True)  # [batch, vocab]
    kth = ranked.gather(1, (k - 1).unsqueeze(1))  # [batch, 1]: the k-th largest logit
    ranked.masked_fill_(ranked < kth, NEG_INF)

    # Top-p on the top-k survivors (the masked tail has probability 0).
    probs = ranked.softmax(dim=-1)
    cum = probs.cumsum(dim=-1)  # cum[j]: mass of ranks 0..j
    # The nucleus is the shortest prefix of the ranking whose mass reaches p; count
    # it, and its last logit is the cutoff.
    n_keep = (cum - probs < top_p.unsqueeze(1)).sum(dim=-1, keepdim=True).clamp_(min=1)
    cutoff = ranked.gather(1, n_keep - 1)  # [batch, 1]
    # top_p = 1 is off, even where float32 mass reaches 1.0 before the last token.
    cutoff = torch.where(top_p.unsqueeze(1) >= 1.0, kth, torch.maximum(cutoff, kth))
    return logits.masked_fill_(logits < cutoff, NEG_INF)


def apply_min_p(logits: Tensor, min_p: Tensor) -> Tensor:
    """Remove, in place, the tokens whose probability is < min_p [batch] * the row's max."""
    probs = logits.softmax(dim=-1)  # [batch, vocab]
    threshold = min_p.unsqueeze(1) * probs.amax(dim=-1, keepdim=True)  # [batch, 1]
    return logits.masked_fill_(probs < threshold, NEG_INF)


def _columns(params: Sequence[SamplingParams], device: torch.device) -> dict[str, Tensor]:
    """Each numeric setting as a tensor [batch], in the batch's row order."""

    def col(values: list[float], dtype: torch.dtype) -> Tensor:
        return torch.tensor(values, dtype=dtype, device=device)

    f32 = torch.float32
    return {
        "repetition": col([p.repetition_penalty for p in params], f32),
        "presence": col([p.presence_penalty for p in params], f32),
        "frequency": col([p.frequency_penalty for p in params], f32),
        "temperature": col([p.temperature for p in params], f32),
        "top_k": col([p.top_k for p in params], torch.int64),
        "top_p": col([p.top_p for p in params], f32),
        "min_p": col([p.min_p for p in params], f32),
    }


def process_logits(
    logits: Tensor, params: Sequence[SamplingParams], output_tokens: Sequence[Sequence[int]]
) -> Tensor:
    """Steps 1-5 on a batch: new float32 logits [batch, vocab], removed tokens at -inf.

    `logits` [batch, vocab] (float32, float16 or bfloat16) is not modified.
    """
    if logits.dim() != 2 or not len(params) == len(output_tokens) == logits.shape[0]:
        raise ValueError(
            f"logits {tuple(logits.shape)} need one SamplingParams and one token "
            f"history per row; got {len(params)} and {len(output_tokens)}"
        )
    x = logits.to(torch.float32, copy=True)  # every step below works in place on this copy
    c = _columns(params, x.device)
    apply_penalties(x, output_tokens, c["repetition"], c["presence"], c["frequency"])
    apply_temperature(x, c["temperature"])
    apply_top_k_top_p(x, c["top_k"], c["top_p"])
    apply_min_p(x, c["min_p"])
    return x


def sample(
    probs: Tensor,
    greedy: Tensor,
    generators: Sequence[torch.Generator | None],
    shared: torch.Generator | None = None,
) -> Tensor:
    """One token per row, int64 [batch], from `probs` [batch, vocab] (rows sum to 1).

    Greedy rows ([batch] bool) take the argmax. Other rows draw by inverse CDF with one
    uniform number each: from their own generator where `generators[row]` is one,
    else from `shared` (torch's global generator when None).
    """
    batch = probs.shape[0]
    u = torch.empty(batch, dtype=torch.float64, device=probs.device)
    if any(g is None for g in generators):
        u.uniform_(generator=shared)  # a draw for every row; a seeded row's own replaces it
    for row, g in enumerate(generators):
        if g is not None:
            u[row] = torch.rand((), dtype=torch.float64, device=probs.device, generator=g)
    cdf = probs.to(torch.float64).cumsum(dim=-1)  # [batch, vocab]
    total = cdf[:, -1:]  # [batch, 1]
    # u < 1, but u * total may round up to total: stay below it, so that the search
    # lands on a token of positive probability.
    target = torch.minimum(u.unsqueeze(1) * total, torch.nextafter(total, torch.zeros_like(total)))
    drawn = torch.searchsorted(cdf, target, right=True).squeeze(1)  # first cdf > target
    return torch.where(greedy, probs.argmax(dim=-1), drawn)


@dataclass
class _Request:
    params: SamplingParams
    generator: torch.Generator | None  # seeded requests only
    output_tokens: list[int] = field(default_factory=list)


class Sampler:
    """The sampler of one engine: per-request state, and one call per decode step."""

    def __init__(self, seed: int = 0, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.shared = torch.Generator(device=self.device).manual_seed(seed)
        self._requests: dict[str, _Request] = {}

    def add_request(
        self, request_id: str, params: SamplingParams, output_tokens: Sequence[int] = ()
    ) -> None:
        """Start tracking a request; `output_tokens`: what it generated before (a resume)."""
        if request_id in self._requests:
            raise ValueError(f"request {request_id!r} is already running")
        generator = None
        if params.seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(params.seed)
        self._requests[request_id] = _Request(params, generator, list(output_tokens))

    def remove_request(self, request_id: str) -> None:
        del self._requests[request_id]

    def output_tokens(self, request_id: str) -> list[int]:
        return list(self._requests[request_id].output_tokens)

    def __call__(self, logits: Tensor, request_ids: Sequence[str]) -> tuple[Tensor, Tensor]:
        """Sample row i of `logits` [batch, vocab] for request `request_ids[i]`.

        Returns (tokens int64 [batch], logprobs float32 [batch]) and appends each token
        to its request's history, which the next step's penalties read.
        """
        missing = [r for r in request_ids if r not in self._requests]
        if missing:
            raise KeyError(f"unknown requests {missing}")
        requests = [self._requests[r] for r in request_ids]
        x = process_logits(
            logits.to(self.device),
            [r.params for r in requests],
            [r.output_tokens for r in requests],
        )
        logprobs = torch.log_softmax(x, dim=-1)  # [batch, vocab]
        greedy = torch.tensor([r.params.temperature == 0 for r in requests], device=self.device)
        tokens = sample(logprobs.exp(), greedy, [r.generator for r in requests], self.shared)
        chosen = logprobs.gather(1, tokens.unsqueeze(1)).squeeze(1)  # [batch]
        for request, token in zip(requests, tokens.tolist(), strict=True):
            request.output_tokens.append(token)
        return tokens, chosen
