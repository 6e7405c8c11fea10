"""What an answer can be, read from what people type and worded back.

An answer is a number with an optional unit: `14 GB`, `14GiB`, `1.4e10`, `3.2k tok/s`,
`120 ms`, `2.5 TB/s`, `$1.20`, `1.5x`, `40%`, `7.2 billion`. GB, MB, kB, TB are powers
of 1000 (1 GB = 1e9 bytes); GiB, MiB, KiB, TiB powers of 1024 (1 GiB = 2**30 bytes).
A bare number is read in the base unit of what the question asks (bytes, seconds,
tokens/s, bytes/s, dollars, a factor, a count). `B` after a number is bytes, except in
a question that asks for a count, where `7B` is 7 billion.

Bits and bytes are the 8x trap of the system-design round (links are quoted in Gb/s),
so the case of the b decides, as in the SI and IEC symbols: `B` is bytes and `b` bits
(`b`, `kb`, `Kb`, `Mb`, `Gb`, `Tb`, with `/s` too; `bps`, `Gbps` and the like are bits
per second whatever the prefix's case; `bit`, `Gbit`, `gigabits` in any case). A bit
answer is divided by 8 and its grade says that it was read as bits. Two spellings are
refused as ambiguous, with one line naming both readings: an all-lowercase `mb`, `gb`,
`tb`, `pb` (a lowercase m, g, t, p is not the SI prefix, so the b's case says little),
and a binary prefix with a lowercase b (`gib`, `Gib`: gibibits are not a unit people
mean).

A unit of another kind than the question's (`12 ms` for a size) is an `AnswerError`
whose message says what was asked; so is anything that is not a number.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import NamedTuple


class Kind(StrEnum):
    BYTES = "bytes"
    TIME = "time"
    RATE = "rate"
    BANDWIDTH = "bandwidth"
    MONEY = "money"
    RATIO = "ratio"
    COUNT = "count"


NOUN: dict[Kind, str] = {
    Kind.BYTES: "a size in bytes",
    Kind.TIME: "a time",
    Kind.RATE: "a rate in tokens/s",
    Kind.BANDWIDTH: "a bandwidth in bytes/s",
    Kind.MONEY: "an amount in dollars",
    Kind.RATIO: "a factor or a percentage",
    Kind.COUNT: "a plain number",
}
EXAMPLES: dict[Kind, str] = {
    Kind.BYTES: "14 GB, 13 GiB, 1.4e10 or, in bits, 112 Gb",
    Kind.TIME: "120 ms, 2.5 s, 80 us",
    Kind.RATE: "3.2k tok/s, 45 tok/s",
    Kind.BANDWIDTH: "2.5 TB/s, 900 GB/s or, in bits, 400 Gb/s",
    Kind.MONEY: "$1.20, 0.35",
    Kind.RATIO: "1.5x, 40%, 0.4",
    Kind.COUNT: "12, 3.5k, 7.2 billion",
}
BARE: dict[Kind, str] = {
    Kind.BYTES: "bytes",
    Kind.TIME: "seconds",
    Kind.RATE: "tokens/s",
    Kind.BANDWIDTH: "bytes/s",
    Kind.MONEY: "dollars",
    Kind.RATIO: "a factor (0.4 = 40%)",
    Kind.COUNT: "a count",
}


class AnswerError(ValueError):
    """An answer that cannot be graded; the message is one line for the person."""


# Byte units spelt out; the symbols (GB, Gb, GiB...) are read case and all by `_symbol`.
_BYTE_SCALES = {
    "byte": 1.0,
    "bytes": 1.0,
    "kilobyte": 1e3,
    "kilobytes": 1e3,
    "megabyte": 1e6,
    "megabytes": 1e6,
    "gigabyte": 1e9,
    "gigabytes": 1e9,
    "terabyte": 1e12,
    "terabytes": 1e12,
}
_PREFIXES = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15}
_PREFIX_WORDS = {"": "", "k": "kilo", "m": "mega", "g": "giga", "t": "tera", "p": "peta"}
_BINARY = {"k": 2.0**10, "m": 2.0**20, "g": 2.0**30, "t": 2.0**40, "p": 2.0**50}
_BINARY_WORDS = {"k": "kibi", "m": "mebi", "g": "gibi", "t": "tebi", "p": "pebi"}
BITS_PER_BYTE = 8
_TIME_SCALES = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "msec": 1e-3,
    "millisecond": 1e-3,
    "milliseconds": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
}
_COUNT_NOUNS = (
    "params",
    "parameters",
    "gpus",
    "gpu",
    "sequences",
    "sequence",
    "seqs",
    "seq",
    "requests",
    "replicas",
)


class Reading(NamedTuple):
    """What a unit stands for: its kind (None: a bare number) and its scale to the kind's
    base unit; `bits` names the bit unit it was read as (`gigabits`), or is empty."""

    kind: Kind | None
    scale: float
    bits: str = ""


def _bit_words() -> dict[str, Reading]:
    """`bit`, `Gbit`, `gigabits` (and per second): spelt out, so their case does not matter."""
    found: dict[str, Reading] = {}
    for p, scale in _PREFIXES.items():
        words = f"{_PREFIX_WORDS[p]}bits"
        for name in (f"{p}bit", f"{p}bits", f"{_PREFIX_WORDS[p]}bit", words):
            found[name] = Reading(Kind.BYTES, scale / BITS_PER_BYTE, words)
            found[f"{name}/s"] = Reading(Kind.BANDWIDTH, scale / BITS_PER_BYTE, f"{words}/s")
    return found


_BIT_WORDS = _bit_words()

UNITS: dict[str, tuple[Kind, float]] = {
    **{u: (Kind.BYTES, s) for u, s in _BYTE_SCALES.items()},
    **{f"{u}/s": (Kind.BANDWIDTH, s) for u, s in _BYTE_SCALES.items()},
    **{u: (r.kind, r.scale) for u, r in _BIT_WORDS.items() if r.kind is not None},
    **{u: (Kind.TIME, s) for u, s in _TIME_SCALES.items()},
    "tok/s": (Kind.RATE, 1.0),
    "t/s": (Kind.RATE, 1.0),
    "tps": (Kind.RATE, 1.0),
    "$": (Kind.MONEY, 1.0),
    "usd": (Kind.MONEY, 1.0),
    "dollar": (Kind.MONEY, 1.0),
    "dollars": (Kind.MONEY, 1.0),
    "cents": (Kind.MONEY, 0.01),
    "cent": (Kind.MONEY, 0.01),
    "¢": (Kind.MONEY, 0.01),
    "x": (Kind.RATIO, 1.0),
    "×": (Kind.RATIO, 1.0),
    "times": (Kind.RATIO, 1.0),
    "%": (Kind.RATIO, 0.01),
    "percent": (Kind.RATIO, 0.01),
    **{noun: (Kind.COUNT, 1.0) for noun in _COUNT_NOUNS},
}
MULTIPLIERS: dict[str, float] = {
    "thousand": 1e3,
    "million": 1e6,
    "billion": 1e9,
    "trillion": 1e12,
    "bn": 1e9,
    "k": 1e3,
    "m": 1e6,
    "b": 1e9,
    "g": 1e9,
    "t": 1e12,
}
# The kinds a multiplier may stand in front of: `3.2k tok/s`, `7B params`, `$1.2k`.
_MULTIPLIED = (Kind.RATE, Kind.COUNT, Kind.MONEY)

_HEDGES = re.compile(r"^(~|≈|about|approx\.?|approximately|roughly|around)\s*", re.IGNORECASE)
_NUMBER = re.compile(
    r"(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(?:[eE](?P<exp>[+-]?\d+))?"
)
_MULTIPLIER = re.compile(r"^(thousand|million|billion|trillion|bn|k|m|b|g|t)(.*)$")
_PER_MILLION = re.compile(r"/1?(m|million)(tok)?$")


def _normalise(rest: str, *, lower: bool = True) -> str:
    s = re.sub(r"\bper\b", "/", rest.strip(), flags=re.IGNORECASE)
    s = re.sub(r"\s+", "", s.lower() if lower else s)
    if lower:
        s = re.sub(r"tokens?|toks", "tok", s)
    return re.sub(r"/(sec|secs|second)$", "/s", s, flags=re.IGNORECASE)


# A byte or bit symbol, its case kept: `GB`, `Gb`, `GiB`, `kB/s`, `Gbps`, `b`.
_SYMBOL = re.compile(r"(?P<prefix>[kmgtp]?)(?P<binary>i?)(?P<b>b)(?P<per>/s|ps)?", re.IGNORECASE)


def _symbol(raw: str, symbol: str) -> Reading | None:
    """The reading of a byte or bit symbol (`symbol`: the unit, spaces out, case kept), or
    None when it is not one. An ambiguous one is an AnswerError (module docstring)."""
    m = _SYMBOL.fullmatch(symbol)
    if m is None or (m["binary"] and m["prefix"] == ""):
        return None
    prefix, binary, bits = m["prefix"], bool(m["binary"]), m["b"] == "b"
    per = (m["per"] or "").lower()
    p = prefix.lower()
    kind, per_s = (Kind.BANDWIDTH, "/s") if per else (Kind.BYTES, "")
    if binary and per == "ps":
        return None  # `GiBps`: not a spelling anyone uses
    if not bits:
        return Reading(kind, _BINARY[p] if binary else _PREFIXES[p])
    words = f"{_PREFIX_WORDS[p]}bits{per_s}"
    if binary:
        raise AnswerError(
            f"'{raw}' is ambiguous: a lowercase b is bits; write {prefix.upper()}iB{per_s} "
            f"for {_BINARY_WORDS[p]}bytes{per_s} or {prefix.upper()}b{per_s} for {words}"
        )
    if per != "ps" and prefix in ("m", "g", "t", "p"):  # `bps` is bits whatever the prefix
        raise AnswerError(
            f"'{raw}' is ambiguous: write {prefix.upper()}B{per_s} for "
            f"{_PREFIX_WORDS[p]}bytes{per_s} or {prefix.upper()}b{per_s} for {words}"
        )
    return Reading(kind, _PREFIXES[p] / BITS_PER_BYTE, words)


def _candidates(unit: str, symbol: Reading | None, dollar: bool) -> list[Reading]:
    """Every reading of `unit` (`symbol`: its reading as a byte or bit symbol); kind None
    is a bare number (times a multiplier)."""
    if dollar or (m := _PER_MILLION.search(unit)) is not None:
        # `$1.20/M`, `1.2 usd per million tokens`: the question is already per million
        stripped = _PER_MILLION.sub("", unit)
        if dollar or UNITS.get(stripped, (None, 0.0))[0] is Kind.MONEY:
            unit = stripped
    found: list[Reading] = []
    if unit == "":
        found.append(Reading(None, 1.0))
    if symbol is not None:
        found.append(symbol)
    elif unit in _BIT_WORDS:
        found.append(_BIT_WORDS[unit])
    elif unit in UNITS:
        found.append(Reading(*UNITS[unit]))
    if (m := _MULTIPLIER.match(unit)) is not None:
        scale, tail = MULTIPLIERS[m.group(1)], m.group(2)
        if tail == "":  # `7B` in a question that asks for a count: 7 billion
            found.append(Reading(None, scale))
        elif tail in UNITS and UNITS[tail][0] in _MULTIPLIED:
            kind, unit_scale = UNITS[tail]
            found.append(Reading(kind, scale * unit_scale))
    if dollar:
        found = [Reading(Kind.MONEY, r.scale) for r in found if r.kind in (None, Kind.MONEY)]
        if not found:
            raise AnswerError("a $ amount takes no other unit: write e.g. $1.20")
    return found


def parse(text: str, kind: Kind) -> float:
    """The value of `text` in the base unit of `kind` (bytes, seconds...), or AnswerError."""
    return read(text, kind)[0]


def read(text: str, kind: Kind) -> tuple[float, str]:
    """`parse`'s value, and the bit unit it read `text` in (`gigabits`; empty for any
    other unit), for a grade to say so: bits are divided by 8."""
    raw = text.strip()
    if not raw:
        raise AnswerError(f"no answer given: type {NOUN[kind]}, e.g. {EXAMPLES[kind]}")
    s = _HEDGES.sub("", raw)
    dollar = s.startswith("$")
    if dollar:
        s = s[1:].lstrip()
    if s.startswith(("-", "−")):
        raise AnswerError(f"'{raw}': every answer here is a positive quantity")
    number = _NUMBER.match(s)
    if number is None:
        raise AnswerError(f"'{raw}' is not a number: type {NOUN[kind]}, e.g. {EXAMPLES[kind]}")
    value = float(number.group("num").replace(",", ""))
    if number.group("exp") is not None:
        try:
            value *= 10.0 ** int(number.group("exp"))
        except OverflowError:
            value = math.inf
    rest = s[number.end() :]
    unit = _normalise(rest)
    options = _candidates(unit, _symbol(raw, _normalise(rest, lower=False)), dollar)
    if not options:
        raise AnswerError(
            f"'{raw}': '{rest.strip()}' is not a unit drill knows; "
            f"for {NOUN[kind]} write e.g. {EXAMPLES[kind]}"
        )
    chosen = next((o for o in options if o.kind in (None, kind)), None)
    if chosen is None:
        found = options[0]
        assert found.kind is not None
        noun = NOUN[found.kind]
        if found.bits:  # `a size in bytes` would not be what they typed
            noun = noun.replace("bytes", "bits")
        raise AnswerError(
            f"'{raw}' is {noun}, but this question asks for {NOUN[kind]} (e.g. {EXAMPLES[kind]})"
        )
    if chosen.kind is None and chosen.scale != 1.0 and kind is Kind.TIME:
        raise AnswerError(f"'{raw}': give a time with its unit, e.g. {EXAMPLES[kind]}")
    result = value * chosen.scale
    if not math.isfinite(result):
        raise AnswerError(f"'{raw}' is too large to be an estimate of anything here")
    return result, chosen.bits


# --- wording values -------------------------------------------------------------------------


def _g(x: float, digits: int = 4) -> str:
    """`x` to `digits` significant figures, without trailing zeros."""
    return f"{x:.{digits}g}"


def _scaled(value: float, scales: tuple[tuple[float, str], ...], digits: int) -> str:
    """In the first unit whose scale `value` reaches (the last one below them all)."""
    scale, unit = next((s for s in scales if abs(value) >= s[0]), scales[-1])
    return f"{_g(value / scale, digits)} {unit}"


_SI_BYTES = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"), (1.0, "B"))
_BIN_BYTES = ((2.0**40, "TiB"), (2.0**30, "GiB"), (2.0**20, "MiB"), (2.0**10, "KiB"), (1.0, "B"))
_TIMES = ((3600.0, "h"), (60.0, "min"), (1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns"))
_RATES = ((1e6, "M tok/s"), (1e3, "k tok/s"), (1.0, "tok/s"))
_BANDWIDTHS = ((1e12, "TB/s"), (1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s"), (1.0, "B/s"))
_COUNTS = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))


def format_value(kind: Kind, value: float, *, percent: bool = False, digits: int = 4) -> str:
    """`value` in words `parse` reads back (to `digits` significant figures)."""
    if kind is Kind.BYTES:
        return _scaled(value, _SI_BYTES, digits)
    if kind is Kind.TIME:  # seconds up to 2 minutes, minutes up to 10 hours
        scales = _TIMES if value >= 36000 else _TIMES[1:] if value >= 120 else _TIMES[2:]
        return _scaled(value, scales, digits)
    if kind is Kind.RATE:  # 3.2k tok/s, 1.5M tok/s, 45 tok/s
        return _scaled(value, _RATES, digits).replace(" k ", "k ").replace(" M ", "M ")
    if kind is Kind.BANDWIDTH:
        return _scaled(value, _BANDWIDTHS, digits)
    if kind is Kind.MONEY:
        return f"${value:,.2f}" if value >= 100 else f"${_g(value, digits)}"
    if kind is Kind.RATIO:
        return f"{_g(value * 100, digits)}%" if percent else f"{_g(value, digits)}x"
    if value >= 1e6:
        return _scaled(value, _COUNTS, digits)
    if float(value).is_integer():
        return f"{int(value):,}"
    return _g(value, digits)


def show(kind: Kind, value: float, *, percent: bool = False) -> str:
    """`value` for a person: exact bytes and counts with their rounder form beside them."""
    if kind is Kind.BYTES:
        if value < 1024:
            return f"{_g(value, 4)} B"
        binary = _scaled(value, _BIN_BYTES, 4)
        if float(value).is_integer() and value < 1e7:
            return f"{int(value):,} B ({binary})"
        return f"{format_value(kind, value, digits=3)} ({binary})"
    if kind is Kind.COUNT and float(value).is_integer() and value >= 1e6:
        return f"{int(value):,} ({format_value(kind, value, digits=3)})"
    return format_value(kind, value, percent=percent, digits=4 if kind is Kind.COUNT else 3)
