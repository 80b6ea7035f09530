"""Console pages of the merchants domain: signup, mall settings, stores."""

from __future__ import annotations

from fastapi import APIRouter

from loopmall.merchants.pages.settings import router as settings_router
from loopmall.merchants.pages.signup import router as signup_router
from loopmall.merchants.pages.stores import router as stores_router

router = APIRouter()
router.include_router(signup_router)
router.include_router(settings_router)
router.include_router(stores_router)
