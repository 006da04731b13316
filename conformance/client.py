"""The HTTP side of the tool: requests to the API root, sent with the query string exactly as written."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import requests

JSON = "application/json"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SHOWN = 2000  # characters of a body kept for a report: enough to read an Error or a resource


class ReadOnlyError(Exception):
    """A check tried to send a request that may change data during a ``--read-only`` run."""


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, as text for a report."""

    request: str
    response: str


class Client:
    """Sends requests relative to the API root; one connection pool per thread, the last exchange per thread."""

    def __init__(self, api_root: str, timeout: float = 10.0, read_only: bool = False) -> None:
        self.api_root = api_root.rstrip("/")
        self.timeout = timeout
        self.read_only = read_only
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        """This thread's session: ``requests.Session`` is not meant to be shared between threads."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["Accept"] = JSON
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def forget(self) -> None:
        """Start a new check on this thread: no exchange recorded yet."""
        self._local.last = None

    @property
    def last(self) -> Exchange | None:
        """The last exchange this thread made since :meth:`forget`."""
        last: Exchange | None = getattr(self._local, "last", None)
        return last

    def url(self, path: str, query: str = "") -> str:
        """The absolute URL of ``path`` (relative to the API root) with a raw ``query``."""
        url = path if path.startswith(("http://", "https://")) else self.api_root + path
        return f"{url}?{query}" if query else url

    def request(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        json_body: Any = None,
        data: bytes | str | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """One request; ``query`` goes on the wire untouched, so ``date>=x`` stays literal."""
        method = method.upper()
        if self.read_only and method in WRITES:
            raise ReadOnlyError(f"{method} {path} would change data; --read-only sends only GET requests")
        sent = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body)
            content_type = content_type or JSON
        if content_type:
            sent["Content-Type"] = content_type
        prepared = self.session.prepare_request(requests.Request(method, self.url(path), data=data, headers=sent))
        # TMF630 filters use raw operators (``creationDate>=...``): requests would percent-encode them.
        if query:
            prepared.url = f"{prepared.url}?{query}"
        response = self.session.send(prepared, timeout=self.timeout, allow_redirects=False)
        self._local.last = Exchange(_request_text(prepared), _response_text(response))
        return response

    def get(self, path: str, query: str = "", headers: dict[str, str] | None = None) -> requests.Response:
        return self.request("GET", path, query=query, headers=headers)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.request("POST", path, json_body=body)

    def delete(self, path: str) -> requests.Response:
        return self.request("DELETE", path)


def _clip(text: str) -> str:
    return text if len(text) <= _SHOWN else text[:_SHOWN] + f"... ({len(text) - _SHOWN} more characters)"


def _body(raw: bytes | str | None) -> str:
    if not raw:
        return ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return "\n\n" + _clip(text)


def _request_text(prepared: requests.PreparedRequest) -> str:
    shown = ("Content-Type", "If-Match", "If-None-Match")
    lines = [f"{prepared.method} {prepared.url}"]
    lines += [f"{k}: {v!s}" for k, v in prepared.headers.items() if k in shown]
    body = prepared.body if isinstance(prepared.body, bytes | str) else None
    return "\n".join(lines) + _body(body)


def _response_text(response: requests.Response) -> str:
    lines = [f"HTTP {response.status_code} {response.reason or ''}".rstrip()]
    lines += [f"{k}: {v}" for k, v in response.headers.items() if k.lower() not in ("date", "server")]
    return "\n".join(lines) + _body(response.content)


def body_of(response: requests.Response) -> Any:
    """The decoded JSON body, or ``None`` when there is none or it is not JSON."""
    try:
        return json.loads(response.content) if response.content else None
    except ValueError:
        return None


def excerpt(response: requests.Response, limit: int = 200) -> str:
    """``<status> <first characters of the body>`` for a FAIL message."""
    text = response.content.decode("utf-8", "replace").replace("\n", " ").strip()
    if len(text) > limit:
        text = text[:limit] + "..."
    return f"{response.status_code} {text}" if text else f"{response.status_code} (empty body)"
