"""TLS for outbound HTTPS clients (upstream stores, and the core's listeners and relays): one context per process.

httpx builds a context for each client it makes, loading the certificate authorities again each time
(about 0.03 s of CPU); the gateway makes several clients per app and the tests make many apps. The
context verifies servers as httpx does by default (certifi's authorities, or ``SSL_CERT_FILE`` /
``SSL_CERT_DIR`` when set).
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def client_context() -> ssl.SSLContext:
    """The verifying context every outbound client shares, made on first use."""
    return httpx.create_ssl_context()
