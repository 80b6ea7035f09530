"""Tables of the guides domain."""

from __future__ import annotations
