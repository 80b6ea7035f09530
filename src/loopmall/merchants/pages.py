"""Console pages of the merchants domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
