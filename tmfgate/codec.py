"""JSON in and out: orjson, with the standard library for integers orjson cannot hold.

orjson reads an integer beyond 64 bits as a float and refuses to write one; a client's
``12345678901234567890123`` must still come back as it was sent, so documents holding such
numbers take the slower standard-library path, after orjson has checked the text as strict JSON.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

JSONDecodeError = ValueError  # both orjson's and the standard library's errors derive from it
# A run of 19 digits is the only way to write an integer beyond 64 bits. Mapping every digit to 0
# and searching for 19 zeros takes ~3 us on a 1.3 KB order; the regex \d{19} takes ~25 us.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def loads(raw: bytes, *, max_depth: int | None = None) -> Any:
    """Parse strict RFC 8259 JSON, keeping integers of any size exact; ValueError when the text is not
    JSON (``NaN``, ``Infinity``, a lone surrogate) or nests deeper than ``max_depth``."""
    # orjson refuses what is not JSON and anything nested past 1024 levels, so the standard
    # library, which accepts NaN and lone surrogates and recurses, only sees text checked first.
    value = orjson.loads(raw)
    if max_depth is not None and raw.count(b"[") + raw.count(b"{") > max_depth:
        check_depth(value, max_depth)
    if _NINETEEN_DIGITS in raw.translate(_DIGITS_TO_ZERO):
        try:
            return json.loads(raw)
        except RecursionError:
            raise ValueError("nested too deeply") from None
    return value


def check_depth(value: Any, limit: int) -> None:
    """ValueError when arrays and objects nest more than ``limit`` levels; iterative, so any depth is safe."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            raise ValueError(f"arrays and objects nest more than {limit} levels deep")
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def dumps(value: Any) -> bytes:
    """Serialise to compact UTF-8 JSON; ValueError for what JSON cannot hold."""
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer beyond 64 bits
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            return text.encode()
        except (RecursionError, UnicodeError) as exc:
            raise ValueError(f"the value cannot be written as JSON: {type(exc).__name__}") from None
