"""One TLS context for every outbound HTTPS client of a process, verifying servers as httpx does."""

from __future__ import annotations

import ssl

from backends.tls import client_context


def test_every_client_shares_one_context_that_verifies_servers() -> None:
    context = client_context()
    assert client_context() is context  # the authorities are loaded once per process
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # certifi's authorities (or SSL_CERT_FILE's)
