"""Events end to end (``bench/events/``): ``python -m bench --only events [--full]``."""

from __future__ import annotations

from bench.events.runner import run

__all__ = ["run"]
