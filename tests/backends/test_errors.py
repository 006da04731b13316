"""The storage error tree."""

from __future__ import annotations

from backends.errors import (
    BackendConfigurationError,
    DuplicateId,
    NotStored,
    StorageError,
    StorageUnavailable,
    UnstorableDocument,
)


def test_errors_belong_to_the_storage_tree() -> None:
    for error in (DuplicateId, NotStored, UnstorableDocument, StorageUnavailable, BackendConfigurationError):
        assert issubclass(error, StorageError)
    assert issubclass(BackendConfigurationError, ValueError)  # a bad setting, as the standard library says
    assert not issubclass(StorageUnavailable, ValueError) and not issubclass(UnstorableDocument, StorageUnavailable)
