"""TMF630 ``.regex`` filters in linear time: Google's RE2, for the in-memory and SQLite stores and
hub subscription queries, read as Python's ``re`` and PostgreSQL read the portable subset.

A backtracking engine takes exponential time on patterns such as ``(a|a)*!`` (security review
F-06: one 26-character value stalled the gateway 18 s); RE2 never backtracks. Its ``\\d``, ``\\w``
and ``\\s`` are ASCII-only, so they are spelled out as the Unicode classes the others use.
"""

from __future__ import annotations

from functools import lru_cache

import re2

_SPACE = r"\t\n\x0b\f\r\x1c-\x1f\x85\p{Z}"  # str.isspace, as Python's \s and PostgreSQL's [[:space:]]
_WORD = r"\p{L}\p{N}_"  # str.isalnum or "_", as Python's \w
_OUTSIDE = {
    "d": r"\p{Nd}",
    "D": r"\P{Nd}",
    "w": f"[{_WORD}]",
    "W": f"[^{_WORD}]",
    "s": f"[{_SPACE}]",
    "S": f"[^{_SPACE}]",
    "Z": r"\z",
}
_INSIDE = {"d": r"\p{Nd}", "w": _WORD, "s": _SPACE}  # \D, \S and \W are not allowed in a class


def for_re2(pattern: str) -> str:
    """``pattern`` with the class escapes and ``\\Z`` rewritten as RE2 reads them alike."""
    out: list[str] = []
    index, in_class = 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escaped = pattern[index + 1]
            table = _INSIDE if in_class else _OUTSIDE
            out.append(table.get(escaped, char + escaped))
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
            start = index + 1 + pattern.startswith("^", index + 1)
            if pattern.startswith("]", start):  # a leading ] is a member
                out.append(pattern[index : start + 1])
                index = start + 1
                continue
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        index += 1
    return "".join(out)


@lru_cache(maxsize=256)
def compiled(pattern: str) -> re2._Regexp | None:
    """The RE2 program of a pattern (``.`` matching a newline, as on PostgreSQL), or None when RE2
    cannot run it (a lookaround, for one)."""
    options = re2.Options()
    options.dot_nl = True
    options.log_errors = False
    try:
        return re2.compile(for_re2(pattern), options)
    except re2.error:
        return None


__all__ = ["compiled", "for_re2"]
