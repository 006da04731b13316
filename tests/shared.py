"""Where the tests find the official TM Forum files they read (never copied into the project).

``../shared`` beside the repository by default; ``TMFGATE_TEST_SHARED`` names another folder holding
``tmf-specs/`` (the official OpenAPI files) and ``ctk/`` (the TM Forum conformance kits).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TMFGATE_TEST_SHARED") or ROOT.parent / "shared")
OFFICIAL_SPECS = SHARED / "tmf-specs"
KITS = SHARED / "ctk"
HOW = "set TMFGATE_TEST_SHARED to the folder holding tmf-specs/ and ctk/"
