"""The errors a store raises; drivers' own exceptions are translated into these (``raise ... from``).

::

    StorageError
    ├── DuplicateId                 create: the kind and id are taken
    ├── NotStored                   replace: no such document
    ├── UnstorableDocument          a value the store cannot keep (the request's fault)
    ├── StorageUnavailable          unreachable, locked, timed out (not the request's fault)
    └── BackendConfigurationError   an unusable URL or setting (also a ValueError)
"""

from __future__ import annotations


class StorageError(Exception):
    """Root of the errors a backend raises."""


class DuplicateId(StorageError):
    """A document with this kind and id is already stored."""


class NotStored(StorageError):
    """The document to replace does not exist."""


class UnstorableDocument(StorageError):
    """The document holds a value this store cannot keep (a request problem, not an outage)."""


class StorageUnavailable(StorageError):
    """The store cannot be reached or refused the operation for a reason that is not the request's."""


class BackendConfigurationError(StorageError, ValueError):
    """The backend URL or its settings cannot be used; the core turns it into a ConfigurationError."""


__all__ = [
    "BackendConfigurationError",
    "DuplicateId",
    "NotStored",
    "StorageError",
    "StorageUnavailable",
    "UnstorableDocument",
]
