"""Commission pages: the console's commission settlement (``/console/commission``), a staff
member's own earnings (``/console/earnings``) and a distributor's earnings in the mall
(``/m/{slug}/me/earnings``)."""

from fastapi import APIRouter

from loopmall.rebates.pages.console import router as console_router
from loopmall.rebates.pages.mall import router as mall_router

router = APIRouter(include_in_schema=False)
router.include_router(console_router)
router.include_router(mall_router)
