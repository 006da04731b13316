"""Regular expressions that PostgreSQL, RE2 and Python read alike, for TMF630 ``.regex`` filters.

The SQL backend runs a pattern with PostgreSQL's ``~`` (Spencer AREs), the in-memory and SQLite
stores and hub queries with RE2 in linear time (:mod:`backends.regexes`); a pattern outside the
shared subset would match differently or fail inside the store, turning a client error into a 500.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

from backends import regexes

_ESCAPES = frozenset("dDsSwWAZntrfv")
_CLASS_ESCAPES = frozenset("dswntrfv")  # PostgreSQL refuses \D, \S and \W in a class
_GROUPS = ("(?:",)  # RE2 has no lookaround: it would need backtracking
_COUNT = re.compile(r"\{([0-9]{1,3})(,([0-9]{0,3}))?\}")
_MAX_PATTERN = 256
_MAX_REPEAT = 255  # PostgreSQL's largest repetition count (DUPMAX)
# Atoms after expanding counted repeats; PostgreSQL reports "too complex" somewhere past 10,000.
_MAX_WEIGHT = 5000


def portability_problem(pattern: str) -> str | None:
    """Why a pattern is not accepted, as the end of a sentence, or None when it is."""
    problem = _scan(pattern)
    if problem is not None:
        return problem
    try:
        with warnings.catch_warnings():
            # Python warns about sets such as [a--b] whose meaning will change: refuse them now.
            warnings.simplefilter("error")
            re.compile(pattern, re.DOTALL)
    except (re.error, FutureWarning, RecursionError, OverflowError) as error:
        return f"is not a valid regular expression ({error})"
    if regexes.compiled(pattern) is None:
        return "cannot run in linear time (RE2)"
    return None


@dataclass
class _Group:
    """Size bookkeeping for one parenthesised group while scanning a pattern."""

    weight: int = 0
    unbounded: bool = False
    last: tuple[int, bool] | None = None  # the atom a quantifier would repeat

    def close_atom(self) -> None:
        if self.last is not None:
            self.weight += self.last[0]
            self.unbounded = self.unbounded or self.last[1]
            self.last = None


def _scan(pattern: str) -> str | None:
    """Why a pattern is outside the portable subset, or None.

    PostgreSQL and Python read ``\\b``, ``\\x``, back-references, named groups, inline flags and
    possessive repeats differently or not at all; PostgreSQL refuses counts above 255 and patterns
    that expand too far; nested repeats such as ``(a+)*`` backtrack exponentially in Python (the
    in-memory and SQLite stores). All are refused with a reason.
    """
    if len(pattern) > _MAX_PATTERN:
        return f"is longer than {_MAX_PATTERN} characters"
    stack, index, after_repeat = [_Group()], (4 if pattern.startswith("(?i)") else 0), False
    while index < len(pattern):
        char = pattern[index]
        step: int | str
        if char in "*+?{" and after_repeat:
            if char != "?":
                return "repeats a repetition (as in a** or a*+), which is not supported"
            step, after_repeat = 1, False  # a lazy repeat such as a*?
        elif char in "*+?{":
            step, after_repeat = _quantifier(pattern, index, stack[-1]), True
        else:
            step, after_repeat = _token(pattern, index, stack), False
        if isinstance(step, str):
            return step
        index += step
    if len(stack) > 1:
        return "has an unclosed '('"
    stack[0].close_atom()
    if stack[0].weight > _MAX_WEIGHT:
        return "is too complex; use fewer or smaller repetition counts"
    return None


def _quantifier(pattern: str, index: int, group: _Group) -> int | str:
    """Apply ``*``, ``+``, ``?`` or ``{m,n}`` to the last atom; the token length, or a problem."""
    char, length, low, high = pattern[index], 1, 0, None
    if char == "{":
        count = _COUNT.match(pattern, index)
        if count is None:
            return "uses '{' outside a repetition count {m}, {m,} or {m,n}; write \\{ for a brace"
        low = int(count.group(1))
        high = low if count.group(2) is None else int(count.group(3)) if count.group(3) else None
        length = count.end() - index
    elif char == "+":
        low = 1
    elif char == "?":
        high = 1
    if low > _MAX_REPEAT or (high or 0) > _MAX_REPEAT:
        return f"repeats more than {_MAX_REPEAT} times"
    if group.last is None:
        return "has a repetition with nothing to repeat"
    weight, unbounded = group.last
    if unbounded and (high is None or high > 1):
        return "nests repetitions (as in (a+)*), which can take exponential time"
    group.last = (weight * (high if high is not None else max(low, 1)), unbounded or high is None)
    return length


def _token(pattern: str, index: int, stack: list[_Group]) -> int | str:
    """Consume a group bracket, an alternation, an escape, a class or a character."""
    char, group = pattern[index], stack[-1]
    group.close_atom()
    if char == "(":
        opener = (
            "("
            if not pattern.startswith("(?", index)
            else next((opener for opener in _GROUPS if pattern.startswith(opener, index)), None)
        )
        if opener is None:
            return "uses (?...) syntax other than a leading (?i) or (?:...) (no lookaround runs in linear time)"
        stack.append(_Group())
        return len(opener)
    if char == ")":
        if len(stack) == 1:
            return "has an unbalanced ')'"
        inner = stack.pop()
        inner.close_atom()
        stack[-1].last = (max(inner.weight, 1), inner.unbounded)
        return 1
    if char == "|":
        return 1
    length: int | str = 1
    if char == "\\":
        length = _escape(pattern, index, _ESCAPES)
    elif char == "[":
        length = _class(pattern, index)
    group.last = (1, False)
    return length


def _escape(pattern: str, index: int, allowed: frozenset[str]) -> int | str:
    escaped = pattern[index + 1 : index + 2]
    if not escaped:
        return "ends with a lone backslash"
    if escaped in allowed or (escaped.isascii() and escaped.isprintable() and not escaped.isalnum()):
        return 2
    return f"uses the escape \\{escaped}, which is not supported (PostgreSQL reads some differently)"


def _class(pattern: str, index: int) -> int | str:
    """The length of a ``[...]`` character class, or a problem."""
    end = index + 1
    end += pattern.startswith("^", end)
    end += pattern.startswith("]", end)  # a leading ] is a literal member
    while end < len(pattern):
        char = pattern[end]
        if char == "]":
            return end + 1 - index
        if char == "[":
            return "uses '[' inside a character class; write \\[ for a bracket"
        if char == "\\":
            step = _escape(pattern, end, _CLASS_ESCAPES)
            if isinstance(step, str):
                return step
            end += step
        else:
            end += 1
    return "has an unclosed '['"
