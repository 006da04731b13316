"""JSON in and out: orjson, with the standard library for integers orjson cannot hold.

orjson reads an integer beyond 64 bits as a float and refuses to write one; a client's
``12345678901234567890123`` must still come back as it was sent, so documents holding such
numbers take the slower standard-library path.
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


def loads(raw: bytes) -> Any:
    """Parse JSON, keeping integers of any size exact."""
    if _NINETEEN_DIGITS in raw.translate(_DIGITS_TO_ZERO):
        return json.loads(raw)
    return orjson.loads(raw)


def dumps(value: Any) -> bytes:
    """Serialise to compact UTF-8 JSON."""
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer beyond 64 bits
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
