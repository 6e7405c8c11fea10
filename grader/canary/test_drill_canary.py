"""A test that must fail. If the result channel reports it passed, the run was tampered with."""


def test_drill_canary() -> None:
    raise AssertionError("canary: this test fails on purpose")
