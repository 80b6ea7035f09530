"""The staff tests share the merchants tests' helpers."""

from __future__ import annotations

from tests.merchants.conftest import owner

__all__ = ["owner"]
