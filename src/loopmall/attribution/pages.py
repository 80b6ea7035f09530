"""attribution: server-rendered pages."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
