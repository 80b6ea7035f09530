"""The countdown's token burst at full size (``bench/flashsale/burst.py``):
``python -m bench --only flashsale_burst``."""

from __future__ import annotations

from bench.flashsale.burst import run

__all__ = ["run"]
