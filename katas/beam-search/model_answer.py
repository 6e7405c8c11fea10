"""Beam search under transformers' conventions, driven one step at a time."""

from __future__ import annotations

import math

import torch
from torch import Tensor


class BeamSearch:
    def __init__(
        self,
        batch_size: int,
        num_beams: int,
        eos_token_id: int,
        max_new_tokens: int,
        length_penalty: float = 1.0,
        early_stopping: bool = False,
    ) -> None:
        if batch_size < 1 or num_beams < 1 or max_new_tokens < 1:
            raise ValueError("batch_size, num_beams and max_new_tokens must be >= 1")
        self.batch_size = batch_size
        self.num_beams = num_beams
        self.eos = eos_token_id
        self.max_new_tokens = max_new_tokens
        self.length_penalty = length_penalty
        self.early_stopping = early_stopping
        self.prompt_len = -1
        # Running scores [B, K]; only beam 0 is live before the first step.
        self.running = torch.full((batch_size, num_beams), -math.inf)
        self.running[:, 0] = 0.0
        # Per row: (ranking score, full sequence), best first, at most num_beams.
        self.finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch_size)]
        self.done = [False] * batch_size

    @property
    def is_done(self) -> bool:
        return all(self.done)

    def step(self, input_ids: Tensor, logits: Tensor) -> tuple[Tensor, Tensor]:
        if self.is_done:
            raise RuntimeError("search is done")
        b_size, k = self.batch_size, self.num_beams
        if logits.dim() != 2 or input_ids.dim() != 2:
            raise ValueError("input_ids and logits must be 2-D")
        if logits.shape[0] != b_size * k or input_ids.shape[0] != b_size * k:
            raise ValueError(f"expected {b_size * k} rows")
        if self.prompt_len < 0:
            self.prompt_len = input_ids.shape[1]
        length = input_ids.shape[1] + 1 - self.prompt_len  # generated tokens, EOS included
        last = length == self.max_new_tokens
        vocab = logits.shape[1]

        logp = torch.log_softmax(logits.float(), dim=-1)  # [B*K, V]
        total = self.running.unsqueeze(-1) + logp.view(b_size, k, vocab)
        top, flat = total.view(b_size, k * vocab).topk(2 * k, dim=1)  # [B, 2K]
        top_list = top.tolist()
        beam_list = (flat // vocab).tolist()  # source beam within the row
        tok_list = (flat % vocab).tolist()

        next_tokens = torch.full((b_size * k,), self.eos, dtype=torch.long)
        beam_indices = torch.arange(b_size * k)
        new_running = self.running.clone()
        for b in range(b_size):
            if self.done[b]:
                continue
            kept = 0
            for r in range(2 * k):
                score, tok = top_list[b][r], tok_list[b][r]
                src = b * k + beam_list[b][r]
                is_eos = tok == self.eos
                if r < k and (is_eos or last):
                    seq = [*input_ids[src].tolist(), tok]
                    self._add(b, score / math.pow(length, self.length_penalty), seq)
                if not is_eos and kept < k:
                    next_tokens[b * k + kept] = tok
                    beam_indices[b * k + kept] = src
                    new_running[b, kept] = score
                    kept += 1
            self.done[b] = last or self._finished(b, float(new_running[b, 0]), length)
        self.running = new_running
        return next_tokens, beam_indices

    def _add(self, b: int, score: float, seq: list[int]) -> None:
        hyps = self.finished[b]
        hyps.append((score, seq))
        hyps.sort(key=lambda h: h[0], reverse=True)
        del hyps[self.num_beams :]

    def _finished(self, b: int, best_running: float, length: int) -> bool:
        hyps = self.finished[b]
        if len(hyps) < self.num_beams:
            return False
        if self.early_stopping:
            return True
        # transformers' heuristic: could the best running beam, ending now, beat the worst?
        return best_running / math.pow(length, self.length_penalty) <= hyps[-1][0]

    def finalize(self, num_return_sequences: int = 1) -> tuple[list[list[int]], Tensor]:
        if not self.is_done:
            raise RuntimeError("search is not done")
        if not 1 <= num_return_sequences <= self.num_beams:
            raise ValueError("num_return_sequences must be in [1, num_beams]")
        seqs: list[list[int]] = []
        scores: list[float] = []
        for hyps in self.finished:
            for score, seq in hyps[:num_return_sequences]:
                seqs.append(seq)
                scores.append(score)
        return seqs, torch.tensor(scores, dtype=torch.float32)
