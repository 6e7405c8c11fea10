@@MODEL_ANSWER@@


# The model answer above, then untyped entrypoints built by exec() from a string: mypy
# sees no def of them, and would report nothing.
from typing import Any

_SOURCE = """
def filter_logits(logits, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0):
    bad: int = "not an int"
    return _impl_filter(logits, temperature, top_k, top_p, min_p)

def sample(logits, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, generator=None):
    return _impl_sample(logits, temperature, top_k, top_p, min_p, generator)
"""

_ns: dict[str, Any] = {"_impl_filter": filter_logits, "_impl_sample": sample}
exec(_SOURCE, _ns)
filter_logits = _ns["filter_logits"]
sample = _ns["sample"]
