"""Console pages of the inventory domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
