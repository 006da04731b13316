"""Bound values by name (backends.sql.binds): the shape holds the names and choices, never the values."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from backends.sql.binds import Binds


def _binds(texts: list[str], *, numeric: bool) -> Binds:
    binds = Binds()
    binds.add("c0_texts", texts)
    binds.choose("c0_member", numeric)
    binds.add("c0_regex0", "a")
    binds.add("c0_regex1", "b")
    return binds


def test_the_shape_is_the_names_and_choices_not_the_values() -> None:
    one, other = _binds(["a"], numeric=False), _binds(["b", "c"], numeric=False)
    assert one.shape() == other.shape() == (("c0_regex0", "c0_regex1", "c0_texts"), (("c0_member", False),))
    assert _binds(["a"], numeric=True).shape() != one.shape()


def test_names_are_read_in_order_and_choices_back() -> None:
    binds = _binds(["a"], numeric=True)
    assert binds.names("c0_regex") == ["c0_regex0", "c0_regex1"] and binds.names("c1_regex") == []
    assert binds.chose("c0_member") is True and binds.has("c0_texts") and not binds.has("c1_texts")
    with pytest.raises(KeyError):
        binds.chose("c1_member")  # a choice the values never made: the SQL would depend on more than the shape


def test_a_parameter_runs_with_its_own_value_or_another_query_s() -> None:
    binds = _binds(["a", "c"], numeric=False)
    statement = sa.select(sa.literal("b", sa.Text).in_(binds.bind("c0_texts", sa.Text(), expanding=True)))
    engine = sa.create_engine("sqlite://")
    with engine.connect() as connection:
        assert not connection.execute(statement).scalar()  # the value it was built with
        assert connection.execute(statement, {"c0_texts": ["a", "b", "c"]}).scalar()  # another query's, by name
        assert not connection.execute(statement, {"c0_texts": []}).scalar()
    engine.dispose()
