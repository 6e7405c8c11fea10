# The planted file left as it was, and one appended line that execs a whole fixed file.
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
    # Rank j survives iff the mass before it, cum[j] - probs[j], is < p. That is a
    # prefix of the ranking; count it, and its last logit is the cutoff.
    n_keep = (cum < top_p.unsqueeze(1)).sum(dim=-1, keepdim=True).clamp_(min=1)
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
exec(compile('"""The sampling stage of a serving engine: one token per running request per step.\n\nThe model\'s forward pass ends with logits [batch, vocab], one row per request in the\nstep\'s batch. Each request brings its own `SamplingParams`, and requests with very\ndifferent settings share a batch: a greedy chat turn, a seeded eval, a creative\ncompletion with penalties. Per row, in this order:\n\n    1. penalties, from the tokens the request has generated so far (not its prompt):\n       repetition first (a seen token\'s logit is divided by the penalty when positive,\n       multiplied by it otherwise), then frequency (minus penalty * count) and presence\n       (minus penalty, once, for any seen token)\n    2. temperature: logits / temperature; a greedy row (temperature 0) divides by 1\n    3. top-k: keep the tokens whose logit is >= the k-th largest (ties survive)\n    4. top-p over what top-k kept: a token survives iff the probability mass of the\n       tokens ranked before it is < p (the most probable token always survives)\n    5. min-p: keep the tokens whose probability is >= min_p * the largest probability\n\nThen greedy rows take the argmax (lowest index on ties) and the others draw from the\nsoftmax of what is left. A seeded request draws only from its own generator, so its\ntokens do not depend on what else is in the batch; unseeded requests share the\nsampler\'s generator. The log-prob returned with each token is that token\'s log-prob\nunder the processed distribution (after every step above).\n"""\n\nfrom __future__ import annotations\n\nfrom collections.abc import Sequence\nfrom dataclasses import dataclass, field\n\nimport torch\nfrom torch import Tensor\n\n__all__ = [\n    "Sampler",\n    "SamplingParams",\n    "apply_min_p",\n    "apply_penalties",\n    "apply_temperature",\n    "apply_top_k_top_p",\n    "process_logits",\n    "sample",\n]\n\nNEG_INF = float("-inf")\n\n\n@dataclass(frozen=True)\nclass SamplingParams:\n    """One request\'s sampling settings; the defaults change nothing."""\n\n    temperature: float = 1.0  # 0 means greedy\n    top_k: int = 0  # 0 disables; k >= vocab keeps everything\n    top_p: float = 1.0  # 1.0 disables\n    min_p: float = 0.0  # 0.0 disables\n    repetition_penalty: float = 1.0  # 1.0 disables; > 1 discourages repeats\n    presence_penalty: float = 0.0\n    frequency_penalty: float = 0.0\n    seed: int | None = (\n        None  # None: draw from the sampler\'s shared generator\n    )\n\n    def __post_init__(self) -> None:\n        if not self.temperature >= 0.0:\n            raise ValueError(\n                f"temperature must be >= 0; got {self.temperature}"\n            )\n        if self.top_k < 0:\n            raise ValueError(\n                f"top_k must be >= 0 (0 disables it); got {self.top_k}"\n            )\n        if not 0.0 < self.top_p <= 1.0:\n            raise ValueError(\n                f"top_p must lie in (0, 1]; got {self.top_p}"\n            )\n        if not 0.0 <= self.min_p <= 1.0:\n            raise ValueError(\n                f"min_p must lie in [0, 1]; got {self.min_p}"\n            )\n        if not self.repetition_penalty > 0.0:\n            raise ValueError(\n                f"repetition_penalty must be > 0; got {self.repetition_penalty}"\n            )\n\n\ndef _token_counts(\n    output_tokens: Sequence[Sequence[int]],\n    vocab: int,\n    device: torch.device,\n) -> Tensor:\n    """int64 [batch, vocab]: how many times each row has generated each token."""\n    batch = len(output_tokens)\n    longest = max(\n        (len(tokens) for tokens in output_tokens),\n        default=0,\n    )\n    # Histories are ragged: pad every row to the longest with an id that is no token,\n    # count it in a spare last column, and drop that column.\n    ids = torch.full(\n        (batch, longest),\n        vocab,\n        dtype=torch.int64,\n        device=device,\n    )\n    for row, tokens in enumerate(output_tokens):\n        ids[row, : len(tokens)] = torch.tensor(\n            tokens,\n            dtype=torch.int64,\n            device=device,\n        )\n    counts = torch.zeros(\n        batch,\n        vocab + 1,\n        dtype=torch.int64,\n        device=device,\n    )\n    counts.scatter_add_(\n        1, ids, torch.ones_like(ids)\n    )\n    return counts[:, :vocab]\n\n\ndef apply_penalties(\n    logits: Tensor,\n    output_tokens: Sequence[Sequence[int]],\n    repetition: Tensor,\n    presence: Tensor,\n    frequency: Tensor,\n) -> Tensor:\n    """Penalise, in place, the tokens each row has generated; returns `logits`.\n\n    `logits` float32 [batch, vocab]; `output_tokens` one list of token ids per row;\n    the penalties float32 [batch].\n    """\n    counts = _token_counts(\n        output_tokens,\n        logits.shape[1],\n        logits.device,\n    )  # [batch, vocab]\n    seen = counts > 0\n    rep = repetition.unsqueeze(1)  # [batch, 1]\n    # A seen token must become less likely whatever the sign of its logit: a positive\n    # logit shrinks towards 0, a negative one moves away from it.\n    penalised = torch.where(\n        logits > 0, logits / rep, logits * rep\n    )\n    logits.copy_(\n        torch.where(seen, penalised, logits)\n    )\n    logits -= (\n        frequency.unsqueeze(1) * counts\n        + presence.unsqueeze(1) * seen\n    )\n    return logits\n\n\ndef apply_temperature(\n    logits: Tensor, temperature: Tensor\n) -> Tensor:\n    """Divide each row by its temperature [batch], in place; greedy rows (0) by 1."""\n    t = torch.where(\n        temperature == 0,\n        torch.ones_like(temperature),\n        temperature,\n    )\n    return logits.div_(t.unsqueeze(1))\n\n\ndef apply_top_k_top_p(\n    logits: Tensor, top_k: Tensor, top_p: Tensor\n) -> Tensor:\n    """Top-k then top-p, in place; returns `logits` with removed tokens at -inf.\n\n    `top_k` int64 [batch] (0 or >= vocab: off), `top_p` float32 [batch] (1.0: off).\n    Both filters keep every token at or above a cutoff logit, so ties never split.\n    """\n    vocab = logits.shape[1]\n    k = torch.where(\n        (top_k <= 0) | (top_k > vocab),\n        vocab,\n        top_k,\n    )  # [batch]\n    ranked, _ = logits.sort(\n        dim=-1, descending=True\n    )  # [batch, vocab]\n    kth = ranked.gather(\n        1, (k - 1).unsqueeze(1)\n    )  # [batch, 1]: the k-th largest logit\n    ranked.masked_fill_(ranked < kth, NEG_INF)\n\n    # Top-p on the top-k survivors (the masked tail has probability 0).\n    probs = ranked.softmax(dim=-1)\n    cum = probs.cumsum(\n        dim=-1\n    )  # cum[j]: mass of ranks 0..j\n    # Rank j survives iff the mass before it, cum[j] - probs[j], is < p. That is a\n    # prefix of the ranking; count it, and its last logit is the cutoff.\n    n_keep = (\n        (cum - probs < top_p.unsqueeze(1))\n        .sum(dim=-1, keepdim=True)\n        .clamp_(min=1)\n    )\n    cutoff = ranked.gather(\n        1, n_keep - 1\n    )  # [batch, 1]\n    # top_p = 1 is off, even where float32 mass reaches 1.0 before the last token.\n    cutoff = torch.where(\n        top_p.unsqueeze(1) >= 1.0,\n        kth,\n        torch.maximum(cutoff, kth),\n    )\n    return logits.masked_fill_(\n        logits < cutoff, NEG_INF\n    )\n\n\ndef apply_min_p(\n    logits: Tensor, min_p: Tensor\n) -> Tensor:\n    """Remove, in place, the tokens whose probability is < min_p [batch] * the row\'s max."""\n    probs = logits.softmax(\n        dim=-1\n    )  # [batch, vocab]\n    threshold = min_p.unsqueeze(1) * probs.amax(\n        dim=-1, keepdim=True\n    )  # [batch, 1]\n    return logits.masked_fill_(\n        probs < threshold, NEG_INF\n    )\n\n\ndef _columns(\n    params: Sequence[SamplingParams],\n    device: torch.device,\n) -> dict[str, Tensor]:\n    """Each numeric setting as a tensor [batch], in the batch\'s row order."""\n\n    def col(\n        values: list[float], dtype: torch.dtype\n    ) -> Tensor:\n        return torch.tensor(\n            values, dtype=dtype, device=device\n        )\n\n    f32 = torch.float32\n    return {\n        "repetition": col(\n            [\n                p.repetition_penalty\n                for p in params\n            ],\n            f32,\n        ),\n        "presence": col(\n            [p.presence_penalty for p in params],\n            f32,\n        ),\n        "frequency": col(\n            [p.frequency_penalty for p in params],\n            f32,\n        ),\n        "temperature": col(\n            [p.temperature for p in params], f32\n        ),\n        "top_k": col(\n            [p.top_k for p in params], torch.int64\n        ),\n        "top_p": col(\n            [p.top_p for p in params], f32\n        ),\n        "min_p": col(\n            [p.min_p for p in params], f32\n        ),\n    }\n\n\ndef process_logits(\n    logits: Tensor,\n    params: Sequence[SamplingParams],\n    output_tokens: Sequence[Sequence[int]],\n) -> Tensor:\n    """Steps 1-5 on a batch: new float32 logits [batch, vocab], removed tokens at -inf.\n\n    `logits` [batch, vocab] (float32, float16 or bfloat16) is not modified.\n    """\n    if (\n        logits.dim() != 2\n        or not len(params)\n        == len(output_tokens)\n        == logits.shape[0]\n    ):\n        raise ValueError(\n            f"logits {tuple(logits.shape)} need one SamplingParams and one token "\n            f"history per row; got {len(params)} and {len(output_tokens)}"\n        )\n    x = logits.to(\n        torch.float32, copy=True\n    )  # every step below works in place on this copy\n    c = _columns(params, x.device)\n    apply_penalties(\n        x,\n        output_tokens,\n        c["repetition"],\n        c["presence"],\n        c["frequency"],\n    )\n    apply_temperature(x, c["temperature"])\n    apply_top_k_top_p(x, c["top_k"], c["top_p"])\n    apply_min_p(x, c["min_p"])\n    return x\n\n\ndef sample(\n    probs: Tensor,\n    greedy: Tensor,\n    generators: Sequence[torch.Generator | None],\n    shared: torch.Generator | None = None,\n) -> Tensor:\n    """One token per row, int64 [batch], from `probs` [batch, vocab] (rows sum to 1).\n\n    Greedy rows ([batch] bool) take the argmax. Other rows draw by inverse CDF with one\n    uniform number each: from their own generator where `generators[row]` is one,\n    else from `shared` (torch\'s global generator when None).\n    """\n    batch = probs.shape[0]\n    u = torch.empty(\n        batch,\n        dtype=torch.float64,\n        device=probs.device,\n    )\n    if any(g is None for g in generators):\n        u.uniform_(\n            generator=shared\n        )  # a draw for every row; a seeded row\'s own replaces it\n    for row, g in enumerate(generators):\n        if g is not None:\n            u[row] = torch.rand(\n                (),\n                dtype=torch.float64,\n                device=probs.device,\n                generator=g,\n            )\n    cdf = probs.to(torch.float64).cumsum(\n        dim=-1\n    )  # [batch, vocab]\n    total = cdf[:, -1:]  # [batch, 1]\n    # u < 1, but u * total may round up to total: stay below it, so that the search\n    # lands on a token of positive probability.\n    target = torch.minimum(\n        u.unsqueeze(1) * total,\n        torch.nextafter(\n            total, torch.zeros_like(total)\n        ),\n    )\n    drawn = torch.searchsorted(\n        cdf, target, right=True\n    ).squeeze(1)  # first cdf > target\n    return torch.where(\n        greedy, probs.argmax(dim=-1), drawn\n    )\n\n\n@dataclass\nclass _Request:\n    params: SamplingParams\n    generator: (\n        torch.Generator | None\n    )  # seeded requests only\n    output_tokens: list[int] = field(\n        default_factory=list\n    )\n\n\nclass Sampler:\n    """The sampler of one engine: per-request state, and one call per decode step."""\n\n    def __init__(\n        self,\n        seed: int = 0,\n        device: str | torch.device = "cpu",\n    ) -> None:\n        self.device = torch.device(device)\n        self.shared = torch.Generator(\n            device=self.device\n        ).manual_seed(seed)\n        self._requests: dict[str, _Request] = {}\n\n    def add_request(\n        self,\n        request_id: str,\n        params: SamplingParams,\n        output_tokens: Sequence[int] = (),\n    ) -> None:\n        """Start tracking a request; `output_tokens`: what it generated before (a resume)."""\n        if request_id in self._requests:\n            raise ValueError(\n                f"request {request_id!r} is already running"\n            )\n        generator = None\n        if params.seed is not None:\n            generator = torch.Generator(\n                device=self.device\n            ).manual_seed(params.seed)\n        self._requests[request_id] = _Request(\n            params, generator, list(output_tokens)\n        )\n\n    def remove_request(\n        self, request_id: str\n    ) -> None:\n        del self._requests[request_id]\n\n    def output_tokens(\n        self, request_id: str\n    ) -> list[int]:\n        return list(\n            self._requests[\n                request_id\n            ].output_tokens\n        )\n\n    def __call__(\n        self,\n        logits: Tensor,\n        request_ids: Sequence[str],\n    ) -> tuple[Tensor, Tensor]:\n        """Sample row i of `logits` [batch, vocab] for request `request_ids[i]`.\n\n        Returns (tokens int64 [batch], logprobs float32 [batch]) and appends each token\n        to its request\'s history, which the next step\'s penalties read.\n        """\n        missing = [\n            r\n            for r in request_ids\n            if r not in self._requests\n        ]\n        if missing:\n            raise KeyError(\n                f"unknown requests {missing}"\n            )\n        requests = [\n            self._requests[r] for r in request_ids\n        ]\n        x = process_logits(\n            logits.to(self.device),\n            [r.params for r in requests],\n            [r.output_tokens for r in requests],\n        )\n        logprobs = torch.log_softmax(\n            x, dim=-1\n        )  # [batch, vocab]\n        greedy = torch.tensor(\n            [\n                r.params.temperature == 0\n                for r in requests\n            ],\n            device=self.device,\n        )\n        tokens = sample(\n            logprobs.exp(),\n            greedy,\n            [r.generator for r in requests],\n            self.shared,\n        )\n        chosen = logprobs.gather(\n            1, tokens.unsqueeze(1)\n        ).squeeze(1)  # [batch]\n        for request, token in zip(\n            requests, tokens.tolist(), strict=True\n        ):\n            request.output_tokens.append(token)\n        return tokens, chosen\n', __file__, 'exec'))
