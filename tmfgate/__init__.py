"""tmfgate: a TM Forum Open API gateway for telecom OSS/BSS."""

import warnings

# connexion imports starlette's test client at import time, and starlette warns there that httpx is
# deprecated for it; the warning is about connexion's imports, not about anything tmfgate does.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

__version__ = "0.1.0"
