"""A merchant's own micro-mall: its name, logo, colours and home page blocks (S0).

Every merchant gets settings at onboarding; a merchant made some other way (an import, a
test) gets the defaults on first read and a row on first save.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import ValidationFailed
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant, scoped
from loopmall.merchants.blocks import default_blocks, dump_blocks, parse_blocks
from loopmall.merchants.events import MallChanged
from loopmall.merchants.images import ImageInfo, check_image, save_upload
from loopmall.merchants.models import MallSettings
from loopmall.merchants.service import clean_merchant_name, merchant_of

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_PRIMARY, DEFAULT_ACCENT = "#e4393c", "#222222"


class InvalidBlocks(ValidationFailed):
    code = "invalid_blocks"
    title = "The home page blocks are not valid"


def clean_color(value: str, field: str) -> str:
    if not isinstance(value, str) or not COLOR.match(value.strip()):
        raise ValidationFailed("A colour is written #rrggbb, e.g. #e4393c", field=field)
    return value.strip().lower()


def check_blocks(raw: Any) -> list[dict[str, Any]]:
    """Validate home page blocks (mappings or block models) into their stored form.

    Raises ``InvalidBlocks`` (422) with the validation errors.
    """
    try:
        return dump_blocks(parse_blocks(raw))
    except ValidationError as exc:
        errors = [
            {"loc": ["blocks", *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        first = errors[0]
        raise InvalidBlocks(
            f"{'.'.join(first['loc'])}: {first['msg']}", field="blocks", errors=errors
        ) from None


async def get_mall_settings(session: AsyncSession, tenant: Tenant) -> MallSettings:
    """The merchant's mall settings; the defaults (not yet saved) when it has none."""
    found = await session.scalar(scoped(MallSettings, tenant))
    if found is not None:
        return found
    merchant = await merchant_of(session, tenant)
    return MallSettings(
        merchant_id=tenant.id,
        mall_name=merchant.name,
        logo_path=None,
        primary_color=DEFAULT_PRIMARY,
        accent_color=DEFAULT_ACCENT,
        blocks=default_blocks(merchant.name),
        cod_enabled=False,
        updated_at=merchant.created_at,
    )


async def _save(session: AsyncSession, tenant: Tenant, values: dict[str, Any]) -> MallSettings:
    await publish(session, MallChanged(merchant_id=tenant.id, fields=sorted(values)))
    settings = await get_mall_settings(session, tenant)
    for key, value in values.items():
        setattr(settings, key, value)
    settings.updated_at = clock.now()
    if settings.id is not None:
        await session.flush()
        return settings
    try:
        # First save: another request may be inserting the same merchant's row now.
        async with session.begin_nested():
            session.add(settings)
            await session.flush()
    except IntegrityError:
        settings = await get_mall_settings(session, tenant)
        for key, value in values.items():
            setattr(settings, key, value)
        settings.updated_at = clock.now()
        await session.flush()
    return settings


async def update_mall_settings(
    session: AsyncSession,
    tenant: Tenant,
    *,
    mall_name: str | None = None,
    primary_color: str | None = None,
    accent_color: str | None = None,
    cod_enabled: bool | None = None,
    blocks: list[Any] | None = None,
) -> MallSettings:
    """Change the given settings (None leaves one as it is); ``blocks`` replaces the home
    page (block mappings like ``{"type": "banner", "title": …}`` or block models).

    Flushes, never commits. Raises ``ValidationFailed`` (a name of 1–100 characters,
    colours as ``#rrggbb``) and ``InvalidBlocks`` (unknown type, bad field, over 30).
    """
    values: dict[str, Any] = {}
    if mall_name is not None:
        values["mall_name"] = clean_merchant_name(mall_name, field="mall_name")
    if primary_color is not None:
        values["primary_color"] = clean_color(primary_color, "primary_color")
    if accent_color is not None:
        values["accent_color"] = clean_color(accent_color, "accent_color")
    if cod_enabled is not None:
        values["cod_enabled"] = bool(cod_enabled)
    if blocks is not None:
        values["blocks"] = check_blocks(blocks)
    return await _save(session, tenant, values)


async def set_logo(
    session: AsyncSession, tenant: Tenant, data: bytes, *, upload_dir: Path, max_bytes: int
) -> tuple[MallSettings, ImageInfo, str | None]:
    """Check and store a new logo; returns the settings, what the image is, and the path
    of the logo it replaces (for the caller to delete once the change is committed).

    Raises ``UploadTooLarge`` (413) and ``NotAnImage`` (415). Flushes, never commits.
    """
    info = check_image(data, max_bytes=max_bytes)
    merchant = await merchant_of(session, tenant)
    current = await get_mall_settings(session, tenant)
    previous = current.logo_path
    path = save_upload(upload_dir, merchant.public_id, data, info, "logo")
    settings = await _save(session, tenant, {"logo_path": path})
    return settings, info, previous


async def guide_discount_cap(session: AsyncSession, tenant: Tenant) -> int:
    """The most a guide may take off a store sale alone, in basis points (0 when unset)."""
    found = await session.scalar(
        select(MallSettings.guide_discount_cap_bp).where(MallSettings.merchant_id == tenant.id)
    )
    return int(found or 0)


async def set_guide_discount_cap(session: AsyncSession, tenant: Tenant, cap_bp: int) -> int:
    """Set the guide's discount cap (0–10000 basis points). Raises ``ValidationFailed``."""
    if isinstance(cap_bp, bool) or not isinstance(cap_bp, int) or not 0 <= cap_bp <= 10_000:
        raise ValidationFailed(
            "The cap is a whole number of basis points from 0 to 10000", field="cap_bp"
        )
    settings = await _save(session, tenant, {"guide_discount_cap_bp": cap_bp})
    return settings.guide_discount_cap_bp
