"""The identity tests share the merchants tests' helpers and template-layout fixture."""

from __future__ import annotations

from tests.merchants.conftest import owner

__all__ = ["owner"]
