"""The storage contract suite: documents and the outbox, with the same assertions on every store.

The tests use the protocols of :mod:`backends.base` only, and the ids a store gives what it creates
(an upstream TMF server chooses its own). A store joins by adding its name to ``DOCUMENT_STORES`` in
``conftest.py`` here (and to ``OUTBOX_STORES`` when it has an outbox), and a branch to ``store_url``
in ``tests/backends/conftest.py`` giving the URL of an empty store that ``open_backend`` opens
(emptied again by ``empty_store`` when it outlives the test); the upstream store is the gateway's
routed backend over a tmfgate process. What a store cannot have (transactions, client-chosen ids,
owners) it declares in ``LACKS`` with the reason, and the tests marked ``needs`` that capability are
skipped on it with that reason; what it declines with a 501 (a sort by any attribute) it declares in
``DECLINES``, and those tests must meet ``Unsupported`` on it.
"""
