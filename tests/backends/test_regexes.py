"""RE2 reads the portable regex subset as Python's ``re`` (and PostgreSQL) do, in linear time."""

from __future__ import annotations

import re

import pytest

from backends.regexes import compiled, for_re2
from tests.backends.cases import REGEXES
from tmfgate.regex import portability_problem

SAMPLES = ["", "a", "abc", "A", "ba", "a\nb", "é", "x y", "aaa", "#", "-", "]", "a}", "\t", "\x0b", "٣", "\u3000", "_"]
EXTRA = [r"[a\d\s]", r"[^\w]", r"\W+", r"\S", r"\D", r"[\w.-]+@example\.com$", "[]a]", "[^]a]", r"\Aa\Z"]


@pytest.mark.parametrize("pattern", [p for p in REGEXES + EXTRA if portability_problem(p) is None])
def test_re2_matches_what_python_matches(pattern: str) -> None:
    program = compiled(pattern)
    assert program is not None, for_re2(pattern)
    python = re.compile(pattern, re.DOTALL)
    for sample in SAMPLES:
        assert (program.search(sample) is not None) == (python.search(sample) is not None), (pattern, sample)


def test_class_escapes_are_spelled_as_unicode_classes() -> None:
    assert for_re2(r"\d[\w]\Z") == r"\p{Nd}[\p{L}\p{N}_]\z"
    assert for_re2(r"[]\s]") == r"[]\t\n\x0b\f\r\x1c-\x1f\x85\p{Z}]"


def test_what_needs_backtracking_does_not_compile() -> None:
    assert compiled("(?=a)a") is None and compiled(r"(a)\1") is None


@pytest.mark.timeout(10)
def test_catastrophic_patterns_take_linear_time() -> None:
    program = compiled("(a|a)*!")
    assert program is not None and program.search("a" * 100_000) is None
