"""Server-set ids: random version 4 UUIDs, never repeated, not shared with a forked child."""

from __future__ import annotations

import os
import uuid

import pytest

from tmfgate import ids


def test_ids_are_version_4_uuids_as_uuid4_writes_them() -> None:
    made = [ids.new_id() for _ in range(3000)]  # more than one batch
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_a_forked_child_does_not_repeat_the_parent_s_ids() -> None:
    ids.new_id()  # the parent now holds a batch
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its next id and leave at once
        os.write(write, ids.new_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child not in {ids.new_id() for _ in range(300)}
