"""JSON routes of the inventory domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["inventory"])
