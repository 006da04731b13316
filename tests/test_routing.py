"""The connexion subclasses: written for a known connexion, and routing by table as connexion would."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from connexion.middleware.abstract import RoutedAPI, RoutedMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.resolver import Resolver

from tmfgate import routing


def test_connexion_is_a_version_the_subclasses_were_written_for() -> None:
    problem = routing.connexion_problem()
    assert problem is None, problem


def test_a_version_they_were_not_written_for_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routing, "version", lambda _: "4.0.1")
    problem = routing.connexion_problem()
    assert problem is not None and "connexion 4.0.1 is installed" in problem and "WRITTEN_FOR" in problem
    assert version("connexion").startswith(routing.WRITTEN_FOR)


def test_the_internals_the_subclasses_rely_on_are_there() -> None:
    """The methods routing.py overrides or calls, as connexion 3.3 has them."""
    for cls, names in (
        (RoutedAPI, ("add_paths", "add_operation", "make_operation")),
        (RoutedMiddleware, ("add_api",)),
        (RoutingMiddleware, ("add_api",)),
        (SwaggerUIMiddleware, ("add_api",)),
        (Resolver, ("resolve",)),
    ):
        for name in names:
            assert callable(getattr(cls, name, None)), (
                f"connexion's {cls.__name__} has no {name}; update tmfgate.routing"
            )
