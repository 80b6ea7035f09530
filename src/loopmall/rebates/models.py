"""Tables of the rebates domain."""

from __future__ import annotations
