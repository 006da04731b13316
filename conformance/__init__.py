"""Conformance checks for TM Forum Open API servers (TMF630 design guidelines), run over HTTP.

The tool is a client: it reads an API's OpenAPI spec, talks to any server over HTTP, and imports
nothing of the tmfgate server. Run it as ``tmfgate conformance URL --api tmf622`` (see :mod:`conformance.cli`).
"""
