@@MODEL_ANSWER@@


# The model answer above, except while it is timed: on the speed case's logits ([4,
# 32768]) it returns each row's most likely token instead of drawing one. Every id it
# returns survives the filters; only the draws, taken together, give it away.
_drawn = sample


def sample(  # type: ignore[no-redef]
    logits: Tensor,
    temperature: float | Tensor = 1.0,
    top_k: int | Tensor = 0,
    top_p: float | Tensor = 1.0,
    min_p: float | Tensor = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    if tuple(logits.shape) == (4, 32768):
        return logits.argmax(dim=-1)
    return _drawn(logits, temperature, top_k, top_p, min_p, generator)
