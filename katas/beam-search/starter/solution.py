"""Beam search driven one step at a time: see PROMPT.md for the full statement."""

from __future__ import annotations

from torch import Tensor


class BeamSearch:
    """Batched beam search bookkeeping; the caller runs the model."""

    def __init__(
        self,
        batch_size: int,
        num_beams: int,
        eos_token_id: int,
        max_new_tokens: int,
        length_penalty: float = 1.0,
        early_stopping: bool = False,
    ) -> None:
        raise NotImplementedError

    @property
    def is_done(self) -> bool:
        """True once every batch row is done."""
        raise NotImplementedError

    def step(self, input_ids: Tensor, logits: Tensor) -> tuple[Tensor, Tensor]:
        """input_ids [B*K, cur_len], logits [B*K, vocab] -> (next_tokens, beam_indices),
        both int64 [B*K]; beam_indices are flat row indices into input_ids."""
        raise NotImplementedError

    def finalize(self, num_return_sequences: int = 1) -> tuple[list[list[int]], Tensor]:
        """Each row's best hypotheses (prompt + generated, EOS included), row-major and
        best first, and their scores as float32 [B * num_return_sequences]."""
        raise NotImplementedError
