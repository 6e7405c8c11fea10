"""Failure reasons read like an interviewer's remark, not like a pytest log."""

from __future__ import annotations

from grader.stages.tests import REASON_CHARS, short

REWRITE = (
    "AssertionError: greedy keeps the max logit: expected [[-inf, 3.0]], got [[1e6, 3e6]]\n"
    "assert False\n"
    " +  where False = <built-in method equal of type object at 0x7f>(tensor([[1e6, 3e6]]), "
    "tensor([[-inf, 3.]]))\n"
    " +    where <built-in method equal of type object at 0x7f> = torch.equal"
)


def test_a_custom_message_drops_pytests_rewrite_of_the_expression() -> None:
    assert short(REWRITE) == (
        "AssertionError: greedy keeps the max logit: expected [[-inf, 3.0]], got [[1e6, 3e6]]"
    )


def test_the_falsifying_example_survives_after_the_rewrite() -> None:
    text = REWRITE + "\nFalsifying example: test_greedy(\n    logits=[1.0, 3.0],  # or any other\n)"
    assert short(text) == (
        "AssertionError: greedy keeps the max logit: expected [[-inf, 3.0]], got [[1e6, 3e6]] "
        "[example: test_greedy( logits=[1.0, 3.0], )]"
    )


def test_a_bare_assert_keeps_pytests_explanation() -> None:
    text = "assert [1, 2] == [2, 1]\n  At index 0 diff: 1 != 2"
    assert short(text) == "assert [1, 2] == [2, 1] At index 0 diff: 1 != 2"


def test_a_long_reason_is_cut_with_an_ellipsis() -> None:
    cut = short("AssertionError: " + "x" * 1000)
    assert len(cut) == REASON_CHARS and cut.endswith("…")
