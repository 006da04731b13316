"""The values a list statement binds, by name, apart from the statement: what makes it reusable per shape.

Building the SQL of a filtered list costs more than running it (issue 14), so a list's statements
are built once per *shape* (:mod:`backends.sql.lists`) and run with each query's values as bound
parameters. The values are worked out first, here, under names derived from where they are used
(``c0_texts``: the texts of the first condition); every choice a value makes about the SQL (an
index that applies, a text that also spells a number, a missing day bound) shows as a name present
or absent, or as a recorded choice. The statement is then built from the names alone, so two
queries with the same names and choices get the same SQL and no value of one reaches the other.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, bindparam
from sqlalchemy.types import TypeEngine


class Binds:
    """Bound values by name, and the choices they made; :meth:`shape` is what the SQL depends on."""

    __slots__ = ("_choices", "values")

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self._choices: list[tuple[str, object]] = []

    def add(self, name: str, value: Any) -> None:
        """Bind ``value`` under ``name`` (a list for an IN, whatever its length)."""
        self.values[name] = value

    def choose(self, name: str, choice: bool) -> bool:
        """Record a choice the values made about the SQL (part of the shape) and return it."""
        self._choices.append((name, choice))
        return choice

    def chose(self, name: str) -> bool:
        """The choice recorded under ``name`` (a KeyError when none was: the builder asked for one the
        values did not make, which would make the SQL depend on something outside the shape)."""
        for recorded, choice in self._choices:
            if recorded == name:
                return bool(choice)
        raise KeyError(name)

    def has(self, name: str) -> bool:
        return name in self.values

    def names(self, prefix: str) -> list[str]:
        """The names ``prefix0``, ``prefix1``, ... bound, in order (one parameter each, such as regexes)."""
        found: list[str] = []
        while f"{prefix}{len(found)}" in self.values:
            found.append(f"{prefix}{len(found)}")
        return found

    def bind(self, name: str, type_: TypeEngine[Any] | None = None, *, expanding: bool = False) -> BindParameter[Any]:
        """The parameter ``name`` in a statement; it holds this query's value, so the statement also runs
        on its own (tests, ``str()``), and another query of the shape passes its own values."""
        if type_ is not None and type_._isnull:
            type_ = None  # typed from the value, as a literal would be
        return bindparam(name, self.values[name], type_=type_, expanding=expanding)

    def shape(self) -> tuple[tuple[str, ...], tuple[tuple[str, object], ...]]:
        """The names bound and the choices made: equal for two queries exactly when their SQL is."""
        return tuple(sorted(self.values)), tuple(self._choices)


__all__ = ["Binds"]
