"""Tables of the attribution domain."""

from __future__ import annotations
