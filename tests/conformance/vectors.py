"""Locate ../shared/testvectors beside the repository (as in CI) and load a vector file.

The vectors come from Tencent's and Alipay's own SDK test suites (Apache-2.0 / MIT); see
shared/testvectors/README.md for the attribution of each.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
VECTORS = REPO_ROOT.parent / "shared" / "testvectors"


def load(name: str) -> dict[str, Any]:
    path = VECTORS / name
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI must have shared/ beside the repository")
        pytest.skip(f"{path} not present")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
