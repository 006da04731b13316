"""tmfgate: a TM Forum Open API gateway for telecom OSS/BSS."""

import warnings

__version__ = "0.1.0"

# connexion imports Starlette's test client, which warns about httpx on import: a warning about a
# library's imports, not about anything an operator does, so no tmfgate command prints it.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
