"""Routes of this domain (filled in by the issue that builds it)."""

from fastapi import APIRouter

router = APIRouter()
