"""Order pages: the mall's cart, checkout and my orders (``/m/{slug}/…``), and the
console's orders and pickup counter (``/console/…``)."""

from fastapi import APIRouter

from loopmall.orders.pages.console import router as console_router
from loopmall.orders.pages.mall import router as mall_router

router = APIRouter(include_in_schema=False)
router.include_router(mall_router)
router.include_router(console_router)
