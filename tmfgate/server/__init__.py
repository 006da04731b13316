"""Serving over HTTP: the uvicorn protocol and the worker processes."""
