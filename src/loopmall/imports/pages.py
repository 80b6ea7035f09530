"""Console pages of the imports domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
