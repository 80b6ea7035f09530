"""What every mall page needs: the merchant behind ``/m/{slug}/`` and its look.

Pages of any domain that extend ``web/mall.html`` call :func:`open_mall` and put the
returned ``MallLook`` in the template context as ``mall``. It reads only the merchant, its
mall settings and its logo, so it is merchants' (it was storefront's, which the customers'
mall-page dependency below storefront could not import without a cycle).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.errors import NotFound
from loopmall.core.tenancy import Tenant
from loopmall.merchants.images import upload_url
from loopmall.merchants.mall import get_mall_settings
from loopmall.merchants.models import Merchant


@dataclass(frozen=True)
class MallLook:
    slug: str
    name: str
    logo_url: str | None
    primary_color: str
    accent_color: str
    cod_enabled: bool


async def open_mall(session: AsyncSession, slug: str) -> tuple[Tenant, MallLook]:
    """The active merchant with this slug and its mall's look. Raises ``NotFound`` for an
    unknown or suspended merchant (a suspended mall is not shown to consumers)."""
    merchant = await session.scalar(select(Merchant).where(Merchant.slug == slug.strip().lower()))
    if merchant is None or merchant.status != "active":
        raise NotFound("No such mall")
    tenant = Tenant(merchant.id, merchant.slug)
    settings = await get_mall_settings(session, tenant)
    look = MallLook(
        slug=merchant.slug,
        name=settings.mall_name,
        logo_url=upload_url(settings.logo_path),
        primary_color=settings.primary_color,
        accent_color=settings.accent_color,
        cod_enabled=settings.cod_enabled,
    )
    return tenant, look
