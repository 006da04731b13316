"""The errors a store raises; drivers' own exceptions are translated into these (``raise ... from``).

::

    StorageError
    ├── DuplicateId                 create: the kind and id are taken
    ├── NotStored                   replace: no such document
    ├── UnstorableDocument          a value the store cannot keep (the request's fault)
    ├── Refused                     a remote store refused the request with a 4xx status, kept as is
    ├── Unsupported                 a remote store cannot do this (a declared capability: 501)
    ├── StorageUnavailable          unreachable, locked, timed out (not the request's fault): 503
    │   ├── BadGateway              a remote store refused the connection or answered nonsense: 502
    │   └── GatewayTimeout          a remote store did not answer in time: 504
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


class Refused(StorageError):
    """A remote store answered the request with a client error; its status and message are the client's."""

    def __init__(self, message: str, *, status: int, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class Unsupported(StorageError):
    """What was asked is beyond what this store can do (a sort, a filter, an operation)."""


class StorageUnavailable(StorageError):
    """The store cannot be reached or refused the operation for a reason that is not the request's.

    ``told`` marks a message fit for the client (a remote store's name and what went wrong);
    ``retry_after`` is the seconds after which trying again makes sense, when known."""

    status = 503

    def __init__(self, message: str, *, told: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.told = told
        self.retry_after = retry_after


class BadGateway(StorageUnavailable):
    """A remote store refused the connection, failed, or answered what is not a resource."""

    status = 502


class GatewayTimeout(StorageUnavailable):
    """A remote store did not answer in time."""

    status = 504


class BackendConfigurationError(StorageError, ValueError):
    """The backend URL or its settings cannot be used; the core turns it into a ConfigurationError."""


__all__ = [
    "BackendConfigurationError",
    "BadGateway",
    "DuplicateId",
    "GatewayTimeout",
    "NotStored",
    "Refused",
    "StorageError",
    "StorageUnavailable",
    "Unsupported",
    "UnstorableDocument",
]
