"""Tables of the flashsale domain."""

from __future__ import annotations
