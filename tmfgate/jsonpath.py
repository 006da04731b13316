"""The JSON Path subset of TMF630 Part 6 that tmfgate evaluates: read, rename and write it back.

One form, the one the TMF guides use: ``[$.]a.b[?(@.x=='1' && @.y>2)]`` optionally followed by
``.c.d`` (a JSON Patch Query's target inside the selected elements), or a plain ``$.a.b``. A
predicate is comparisons of ``@``-paths with a literal (``'text'``, a number, ``true``/``false``,
``/regex/`` or ``/regex/i`` after ``=~``) joined by ``&&``. Everything else Part 6 allows (``||``,
``!``, ``..``, ``*``, indexes, functions, nested filters) is refused with a message saying what is
accepted, so no query is ever read differently from what the client meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal

from tmfgate.errors import InvalidQuery

Path = tuple[str, ...]
Literal = str | Decimal | bool
OPERATORS = ("==", "!=", ">=", "<=", ">", "<", "=~")
MAX_LENGTH = 2000
MAX_COMPARISONS = 20

_NAME = re.compile(r"[A-Za-z_@][\w@\-]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_SPACE = re.compile(r"\s*")
_ACCEPTED = (
    "write it as a path with one filter, as in note[?(@.author=='John Doe' && @.date>'2024-01-01')], "
    "comparing @-paths with 'text', numbers, true, false or /regex/ by == != > >= < <= =~, joined by &&"
)


@dataclass(frozen=True)
class Comparison:
    """``@.path op literal``; ``regex`` when the literal was written ``/pattern/``."""

    path: Path
    op: str
    value: Literal
    regex: bool = False


@dataclass(frozen=True)
class JsonPath:
    """``$.path[?(predicate)].rest``; no predicate: the plain path ``$.path``."""

    path: Path
    predicate: tuple[Comparison, ...] | None = None
    rest: Path = ()


def parse(text: str, *, selection: bool = False) -> JsonPath:
    """Read an expression; ``selection`` allows a path after the filter (JSON Patch Query targets)."""
    if len(text) > MAX_LENGTH:
        raise InvalidQuery(f"A JSON Path expression can be at most {MAX_LENGTH} characters long.")
    reader = _Reader(text.strip())
    if reader.take("$"):
        reader.take(".")
    path = reader.named(anchor=True)
    predicate = None
    if reader.take("[?("):
        predicate = reader.predicate()
        reader.expect(")]")
    rest = reader.path(anchor=False) if predicate is not None else ()
    if not reader.done():
        raise InvalidQuery(f"The JSON Path {_shown(text)} cannot be read at {_shown(reader.left())}; {_ACCEPTED}.")
    if rest and not selection:
        raise InvalidQuery(f"The JSON Path filter {_shown(text)} must end with its [?(...)] filter; {_ACCEPTED}.")
    if predicate is None and not selection:
        raise InvalidQuery(f"The JSON Path filter {_shown(text)} has no [?(...)] filter; {_ACCEPTED}.")
    return JsonPath(path, predicate, rest)


def render(expression: JsonPath) -> str:
    """The expression as text that :func:`parse` reads back to the same value."""
    text = "$" + "".join(_segment(name) for name in expression.path)
    if expression.predicate is not None:
        text += "[?(" + " && ".join(_comparison(item) for item in expression.predicate) + ")]"
        text += "".join(_segment(name) for name in expression.rest)
    return text


def with_paths(expression: JsonPath, path: Path, relative: list[Path], rest: Path = ()) -> JsonPath:
    """The expression with its path, its comparisons' paths (in order) and its rest replaced."""
    predicate = expression.predicate
    if predicate is not None:
        predicate = tuple(replace(item, path=new) for item, new in zip(predicate, relative, strict=True))
    return JsonPath(path, predicate, rest)


def _segment(name: str) -> str:
    if _NAME.fullmatch(name):
        return "." + name
    return "['" + name.replace("\\", "\\\\").replace("'", "\\'") + "']"


def _comparison(item: Comparison) -> str:
    path = "@" + "".join(_segment(name) for name in item.path)
    return f"{path}{item.op}{_literal(item)}"


def _literal(item: Comparison) -> str:
    value = item.value
    if item.regex:
        text = str(value)
        flags = "i" if text.startswith("(?i)") else ""
        return "/" + text.removeprefix("(?i)").replace("/", "\\/") + "/" + flags
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value)
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class _Reader:
    """A cursor over the expression's text."""

    def __init__(self, text: str) -> None:
        self.text, self.at = text, 0

    def done(self) -> bool:
        return self.at >= len(self.text)

    def left(self) -> str:
        return self.text[self.at :]

    def peek(self, token: str) -> bool:
        return self.text.startswith(token, self.at)

    def take(self, token: str) -> bool:
        if self.peek(token):
            self.at += len(token)
            return True
        return False

    def space(self) -> None:
        match = _SPACE.match(self.text, self.at)
        self.at = match.end() if match else self.at

    def expect(self, token: str) -> None:
        self.space()
        if not self.take(token):
            raise InvalidQuery(
                f"The JSON Path {_shown(self.text)} needs {token!r} at {_shown(self.left())}; {_ACCEPTED}."
            )

    def path(self, *, anchor: bool) -> Path:
        """Names as ``.a.b`` or ``['a']`` (``anchor``: the first may come without its dot, after ``$`` or
        ``@``); ``[*]`` after a name is the same path, as arrays are walked anyway."""
        names: list[str] = []
        while True:
            if names and self.take("[*]"):
                continue
            if self.take("['") or self.take('["'):
                names.append(self.quoted(self.text[self.at - 1]))
                self.expect("]")
                continue
            if self.peek(".."):
                raise InvalidQuery(f"The JSON Path {_shown(self.text)} uses '..'; {_ACCEPTED}.")
            dotted = self.take(".")
            if not dotted and not (anchor and not names):
                return tuple(names)
            match = _NAME.match(self.text, self.at)
            if match is None:
                if dotted:
                    raise InvalidQuery(f"The JSON Path {_shown(self.text)} needs a name after '.'; {_ACCEPTED}.")
                return tuple(names)
            names.append(match[0])
            self.at = match.end()

    def named(self, *, anchor: bool) -> Path:
        path = self.path(anchor=anchor)
        if not path:
            raise InvalidQuery(f"The JSON Path {_shown(self.text)} names no attribute; {_ACCEPTED}.")
        return path

    def pattern(self) -> str:
        """A ``/regex/`` body: ``\\/`` is a slash, any other escape stays for the regex."""
        chars: list[str] = []
        while not self.done():
            char = self.text[self.at]
            self.at += 1
            if char == "\\" and self.peek("/"):
                chars.append("/")
                self.at += 1
            elif char == "\\" and not self.done():
                chars += [char, self.text[self.at]]
                self.at += 1
            elif char == "/":
                return "".join(chars)
            else:
                chars.append(char)
        raise InvalidQuery(f"The JSON Path {_shown(self.text)} opens a /regex/ it never closes.")

    def quoted(self, quote: str) -> str:
        chars: list[str] = []
        while not self.done():
            char = self.text[self.at]
            self.at += 1
            if char == "\\" and not self.done():
                chars.append(self.text[self.at])
                self.at += 1
            elif char == quote:
                return "".join(chars)
            else:
                chars.append(char)
        raise InvalidQuery(f"The JSON Path {_shown(self.text)} opens a quote it never closes.")

    def predicate(self) -> tuple[Comparison, ...]:
        comparisons = [self.comparison()]
        while True:
            self.space()
            if self.peek("||"):
                raise InvalidQuery(f"The JSON Path {_shown(self.text)} uses ||, which is not supported; {_ACCEPTED}.")
            if not self.take("&&"):
                break
            comparisons.append(self.comparison())
            if len(comparisons) > MAX_COMPARISONS:
                raise InvalidQuery(f"A JSON Path filter can join at most {MAX_COMPARISONS} comparisons.")
        return tuple(comparisons)

    def comparison(self) -> Comparison:
        self.space()
        if not self.take("@"):
            raise InvalidQuery(
                f"The JSON Path {_shown(self.text)} compares {_shown(self.left())}, not an @-path; {_ACCEPTED}."
            )
        # "@size==300" (the TMF639 v5 file's own example) reads as "@.size==300".
        path = self.named(anchor=True)
        self.space()
        op = next((op for op in OPERATORS if self.take(op)), None)
        if op is None:
            raise InvalidQuery(
                f"The JSON Path {_shown(self.text)} has no comparison operator at {_shown(self.left())}; {_ACCEPTED}."
            )
        self.space()
        value, regex = self.literal()
        if (op == "=~") != regex:
            raise InvalidQuery(
                f"In the JSON Path {_shown(self.text)}, =~ takes a /regex/ and a /regex/ only goes with =~."
            )
        return Comparison(path, op, value, regex)

    def literal(self) -> tuple[Literal, bool]:
        if self.take("'") or self.take('"'):
            return self.quoted(self.text[self.at - 1]), False
        if self.take("/"):
            pattern = self.pattern()
            return ("(?i)" + pattern if self.take("i") else pattern), True
        for word, flag in (("true", True), ("false", False)):
            if self.take(word):
                return flag, False
        match = _NUMBER.match(self.text, self.at)
        if match is None:
            raise InvalidQuery(
                f"The JSON Path {_shown(self.text)} compares with {_shown(self.left())}, which is not a "
                "'text', a number, true, false or a /regex/."
            )
        self.at = match.end()
        return Decimal(match[0]), False


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


__all__ = ["Comparison", "JsonPath", "parse", "render", "with_paths"]
