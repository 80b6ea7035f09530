"""The files a channel prints as: its QR code (PNG, SVG) and its poster (A4/A5, PNG/PDF)
with the mall's name, colour and logo. Shared by the API and the console pages."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from dataclasses import replace
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.state import settings_of
from loopmall.core.tenancy import Tenant
from loopmall.merchants.mall import get_mall_settings
from loopmall.o2o.posters import PaperSize, PosterContent, PosterFormat, render_poster
from loopmall.o2o.rules import ChannelKind
from loopmall.o2o.service import ChannelView
from loopmall.web.qr import qr_png, qr_svg

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


# Bump when render_poster draws differently, so cached posters are drawn again.
POSTER_DRAWING = "1"


def _poster_key(
    content: PosterContent, logo_stamp: tuple[str, int, int] | None, size: str, fmt: str
) -> str:
    """What a poster depends on, hashed: its content, the logo file's path, mtime and size,
    the paper, the format and the drawing's version."""
    parts = [
        POSTER_DRAWING,
        content.url,
        content.title,
        content.text,
        content.caption,
        content.mall_name,
        content.color,
        repr(logo_stamp),
        size,
        fmt,
    ]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def _cached(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _keep(path: Path, data: bytes) -> None:
    """Write the poster where the next request finds it (whole or not at all)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        pass  # a full or read-only disk: the poster is drawn again next time


async def poster_file(
    session: AsyncSession,
    tenant: Tenant,
    view: ChannelView,
    size: PaperSize | str,
    fmt: PosterFormat | str,
) -> tuple[bytes, str]:
    """The channel's poster; the logo is left out when its file is missing or unreadable.
    Drawn once per content (cached under the data dir, ``posters/``), off the event loop."""
    mall = await get_mall_settings(session, tenant)
    settings = settings_of(session)
    logo_path: Path | None = None
    logo_stamp: tuple[str, int, int] | None = None
    if mall.logo_path:
        root = settings.upload_dir.resolve()
        path = (root / mall.logo_path).resolve()
        if path.is_relative_to(root) and path.is_file() and path.stat().st_size < LOGO_MAX_BYTES:
            stat = path.stat()
            logo_path, logo_stamp = path, (mall.logo_path, stat.st_mtime_ns, stat.st_size)
    channel = view.channel
    content = PosterContent(
        url=view.url,
        title=channel.poster_title or DEFAULT_TITLES[ChannelKind(channel.kind)],
        text=channel.poster_text,
        caption=caption(view),
        mall_name=mall.mall_name,
        logo=None,
        color=mall.primary_color,
    )
    out, paper = PosterFormat(fmt), PaperSize(size)
    key = _poster_key(content, logo_stamp, paper.value, out.value)
    cached_path = settings.data_dir / "posters" / key[:2] / f"{key}.{out.value}"
    data = await asyncio.to_thread(_cached, cached_path)
    if data is None:
        # Drawing takes 0.1-1 s of CPU (1.1-1.5 s at p95 with 8 users, bench chainscale):
        # once per content, off the event loop.
        if logo_path is not None:
            content = replace(content, logo=await asyncio.to_thread(_cached, logo_path))
        data = await asyncio.to_thread(render_poster, content, paper, out)
        await asyncio.to_thread(_keep, cached_path, data)
    return data, MEDIA[out.value]
