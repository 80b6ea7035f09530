"""Tables of the social domain."""

from __future__ import annotations
