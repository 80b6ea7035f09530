"""``/console/settings``: the mall's name, colours, cash on delivery, logo and home page.

The home page blocks travel as JSON in one form field, which the page's block editor
writes; without JavaScript the field is a plain text area, so the form still works.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from loopmall.core.errors import LoopmallError
from loopmall.core.http import read_uow, write_uow
from loopmall.core.money import format_yuan
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.merchants import mall
from loopmall.merchants.api import save_logo
from loopmall.merchants.blocks import BLOCK_TYPES, MAX_BLOCKS
from loopmall.merchants.images import upload_url
from loopmall.merchants.models import MallSettings
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter()


def error_messages(locale: str) -> dict[str, str]:
    _ = translator(locale)
    return {
        "mall_name": _("Enter the mall's name (at most 100 characters)."),
        "primary_color": _("Choose a colour like #e4393c."),
        "accent_color": _("Choose a colour like #222222."),
        "blocks_json": _("The home page blocks could not be read; reload the page."),
        "invalid_blocks": _(
            "A home page block is not right (%(where)s): every block needs a title, "
            "a product grid shows 1–40 products, links start with http(s):// or /."
        ),
        "upload_too_large": _("The logo file is too large."),
        "not_an_image": _("The logo must be a PNG, JPEG, WebP or GIF image."),
        "guide_discount": _("Enter a percentage from 0 to 100 (at most two decimals)."),
    }


def _values(settings: MallSettings) -> dict[str, Any]:
    return {
        "mall_name": settings.mall_name,
        "primary_color": settings.primary_color,
        "accent_color": settings.accent_color,
        "cod_enabled": settings.cod_enabled,
        "blocks_json": json.dumps(settings.blocks, ensure_ascii=False),
    }


async def _page(
    request: Request,
    uow: UnitOfWork,
    principal: Principal,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    flash: str = "",
) -> Response:
    settings = await mall.get_mall_settings(uow.session, principal.require_tenant())
    return render(
        request,
        "merchants/settings.html",
        {
            "values": values or _values(settings),
            # The preview starts from what is saved: a refused colour is never put in CSS.
            "saved": _values(settings),
            "logo_url": upload_url(settings.logo_path),
            "errors": errors or {},
            "block_types": BLOCK_TYPES,
            "max_blocks": MAX_BLOCKS,
            "can_write": principal.can(Perm.SETTINGS_WRITE),
            # Basis points shown as a percentage with two decimals: 1000 → "10.00".
            "guide_discount_percent": format_yuan(
                await mall.guide_discount_cap(uow.session, principal.require_tenant())
            ),
            "flash": flash,
        },
        status_code=status_code,
    )


@router.get("/console/settings")
async def settings_page(
    request: Request,
    principal: Principal = Depends(require(Perm.SETTINGS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    _ = translator(pick_locale(request))
    flash = ""
    if request.query_params.get("welcome"):
        flash = _("Your mall is open. Give it a logo and colours, then add products.")
    elif request.query_params.get("saved"):
        flash = _("Saved.")
    return await _page(request, uow, principal, flash=flash)


def _percent_to_bp(text: str) -> int:
    """A percentage as typed ("10", "12.5", at most two decimals) in basis points;
    ValueError (or Decimal's InvalidOperation) for anything else."""
    value = Decimal(text.strip().rstrip("%").strip() or "x")
    bp = value * 100
    if not value.is_finite() or bp != bp.to_integral_value() or not 0 <= bp <= 10_000:
        raise ValueError(text)
    return int(bp)


@router.post("/console/settings/guide-discount")
async def guide_discount_submit(
    request: Request,
    principal: Principal = Depends(require(Perm.SETTINGS_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    """The most a guide may take off a store sale alone (ADR 0008), typed in percent."""
    form = await request.form()
    try:
        cap_bp = _percent_to_bp(str(form.get("cap_percent", "")))
    except (ValueError, ArithmeticError):
        errors = {"guide_discount": error_messages(pick_locale(request))["guide_discount"]}
        return await _page(request, uow, principal, errors=errors, status_code=422)
    await mall.set_guide_discount_cap(uow.session, principal.require_tenant(), cap_bp)
    await uow.commit()
    return RedirectResponse("/console/settings?saved=1", status_code=303)


@router.post("/console/settings")
async def settings_submit(
    request: Request,
    principal: Principal = Depends(require(Perm.SETTINGS_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    form = await request.form()
    values: dict[str, Any] = {
        "mall_name": str(form.get("mall_name", "")),
        "primary_color": str(form.get("primary_color", "")),
        "accent_color": str(form.get("accent_color", "")),
        "cod_enabled": form.get("cod_enabled") == "on",
        "blocks_json": str(form.get("blocks_json", "[]")),
    }
    messages = error_messages(pick_locale(request))
    try:
        blocks = json.loads(values["blocks_json"])
    except ValueError:
        errors = {"blocks_json": messages["blocks_json"]}
        return await _page(request, uow, principal, values=values, errors=errors, status_code=422)
    try:
        await mall.update_mall_settings(
            uow.session,
            principal.require_tenant(),
            mall_name=values["mall_name"],
            primary_color=values["primary_color"],
            accent_color=values["accent_color"],
            cod_enabled=values["cod_enabled"],
            blocks=blocks if isinstance(blocks, list) else [blocks],
        )
    except LoopmallError as exc:
        await uow.rollback()
        field = str(exc.extra.get("field", "form"))
        if exc.code == "invalid_blocks":
            where = ".".join(str(p) for p in exc.extra["errors"][0]["loc"][1:3])
            errors = {"blocks_json": messages["invalid_blocks"] % {"where": where}}
        else:
            errors = {field: messages.get(field, exc.detail)}
        return await _page(
            request, uow, principal, values=values, errors=errors, status_code=exc.status
        )
    await uow.commit()
    return RedirectResponse("/console/settings?saved=1", status_code=303)


@router.post("/console/settings/logo")
async def logo_submit(
    request: Request,
    file: UploadFile = File(...),
    principal: Principal = Depends(require(Perm.SETTINGS_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    try:
        await save_logo(request, uow, principal, file)
    except LoopmallError as exc:
        await uow.rollback()
        messages = error_messages(pick_locale(request))
        errors = {"logo": messages.get(exc.code, exc.detail)}
        return await _page(request, uow, principal, errors=errors, status_code=exc.status)
    return RedirectResponse("/console/settings?saved=logo", status_code=303)
