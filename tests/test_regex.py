"""The portable regular-expression subset accepted for ``.regex`` filters."""

from __future__ import annotations

import pytest

from tmfgate.regex import portability_problem


@pytest.mark.parametrize(
    "pattern",
    [
        "",
        "^ack",
        "(?i)^ACK",
        r"\d{3}-\d{4}",
        r"[\w.-]+@example\.com$",
        "(?:foo|bar)+baz",
        "a*?b",
        "x{2,3}?",
        "[]a]",
        "[^]a]",
        r"[a\d\s]",
        "(a{100}){10}",
        r"\Aa\Z",
        "a}",
    ],
)
def test_accepted(pattern: str) -> None:
    assert portability_problem(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("(", "unclosed '('"),
        ("a)", "unbalanced"),
        ("[a", "unclosed '['"),
        ("\\", "lone backslash"),
        ("*a", "nothing to repeat"),
        (r"\bword", r"escape \b"),
        (r"(a)\1", r"escape \1"),
        (r"\x41", r"escape \x"),
        (r"[\b]", r"escape \b"),
        ("(?P<n>a)", "(?...)"),
        ("(?i:a)", "(?...)"),
        ("x(?i)", "(?...)"),
        ("(?>a)", "(?...)"),
        ("a*+", "repeats a repetition"),
        ("a**", "repeats a repetition"),
        ("(a+)*", "nests repetitions"),
        ("(a*){2}", "nests repetitions"),
        ("a{256}", "more than 255"),
        ("(a{100}){100}", "too complex"),
        ("a{,3}", "'{'"),
        ("{", "'{'"),
        ("[[:alpha:]]", "inside a character class"),
        ("[a--b]", "not a valid regular expression"),
        ("(?<=a)b", "lookaround"),
        ("(?!x)y", "lookaround"),
        (r"[\D]", r"escape \D"),
        (r"[a\W]", r"escape \W"),
        ("a{3,2}", "not a valid regular expression"),
        ("a" * 257, "longer than 256"),
    ],
)
def test_refused_with_a_reason(pattern: str, fragment: str) -> None:
    problem = portability_problem(pattern)
    assert problem is not None and fragment in problem, problem
