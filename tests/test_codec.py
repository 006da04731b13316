"""JSON in and out: compact, and integers beyond 64 bits kept exact."""

from __future__ import annotations

import pytest

from tmfgate import codec


def test_documents_round_trip_compact_and_in_utf8() -> None:
    document = {"name": "Zoë", "items": [1, 2.5, None, True], "nested": {"a": "b"}}
    raw = codec.dumps(document)
    assert raw == '{"name":"Zoë","items":[1,2.5,null,true],"nested":{"a":"b"}}'.encode()
    assert codec.loads(raw) == document


@pytest.mark.parametrize("number", [12345678901234567890123, -(2**70), 2**64])
def test_an_integer_beyond_64_bits_comes_back_as_sent(number: int) -> None:
    raw = codec.dumps({"n": number, "s": "x"})
    assert raw == f'{{"n":{number},"s":"x"}}'.encode()
    value = codec.loads(raw)["n"]
    assert value == number and isinstance(value, int)


def test_bad_json_is_a_value_error() -> None:
    with pytest.raises(codec.JSONDecodeError):
        codec.loads(b"{not json")
    with pytest.raises(ValueError):
        codec.loads(b'{"n": 12345678901234567890123')
