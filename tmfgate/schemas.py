"""JSON Schema validators compiled from a spec's schemas, and their errors as sentences for clients.

The validator is jsonschema-rs (OpenAPI 3.0 schemas are JSON Schema draft 4): on a TMF622 order it
takes microseconds where the pure-Python validators take a hundred times longer
(``benchmarks/validators.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, Protocol

import jsonschema_rs
import orjson

from tmfgate.errors import BadRequest, ConfigurationError

Validator = jsonschema_rs.Draft4Validator


class Checks(Protocol):
    """What :func:`check` asks of a validator: a compiled schema, or one of several versions' schemas."""

    def is_valid(self, instance: Any) -> bool: ...

    def iter_errors(self, instance: Any) -> Iterator[jsonschema_rs.ValidationError]: ...


_DRAFT4 = "http://json-schema.org/draft-04/schema#"
_SHOWN_ERRORS = 5  # problems a message lists before "and N more"
_SHOWN_LENGTH = 120  # characters of a value a message shows


# Validators compiled so far, by the digest of their schema with its components: an app compiles ~50, each
# built again with every app (a test process builds hundreds), and compiling was ~30 % of an app's start-up
# (profiled); a validator is immutable, so one compiled schema serves every app.
_compiled: dict[bytes, Validator] = {}


def compile_schema(schema: dict[str, Any], document: dict[str, Any]) -> Validator:
    """A validator for ``schema``, with its refs into the document's components."""
    root = {"$schema": _DRAFT4, "components": document.get("components", {}), **schema}
    key = hashlib.sha256(orjson.dumps(root, option=orjson.OPT_NON_STR_KEYS)).digest()
    validator = _compiled.get(key)
    if validator is None:
        try:
            validator = _compiled[key] = jsonschema_rs.Draft4Validator(root)
        except (jsonschema_rs.ValidationError, ValueError) as exc:
            raise ConfigurationError(f"A schema of the spec cannot be compiled: {exc}") from exc
    return validator


def check(validator: Checks, value: Any, what: str = "request body") -> None:
    """Validate; a body that breaks the schema is a 400 listing what is wrong, every missing attribute included."""
    if validator.is_valid(value):
        return
    raise BadRequest(describe(list(validator.iter_errors(value)), what))


def describe(errors: list[jsonschema_rs.ValidationError], what: str) -> str:
    """Sentences for a client: the attributes missing, then what is wrong with the others."""
    missing = [_where(exc.instance_path, _detail(exc, "property")) for exc in errors if _is(exc, "Required")]
    others = [_problem(exc) for exc in errors if not _is(exc, "Required")]
    parts = []
    if missing:
        names = _listed(missing)
        parts.append(f"The {what} is missing the required attribute{'s' if len(missing) > 1 else ''} {names}.")
    if others:
        parts.append(f"Invalid {what}: {_listed(others, joiner='; ')}.")
    return " ".join(parts) or f"The {what} is not valid."


def _detail(exc: jsonschema_rs.ValidationError, name: str) -> Any:
    """An attribute of the error's kind (its stubs type the kind as the base class)."""
    return getattr(exc.kind, name)


def _is(exc: jsonschema_rs.ValidationError, kind: str) -> bool:
    return isinstance(exc.kind, getattr(jsonschema_rs.ValidationErrorKind, kind))


def _problem(exc: jsonschema_rs.ValidationError) -> str:
    where = _where(exc.instance_path)
    subject = f"{where}" if where else "the body"
    if _is(exc, "Enum"):
        options = ", ".join(_shown(option) for option in _detail(exc, "options"))
        return f"{subject} is {_shown(exc.instance)}, which is not one of {options}"
    if _is(exc, "Type"):
        types = " or ".join(str(name) for name in _detail(exc, "types"))
        return f"{subject} must be of type {types}, not {_shown(exc.instance)}"
    return f"{subject} is not valid ({_shorter(exc.message)})"


def _where(path: Any, name: str | None = None) -> str:
    """``relatedParty[0].@referredType``: names dotted, array positions in brackets."""
    text = ""
    for part in [*path, *([name] if name is not None else [])]:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _listed(items: list[str], joiner: str = ", ") -> str:
    shown = list(dict.fromkeys(items))
    more = len(shown) - _SHOWN_ERRORS
    text = joiner.join(shown[:_SHOWN_ERRORS])
    return f"{text} and {more} more" if more > 0 else text


def _shown(value: Any) -> str:
    return _shorter(orjson.dumps(value).decode() if not isinstance(value, bytes) else repr(value))


def _shorter(text: str) -> str:
    return text if len(text) <= _SHOWN_LENGTH else text[: _SHOWN_LENGTH - 3] + "..."
