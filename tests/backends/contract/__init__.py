"""The storage contract suite: documents and the outbox, with the same assertions on every store.

The tests use the protocols of :mod:`backends.base` only. A store joins by adding its name to
``DOCUMENT_STORES`` in ``conftest.py`` here (and to ``OUTBOX_STORES`` when it has an outbox), and a
branch to ``store_url`` in ``tests/backends/conftest.py`` giving the URL of an empty store that
``open_backend`` opens (emptied again by ``empty_store`` when it outlives the test).
"""
