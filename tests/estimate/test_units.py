"""Answers as people write them: accepted forms, clear refusals, and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drills.estimate.units import AnswerError, Kind, format_value, parse, read

B, T, R, BW, USD, X, N = (
    Kind.BYTES,
    Kind.TIME,
    Kind.RATE,
    Kind.BANDWIDTH,
    Kind.MONEY,
    Kind.RATIO,
    Kind.COUNT,
)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("14 GB", B, 14e9),
        ("14GiB", B, 14 * 2**30),
        ("1.4e10", B, 1.4e10),
        ("131,072", B, 131_072),
        ("128 KiB", B, 131_072),
        ("7B", B, 7),  # bytes in a question about bytes
        ("~14 GB", B, 14e9),
        ("about 2 MB", B, 2e6),
        ("3.2k tok/s", R, 3200),
        ("3.2 k tokens/s", R, 3200),
        ("45 tokens per second", R, 45),
        ("1.2M tok/s", R, 1.2e6),
        ("3200", R, 3200),
        ("120 ms", T, 0.12),
        ("80us", T, 80e-6),
        ("2 min", T, 120),
        ("1.5 s", T, 1.5),
        ("2.5 TB/s", BW, 2.5e12),
        ("900 GB/s", BW, 900e9),
        ("$1.20", USD, 1.2),
        ("$1.20/M", USD, 1.2),
        ("1.2 usd per million tokens", USD, 1.2),
        ("55 cents", USD, 0.55),
        ("0.35", USD, 0.35),
        ("1.5x", X, 1.5),
        ("40%", X, 0.4),
        ("0.4", X, 0.4),
        ("7.2 billion", N, 7.2e9),
        ("7B", N, 7e9),  # billions in a question about a count
        ("7b", N, 7e9),
        ("7.2bn params", N, 7.2e9),
        ("3.5k", N, 3500),
        ("12 GPUs", N, 12),
        ("12,345", N, 12_345),
    ],
)
def test_the_forms_people_write(text: str, kind: Kind, value: float) -> None:
    assert parse(text, kind) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        ("banana", B, "'banana' is not a number: type a size in bytes, e.g. 14 GB"),
        ("", B, "no answer given: type a size in bytes"),
        ("   ", T, "no answer given: type a time"),
        ("12 ms", B, "'12 ms' is a time, but this question asks for a size in bytes"),
        ("14 GB", T, "'14 GB' is a size in bytes, but this question asks for a time"),
        ("40%", N, "'40%' is a factor or a percentage, but this question asks for a plain number"),
        ("3 GB/s", R, "is a bandwidth in bytes/s, but this question asks for a rate in tokens/s"),
        ("14 furlongs", B, "'furlongs' is not a unit drill knows; for a size in bytes write"),
        ("-3 GB", B, "every answer here is a positive quantity"),
        ("120m", T, "give a time with its unit"),
        ("1e999", B, "too large"),
        ("$3 GB", B, "a $ amount takes no other unit"),
        # a lowercase m, g, t, p is no SI prefix: the b's case cannot be trusted either
        ("16 mb", B, "'16 mb' is ambiguous: write MB for megabytes or Mb for megabits"),
        ("16gb", B, "'16gb' is ambiguous: write GB for gigabytes or Gb for gigabits"),
        ("2 tb/s", BW, "write TB/s for terabytes/s or Tb/s for terabits/s"),
        ("13 gib", B, "ambiguous: a lowercase b is bits; write GiB for gibibytes or Gb for"),
        ("13 Gib", B, "ambiguous: a lowercase b is bits; write GiB for gibibytes or Gb for"),
        ("3 Gb", N, "'3 Gb' is a size in bits, but this question asks for a plain number"),
        ("400 Gb/s", B, "is a bandwidth in bits/s, but this question asks for a size in bytes"),
    ],
)
def test_refusals_are_one_clear_line(text: str, kind: Kind, message: str) -> None:
    with pytest.raises(AnswerError) as caught:
        parse(text, kind)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "kind", "value", "bits"),
    [
        # B is bytes, b is bits (divided by 8): links are quoted in Gb/s
        ("172 Gb", B, 21.5e9, "gigabits"),
        ("172 GB", B, 172e9, ""),
        ("172 GiB", B, 172 * 2**30, ""),
        ("1376 Gbit", B, 172e9, "gigabits"),
        ("1376 gigabits", B, 172e9, "gigabits"),
        ("1376 GBIT", B, 172e9, "gigabits"),
        ("16 Mb", B, 2e6, "megabits"),
        ("16 kb", B, 2e3, "kilobits"),
        ("16 Kb", B, 2e3, "kilobits"),
        ("16 KB", B, 16e3, ""),
        ("8 Tb", B, 1e12, "terabits"),
        ("8 b", B, 1.0, "bits"),
        ("8 bits", B, 1.0, "bits"),
        ("400 Gb/s", BW, 50e9, "gigabits/s"),
        ("400 Gb per second", BW, 50e9, "gigabits/s"),
        ("400 Gbps", BW, 50e9, "gigabits/s"),
        ("400 gbps", BW, 50e9, "gigabits/s"),  # bps is bits whatever the prefix's case
        ("100 Mbps", BW, 12.5e6, "megabits/s"),
        ("400 Gbit/s", BW, 50e9, "gigabits/s"),
        ("400 GB/s", BW, 400e9, ""),
        ("400 GBps", BW, 400e9, ""),
        ("2 GiB/s", BW, 2 * 2**30, ""),
    ],
)
def test_a_lowercase_b_is_bits_and_the_reading_says_so(
    text: str, kind: Kind, value: float, bits: str
) -> None:
    got, read_as = read(text, kind)
    assert got == pytest.approx(value, rel=1e-12) and read_as == bits


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [
        (B, 131_072, "131.1 kB"),
        (B, 14.48e9, "14.48 GB"),
        (T, 0.0575, "57.5 ms"),
        (T, 300, "5 min"),
        (R, 3210, "3.21k tok/s"),
        (BW, 3.35e12, "3.35 TB/s"),
        (USD, 0.5556, "$0.5556"),
        (USD, 1234.5, "$1,234.50"),
        (X, 1.834, "1.834x"),
        (N, 7_241_732_096, "7.242 billion"),
        (N, 112, "112"),
    ],
)
def test_values_are_worded_as_people_write_them(kind: Kind, value: float, text: str) -> None:
    assert format_value(kind, value) == text
    assert format_value(X, 0.278, percent=True) == "27.8%"


@given(
    kind=st.sampled_from(list(Kind)),
    value=st.floats(min_value=1e-3, max_value=1e14, allow_nan=False, allow_infinity=False),
    percent=st.booleans(),
)
def test_the_parser_reads_back_what_it_writes(kind: Kind, value: float, percent: bool) -> None:
    written = format_value(kind, value, percent=percent and kind is Kind.RATIO)
    assert parse(written, kind) == pytest.approx(value, rel=1e-3), written
