"""The files a channel prints as: its QR code (PNG, SVG) and its poster (A4/A5, PNG/PDF)
with the mall's name, colour and logo. Shared by the API and the console pages."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.state import settings_of
from loopmall.core.tenancy import Tenant
from loopmall.merchants.mall import get_mall_settings
from loopmall.o2o.posters import PaperSize, PosterContent, PosterFormat, render_poster
from loopmall.o2o.rules import ChannelKind
from loopmall.o2o.service import ChannelView
from loopmall.payments.codes import qr_png, qr_svg

MEDIA = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
LOGO_MAX_BYTES = 5 * 1024 * 1024

DEFAULT_TITLES = {
    ChannelKind.STORE: "扫码进店",
    ChannelKind.GUIDE: "扫码添加您的专属导购",
    ChannelKind.PRODUCT: "扫码了解详情",
    ChannelKind.PLACEMENT: "扫码进入微商城",
    ChannelKind.JOIN: "关注并加入会员",
}


def qr_file(view: ChannelView, fmt: str) -> tuple[bytes, str]:
    """The bare QR code as PNG or SVG."""
    data = qr_png(view.url, scale=10) if fmt == "png" else qr_svg(view.url, scale=10)
    return data, MEDIA[fmt]


def caption(view: ChannelView) -> str:
    """What the printed code is for, under the code."""
    kind = ChannelKind(view.kind)
    if kind is ChannelKind.GUIDE:
        return " · ".join(x for x in (view.store_name, f"导购 {view.guide_name}") if x)
    if kind is ChannelKind.PRODUCT:
        return " · ".join(x for x in (view.product_title, view.store_name) if x)
    if kind is ChannelKind.PLACEMENT:
        return view.channel.place_name
    if kind is ChannelKind.JOIN and view.channel.coupon_title:
        return view.channel.coupon_title
    return view.store_name or view.channel.name


async def poster_file(
    session: AsyncSession,
    tenant: Tenant,
    view: ChannelView,
    size: PaperSize | str,
    fmt: PosterFormat | str,
) -> tuple[bytes, str]:
    """The channel's poster; the logo is left out when its file is missing or unreadable."""
    mall = await get_mall_settings(session, tenant)
    logo = None
    if mall.logo_path:
        root = settings_of(session).upload_dir.resolve()
        path = (root / mall.logo_path).resolve()
        if path.is_relative_to(root) and path.is_file() and path.stat().st_size < LOGO_MAX_BYTES:
            logo = path.read_bytes()
    channel = view.channel
    content = PosterContent(
        url=view.url,
        title=channel.poster_title or DEFAULT_TITLES[ChannelKind(channel.kind)],
        text=channel.poster_text,
        caption=caption(view),
        mall_name=mall.mall_name,
        logo=logo,
        color=mall.primary_color,
    )
    out = PosterFormat(fmt)
    # Drawing takes ~0.1 s of CPU: off the event loop.
    data = await asyncio.to_thread(render_poster, content, PaperSize(size), out)
    return data, MEDIA[out.value]
