"""Console forms beside the product editor: channel prices and images."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response

from loopmall.catalog import editor, images, service
from loopmall.catalog.api_images import buffered_upload, read_image_upload
from loopmall.catalog.errors import NotAnImage, UploadTooLarge
from loopmall.catalog.pages_prices import save_channel_prices
from loopmall.catalog.pages_render import render_editor
from loopmall.catalog.schemas import PUBLIC_ID_PATTERN
from loopmall.core.errors import ValidationFailed
from loopmall.core.http import get_state, write_uow
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import translator

router = APIRouter()


def _product_path() -> Any:
    return Path(..., pattern=PUBLIC_ID_PATTERN)


@router.post("/console/products/{product_id}/prices")
async def save_prices(
    request: Request,
    product_id: str = _product_path(),
    principal: Principal = Depends(require(Perm.CATALOG_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    tenant = principal.require_tenant()
    locale = pick_locale(request)
    data = await request.form()
    board = await save_channel_prices(uow.session, tenant, product_id, data, translator(locale))
    if not board.errors:
        await uow.commit()
        return RedirectResponse(
            f"/console/products/{product_id}?channel={board.channel}&saved=prices#prices", 303
        )
    await uow.rollback()
    stored = await service.get_product(uow.session, tenant, product_id)
    _ = translator(locale)
    return await render_editor(
        request,
        uow,
        tenant,
        principal,
        editor.form_from_detail(stored),
        stored,
        status_code=422,
        board=board,
        flash=board.errors.get("form")
        or _("Channel prices not saved: correct the amounts marked."),
        flash_kind="error",
    )


@router.post("/console/products/{product_id}/images")
async def upload_image_form(
    request: Request,
    product_id: str = _product_path(),
    _body: None = Depends(buffered_upload),
    principal: Principal = Depends(require(Perm.CATALOG_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    tenant = principal.require_tenant()
    settings = get_state(request).settings
    _ = translator(pick_locale(request))
    try:
        data = await read_image_upload(request, "image")
        await images.add_image(
            uow.session,
            tenant,
            product_id,
            data,
            upload_dir=settings.upload_dir,
            max_bytes=settings.upload_max_bytes,
        )
    except (ValidationFailed, NotAnImage, UploadTooLarge) as exc:
        await uow.rollback()
        messages = {
            "not_an_image": _("That file is not a PNG, JPEG, WebP or GIF image."),
            "upload_too_large": _("That image is too large."),
        }
        stored = await service.get_product(uow.session, tenant, product_id)
        return await render_editor(
            request,
            uow,
            tenant,
            principal,
            editor.form_from_detail(stored),
            stored,
            status_code=exc.status,
            flash=messages.get(exc.code, _("Choose an image to upload.")),
            flash_kind="error",
        )
    await uow.commit()
    return RedirectResponse(f"/console/products/{product_id}?saved=image#images", 303)


@router.post("/console/products/{product_id}/images/{image_id}/{action}")
async def change_image_form(
    request: Request,
    product_id: str = _product_path(),
    image_id: str = Path(..., pattern=PUBLIC_ID_PATTERN),
    action: str = Path(..., pattern=r"^(earlier|later|delete)$"),
    principal: Principal = Depends(require(Perm.CATALOG_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    tenant = principal.require_tenant()
    if action == "delete":
        path = await images.delete_image(uow.session, tenant, product_id, image_id)
        await uow.commit()
        images.remove_file(get_state(request).settings.upload_dir, path)
    else:
        step = -1 if action == "earlier" else 1
        await images.move_image(uow.session, tenant, product_id, image_id, step)
        await uow.commit()
    return RedirectResponse(f"/console/products/{product_id}?saved=images#images", 303)
