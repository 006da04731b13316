"""The HTTP side of the tool: requests to the API root, sent with the query string exactly as written."""

from __future__ import annotations

import json
from typing import Any

import requests

JSON = "application/json"


class Client:
    """Sends requests relative to the API root and keeps one connection pool."""

    def __init__(self, api_root: str, timeout: float = 10.0) -> None:
        self.api_root = api_root.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Accept"] = JSON

    def close(self) -> None:
        self.session.close()

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
    ) -> requests.Response:
        """One request; ``query`` goes on the wire untouched, so ``date>=x`` stays literal."""
        headers = {}
        if json_body is not None:
            data = json.dumps(json_body)
            content_type = content_type or JSON
        if content_type:
            headers["Content-Type"] = content_type
        prepared = self.session.prepare_request(
            requests.Request(method.upper(), self.url(path), data=data, headers=headers)
        )
        # TMF630 filters use raw operators (``creationDate>=...``): requests would percent-encode them.
        if query:
            prepared.url = f"{prepared.url}?{query}"
        return self.session.send(prepared, timeout=self.timeout, allow_redirects=False)

    def get(self, path: str, query: str = "") -> requests.Response:
        return self.request("GET", path, query=query)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.request("POST", path, json_body=body)

    def delete(self, path: str) -> requests.Response:
        return self.request("DELETE", path)


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
