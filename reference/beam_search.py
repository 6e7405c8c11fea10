"""Beam search with transformers' conventions, as a state machine the caller drives.

The caller owns the model and the sequences; `BeamSearch` decides what to keep. Each
`step` takes the running sequences `[batch * num_beams, cur_len]` (prompt included; row
`b * num_beams + j` is beam `j` of batch row `b`) and their next-token logits
`[batch * num_beams, vocab]`, and returns for every beam slot the token it appends and
the flat index of the sequence it continues: the caller's next sequences are
`cat([sequences[beam_indices], next_tokens[:, None]], dim=1)` (and its KV cache is
reordered by `beam_indices`). The first call's sequences are each prompt repeated
`num_beams` times; their length is the prompt length.

Conventions (transformers' `generate(num_beams=...)`, where implementations disagree):

- A beam's score is the sum of its tokens' log-probs, `log_softmax` of the logits in
  float32. All beams start as the prompt, so only beam 0 is live at the first step.
- Per step and batch row, the `2 * num_beams` best continuations over all the row's
  beams are the candidates, ranked by score. Among the first `num_beams` ranks, an EOS
  candidate becomes a finished hypothesis; an EOS candidate at a later rank is dropped.
  The best `num_beams` non-EOS candidates, in rank order, are the next running beams
  (there are always enough: at most one EOS candidate per beam).
- A hypothesis is ranked by `score / length ** length_penalty`, its length counting the
  generated tokens with the EOS and without the prompt. A row keeps its `num_beams`
  best hypotheses.
- On the step that reaches `max_new_tokens`, every candidate among the first
  `num_beams` ranks is finished, EOS or not, with length `max_new_tokens`.
- A row is done when it holds `num_beams` hypotheses and either `early_stopping` is
  True, or the best running beam's score divided by `t ** length_penalty` (`t`: tokens
  generated so far) is no better than the worst hypothesis held (transformers'
  heuristic for `early_stopping=False`). A done row adds nothing more; its slots return
  EOS and their own index.

Worked example: one row, 2 beams, EOS = 0, prompt [3, 1, 2], length_penalty 1.

    step 1 (beam 0 only)  log-probs  tok 1: -0.693  tok 0: -1.386  tok 2: -1.897  tok 3: -2.303
                          rank 1 is EOS: hypothesis [3, 1, 2, 0], -1.386 / 1 = -1.386
                          running: [.., 1] (-0.693), [.., 2] (-1.897)
    step 2                candidates [.., 1, 0] -1.204  [.., 1, 2] -2.079  [.., 2, 0] -2.254
                          [.., 1, 3] -2.996: rank 0 is EOS: hypothesis, -1.204 / 2 = -0.602;
                          [.., 2, 0] is EOS at rank 2 (>= num_beams): dropped
                          2 hypotheses held. early_stopping=True: done. False: the best
                          running beam, -2.079 / 2 = -1.04, beats the worst, -1.386: go on.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["BeamSearch", "beam_search"]


class BeamSearch:
    """Beam bookkeeping for a batch: candidates, hypotheses, stopping, the final choice."""

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
            raise ValueError(
                f"batch_size, num_beams and max_new_tokens must be >= 1, got "
                f"{batch_size}, {num_beams}, {max_new_tokens}"
            )
        self.batch_size = batch_size
        self.num_beams = num_beams
        self.eos_token_id = eos_token_id
        self.max_new_tokens = max_new_tokens
        self.length_penalty = length_penalty
        self.early_stopping = early_stopping
        self.prompt_len: int | None = None  # the first step's sequence length
        # Running beams' cumulative log-probs. Only beam 0 is live at first: the others
        # would repeat its candidates, so they start at -inf.
        self.scores = torch.full((batch_size, num_beams), float("-inf"))  # [B, K] float32
        self.scores[:, 0] = 0.0
        # Per row, at most num_beams (ranking score, sequence), best first.
        self.hypotheses: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch_size)]
        self.row_done = [False] * batch_size

    @property
    def is_done(self) -> bool:
        return all(self.row_done)

    def step(self, input_ids: Tensor, logits: Tensor) -> tuple[Tensor, Tensor]:
        """Advance every row by one token: `(next_tokens, beam_indices)`, int64 `[B * K]`."""
        if self.is_done:
            raise RuntimeError("the search is done: call finalize()")
        b, k = self.batch_size, self.num_beams
        if (
            logits.ndim != 2
            or input_ids.ndim != 2
            or not logits.shape[0] == input_ids.shape[0] == b * k
        ):
            raise ValueError(
                f"expected input_ids [{b * k}, len] and logits [{b * k}, vocab], got "
                f"{list(input_ids.shape)} and {list(logits.shape)}"
            )
        if self.prompt_len is None:
            self.prompt_len = input_ids.shape[1]
        t = input_ids.shape[1] + 1 - self.prompt_len  # generated length after this step
        last = t == self.max_new_tokens
        vocab = logits.shape[1]

        log_probs = torch.log_softmax(logits.float(), dim=-1).view(b, k, vocab)
        total = (self.scores[:, :, None] + log_probs).view(b, k * vocab)  # [B, K * V]
        cand_scores, flat = total.topk(2 * k, dim=1)  # [B, 2K], best first
        source, token = flat // vocab, flat % vocab  # beam within the row, token id
        is_eos = token == self.eos_token_id

        # Hypotheses: EOS candidates among the first K ranks (every one on the last step).
        # The division is float32, as transformers does it, so ties break the same way.
        ranked = (cand_scores / (t**self.length_penalty)).tolist()
        for row in range(b):
            if self.row_done[row]:
                continue
            for r in range(k):
                if last or bool(is_eos[row, r]):
                    prefix = input_ids[row * k + int(source[row, r])].tolist()
                    self._add(row, ranked[row][r], [*prefix, int(token[row, r])])

        # Running beams: the K best non-EOS candidates in rank order. A stable sort on
        # "is EOS" moves them to the front without reordering them.
        keep = torch.argsort(is_eos.to(torch.int8), dim=1, stable=True)[:, :k]  # [B, K]
        self.scores = cand_scores.gather(1, keep)
        rows = torch.arange(b)[:, None]
        next_tokens = token.gather(1, keep)
        beam_indices = rows * k + source.gather(1, keep)  # flat index into [B * K]
        for row in range(b):
            if self.row_done[row]:  # done before this step: every slot stays as it is
                next_tokens[row] = self.eos_token_id
                beam_indices[row] = torch.arange(row * k, (row + 1) * k)
            else:
                self.row_done[row] = last or self._row_finished(row, t)
        return next_tokens.view(-1), beam_indices.view(-1)

    def _add(self, row: int, score: float, sequence: list[int]) -> None:
        """Keep the row's num_beams best hypotheses (a stable sort: earlier ones win ties)."""
        held = self.hypotheses[row]
        held.append((score, sequence))
        held.sort(key=lambda h: h[0], reverse=True)
        del held[self.num_beams :]

    def _row_finished(self, row: int, t: int) -> bool:
        held = self.hypotheses[row]
        if len(held) < self.num_beams:
            return False
        if self.early_stopping:
            return True
        # transformers' heuristic: the best running beam, were it to end now at length t,
        # would not beat the worst hypothesis held.
        best_running = float(self.scores[row, 0] / (t**self.length_penalty))
        return best_running <= held[-1][0]

    def finalize(self, num_return_sequences: int = 1) -> tuple[list[list[int]], Tensor]:
        """Each row's best hypotheses, row-major and best first: the sequences (prompt,
        generated tokens, EOS if any) and their ranking scores, float32 `[B * n]`."""
        if not self.is_done:
            raise RuntimeError("the search is not done yet")
        if not 1 <= num_return_sequences <= self.num_beams:
            raise ValueError(
                f"num_return_sequences must be in [1, {self.num_beams}], got {num_return_sequences}"
            )
        chosen = [h for held in self.hypotheses for h in held[:num_return_sequences]]
        return [seq for _, seq in chosen], torch.tensor([s for s, _ in chosen])


def beam_search(
    model_fn: Callable[[Tensor], Tensor],
    input_ids: Tensor,
    num_beams: int,
    eos_token_id: int,
    max_new_tokens: int,
    length_penalty: float = 1.0,
    early_stopping: bool = False,
    num_return_sequences: int = 1,
) -> tuple[list[list[int]], Tensor]:
    """Beam search over `model_fn` (token ids `[N, T]` -> last-position logits `[N, V]`)
    from prompts `input_ids` `[B, T]`: each row's best `num_return_sequences`
    hypotheses and their scores, as `BeamSearch.finalize` returns them."""
    search = BeamSearch(
        input_ids.shape[0], num_beams, eos_token_id, max_new_tokens, length_penalty, early_stopping
    )
    sequences = input_ids.repeat_interleave(num_beams, dim=0)  # [B * K, T]
    while not search.is_done:
        next_tokens, beam_indices = search.step(sequences, model_fn(sequences))
        sequences = torch.cat([sequences[beam_indices], next_tokens[:, None]], dim=1)
    return search.finalize(num_return_sequences)
