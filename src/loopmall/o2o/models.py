"""Tables of the o2o domain."""

from __future__ import annotations
