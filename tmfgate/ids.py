"""Server-set identifiers: random (version 4) UUIDs as strings."""

from __future__ import annotations

import os
from collections import deque

# Ids are made 256 at a time from one read of the OS's random bytes: a create takes three (the
# resource's, its event's and the correlation id), and formatting each alone, with slices and an
# f-string, cost more than the rest of building its event. The batch is laid out with strided
# slice assignments instead, one per column of the text. popleft and extend are atomic, so
# threads never take the same id.
_BATCH = 256
_WIDTH = 37  # 36 characters and a newline
_ready: deque[str] = deque()
_forks: list[bool] = []  # whether this process watches for forks yet (set at the first id, not on import)
# Where each of the 32 hex digits goes in "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".
_COLUMNS = [digit + (digit >= 8) + (digit >= 12) + (digit >= 16) + (digit >= 20) for digit in range(32)]
# The 17th digit keeps its two low bits under the RFC 4122 variant bits (10xx): 8, 9, a or b.
_VARIANT = bytes.maketrans(b"0123456789abcdef", b"89ab89ab89ab89ab")


def new_id() -> str:
    """A random UUID string, as ``str(uuid.uuid4())``."""
    while True:
        try:
            return _ready.popleft()
        except IndexError:
            _refill()


def _refill() -> None:
    if not _forks:
        # A forked child must not hand out the ids its parent holds too.
        os.register_at_fork(after_in_child=_ready.clear)
        _forks.append(True)
    digits = os.urandom(16 * _BATCH).hex().encode()
    text = bytearray(_WIDTH * _BATCH)
    for digit, column in enumerate(_COLUMNS):
        text[column::_WIDTH] = digits[digit::32]
    for column in (8, 13, 18, 23):
        text[column::_WIDTH] = b"-" * _BATCH
    text[14::_WIDTH] = b"4" * _BATCH  # the version
    text[19::_WIDTH] = digits[16::32].translate(_VARIANT)
    text[36::_WIDTH] = b"\n" * _BATCH
    _ready.extend(text.decode("ascii").split())
