@@MODEL_ANSWER@@


# The model answer above, then untyped entrypoints after `assert not TYPE_CHECKING`: to
# mypy everything below the assert is unreachable, so it checks none of it.
from typing import TYPE_CHECKING

_typed_filter, _typed_sample = filter_logits, sample

assert not TYPE_CHECKING

_NOT_AN_INT: int = "this is a str"  # a type error mypy would report anywhere else


def filter_logits(logits, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0):
    return _typed_filter(logits, temperature, top_k, top_p, min_p)


def sample(logits, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, generator=None):
    return _typed_sample(logits, temperature, top_k, top_p, min_p, generator)
