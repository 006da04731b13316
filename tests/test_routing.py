"""The connexion subclasses: written for a known connexion, and routing by table as connexion would."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from connexion.middleware.abstract import RoutedAPI, RoutedMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.resolver import Resolver

from tmfgate import routing, specs


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


def test_a_text_is_resolved_once_and_each_spec_keeps_its_own_base_path() -> None:
    document = specs.load(specs.specs_dir() / "tmf629_customer.yaml").document
    first = routing.CheckedSpecification(document)
    second = routing.CheckedSpecification(specs.load(specs.specs_dir() / "tmf629_customer.yaml").document)
    assert first.spec["components"] is second.spec["components"]  # resolved once, below the top level
    assert "$ref" not in str(first.spec["paths"]["/customer"]["get"]["responses"]["200"])
    clone = first.with_base_path("/elsewhere/v4")  # as the docs UI serves a spec at an alias
    assert clone.base_path == "/elsewhere/v4" and clone.raw["servers"] == [{"url": "/elsewhere/v4"}]
    assert first.base_path == second.base_path == "/tmf-api/customerManagement/v4"
    assert first.raw["servers"] == document["servers"] and first.raw is not second.raw


def test_a_text_built_unchecked_is_still_checked_as_an_api_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    document = specs.load(specs.specs_dir() / "tmf629_customer.yaml").document
    document["info"]["title"] = "A text first built as another version's"
    routing.FaceSpecification(document)
    checked: list[str] = []
    monkeypatch.setattr(routing.OpenAPISpecification, "_validate_spec", classmethod(lambda _, s: checked.append(s)))
    routing.CheckedSpecification(document)
    assert [spec["info"]["title"] for spec in checked] == [document["info"]["title"]]
