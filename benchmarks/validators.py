"""Which JSON Schema validator for the request path: the same TMF622 order, in-process.

Runs each validator on ``bodies/product_order.json`` against our spec's ``ProductOrder_Create``
schema, beside the raw baseline of parsing the body with orjson, and reports microseconds per
body and each validator's cost as a multiple of the parse. Validators not installed are listed
with the pip command that adds them (``pip install jsonschema fastjsonschema``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
BODY = ROOT / "benchmarks" / "bodies" / "product_order.json"


def root_schema() -> dict[str, Any]:
    from tmfgate import model, specs

    api = model.build(specs.load(ROOT / "specs" / "tmf622_product_ordering.yaml"))
    body = api.operations["createProductOrder"].bodies["application/json"]
    return {"$schema": "http://json-schema.org/draft-04/schema#", "components": api.spec.document["components"], **body}


def candidates(schema: dict[str, Any]) -> dict[str, Callable[[Any], Any] | str]:
    found: dict[str, Callable[[Any], Any] | str] = {}
    try:
        import jsonschema_rs

        found["jsonschema-rs (used)"] = jsonschema_rs.Draft4Validator(schema).validate
    except ImportError:
        found["jsonschema-rs (used)"] = "pip install jsonschema-rs"
    try:
        import fastjsonschema

        found["fastjsonschema"] = fastjsonschema.compile(schema, use_default=False)
    except ImportError:
        found["fastjsonschema"] = "pip install fastjsonschema"
    try:
        import jsonschema

        found["jsonschema (connexion's)"] = jsonschema.Draft4Validator(schema).validate
    except ImportError:
        found["jsonschema (connexion's)"] = "pip install jsonschema"
    return found


def per_call(function: Callable[[], Any], seconds: float) -> float:
    """Microseconds per call, timing batches until ``seconds`` have passed."""
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            function()
        calls += 100
    return elapsed / calls * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement (default 2)")
    args = parser.parse_args()
    raw = BODY.read_bytes()
    body = orjson.loads(raw)
    baseline = per_call(lambda: orjson.loads(raw), args.seconds)
    print(f"body: {BODY.name}, {len(raw)} bytes")
    print(f"{'':28}{'us/body':>10}{'x parse':>10}")
    print(f"{'orjson.loads (baseline)':28}{baseline:>10.1f}{1.0:>10.1f}")
    for name, validator in candidates(root_schema()).items():
        if isinstance(validator, str):
            print(f"{name:28}{'not installed: ' + validator:>30}")
            continue
        cost = per_call(lambda v=validator: v(body), args.seconds)  # type: ignore[misc]
        print(f"{name:28}{cost:>10.1f}{cost / baseline:>10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
