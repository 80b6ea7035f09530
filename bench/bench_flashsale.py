"""The flash-sale replay (``bench/flashsale/``): ``python -m bench --only flashsale [--full]``."""

from __future__ import annotations

from bench.flashsale.runner import run

__all__ = ["run"]
