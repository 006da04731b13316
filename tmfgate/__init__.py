"""tmfgate: a TM Forum Open API gateway for telecom OSS/BSS."""

__version__ = "0.1.0"
