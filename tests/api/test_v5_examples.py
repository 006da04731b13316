"""The official v5 examples of each create and patch body, sent to the gateway over HTTP: each passes
its request validation (a domain rule may still refuse it, saying why), and a spoiled one does not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import RunningGateway
from tests.shared import HOW
from tests.test_spec_examples import V5, Example, request_examples
from tests.test_specs import OFFICIAL_DIR, Api, load_yaml
from tmfgate.specs import load
from tmfgate.specs import specs_dir as shipped

# The sentences tmfgate.schemas writes when a body breaks the schema; domain refusals say other things.
SCHEMA_REFUSALS = ("Invalid request body", "The request body is missing")


@pytest.fixture(scope="module")
def running() -> Iterator[RunningGateway]:
    with RunningGateway("memory://", fulfilment=False) as gateway:
        yield gateway


def sent_to(url: str, base: str, example: Example) -> requests.Response:
    path = example.path.replace("{id}", "no-such-id")
    headers = {"Content-Type": example.media}
    data = json.dumps(example.value)
    return requests.request(example.method.upper(), f"{url}{base}{path}", data=data, headers=headers, timeout=30)


def refused_by_schema(reply: requests.Response) -> bool:
    return reply.status_code == 400 and str(reply.json().get("message", "")).startswith(SCHEMA_REFUSALS)


@pytest.mark.parametrize("api", V5, ids=str)
def test_official_v5_examples_pass_validation_over_http(api: Api, running: RunningGateway) -> None:
    path = OFFICIAL_DIR / api.official
    if not path.is_file():
        pytest.skip(f"official TM Forum specs not found at {OFFICIAL_DIR} ({HOW})")
    base = load(shipped() / api.spec).base_path
    examples = [e for e in request_examples(load_yaml(path)) if e.name not in api.bad_examples]
    assert examples, f"{api.official} has no create or patch example"
    refused = {}
    for example in examples:
        reply = sent_to(running.url, base, example)
        assert reply.status_code < 500, reply.text
        if refused_by_schema(reply):
            refused[example.name] = reply.json()["message"]
    assert not refused, refused
    spoiled: Any = next((e for e in examples if e.method == "post" and isinstance(e.value, dict)), None)
    if spoiled is not None:
        broken = Example(spoiled.name, spoiled.path, "post", spoiled.media, {**spoiled.value, "@type": 5})
        assert refused_by_schema(sent_to(running.url, base, broken))
