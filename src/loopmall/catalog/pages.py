"""Console pages of the catalog domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
