"""Lapsed units back in Redis (``bench/flashsale/lapse.py``):
``python -m bench --only flashsale_lapse [--full]``."""

from __future__ import annotations

from bench.flashsale.lapse import run

__all__ = ["run"]
