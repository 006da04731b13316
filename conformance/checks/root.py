"""Root checks: the API root answers a GET itself, without a redirect loop (TMF630 Part 1 §2.1)."""

from __future__ import annotations

from urllib.parse import urljoin

from conformance.checks.base import ApiCheck, Check
from conformance.client import excerpt
from conformance.context import Context, expect

MAX_REDIRECTS = 5


def _answer(ctx: Context, url: str) -> str:
    """Follow redirects from ``url`` by hand; fails on a loop, too many hops or a non-2xx end."""
    seen = [url]
    response = ctx.client.get(url)
    while 300 <= response.status_code < 400 and response.headers.get("Location"):
        target = urljoin(seen[-1], response.headers["Location"])
        expect(target not in seen, f"GET {url}: redirect loop {' → '.join([*seen, target])}")
        seen.append(target)
        expect(len(seen) <= MAX_REDIRECTS + 1, f"GET {url}: more than {MAX_REDIRECTS} redirects: {' → '.join(seen)}")
        response = ctx.client.get(target)
    expect(200 <= response.status_code < 300, f"GET {seen[-1]}: expected 2xx, got {excerpt(response)}")
    hops = f" after {len(seen) - 1} redirect(s)" if len(seen) > 1 else ""
    return f"GET {url} → {response.status_code}{hops}"


def api_root(ctx: Context) -> str:
    """GET on the API root, with and without a trailing slash, ends in a 2xx answer."""
    root = ctx.client.api_root
    return "; ".join(_answer(ctx, url) for url in (root, root + "/"))


CHECKS: list[Check] = [ApiCheck("root.api-root", api_root, reads_only=True)]
