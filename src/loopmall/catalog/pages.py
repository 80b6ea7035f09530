"""Console pages of the catalog: the product list and the product editor (fields, the SKU
matrix, channel prices, images). Forms post back here; JSON stays in ``api.py``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from loopmall.catalog import categories, editor, images, service
from loopmall.catalog.editor import EditorForm, PricedRow
from loopmall.catalog.pages_media import router as media_router
from loopmall.catalog.pages_render import render_editor, saved_flash, strings
from loopmall.catalog.repository import ProductDetail
from loopmall.catalog.schemas import (
    PUBLIC_ID_PATTERN,
    ProductFilter,
    ProductPatch,
    ProductStatus,
    SkuIn,
    SkuPatch,
)
from loopmall.core.errors import LoopmallError, ValidationFailed
from loopmall.core.http import read_uow, write_uow
from loopmall.core.pagination import decode_cursor
from loopmall.core.tenancy import Tenant
from loopmall.core.text import PlainText
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter()

PAGE_SIZE = 30


class FormInvalid(Exception):
    """The editor's input was refused; its errors are on the form."""


def _product_path() -> Any:
    return Path(..., pattern=PUBLIC_ID_PATTERN)


@router.get("/console/products")
async def product_list(
    request: Request,
    q: PlainText = Query("", max_length=100),
    category: str = Query("", max_length=40),
    status: str = Query("", max_length=20),
    tag: PlainText = Query("", max_length=20),
    cursor: str = Query("", max_length=200),
    principal: Principal = Depends(require(Perm.CATALOG_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    tenant = principal.require_tenant()
    tree = categories.flatten(await categories.category_tree(uow.session, tenant))
    known = {c.public_id for _d, c in tree}
    statuses = {s.value for s in ProductStatus}
    filters = ProductFilter(
        q=q.strip() or None,
        category=category if category in known else None,
        status=ProductStatus(status) if status in statuses else None,
        tag=tag.strip() or None,
    )
    try:
        decode_cursor(cursor) if cursor else None
        rows, next_cursor = await service.list_products(
            uow.session, tenant, filters, cursor=cursor or None, limit=PAGE_SIZE
        )
    except ValidationFailed:  # a stale or edited cursor: start from the top
        rows, next_cursor = await service.list_products(
            uow.session, tenant, filters, limit=PAGE_SIZE
        )
    locale = pick_locale(request)
    return render(
        request,
        "catalog/products.html",
        {
            "rows": rows,
            "next_cursor": next_cursor,
            "filters": {"q": q, "category": filters.category or "", "status": status, "tag": tag},
            "categories": tree,
            "strings": strings(locale),
            "url_for": images.url_for,
            "can_write": principal.can(Perm.CATALOG_WRITE),
        },
    )


@router.get("/console/products/new")
async def new_product_page(
    request: Request,
    principal: Principal = Depends(require(Perm.CATALOG_WRITE)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    tenant = principal.require_tenant()
    return await render_editor(request, uow, tenant, principal, editor.blank_form(), None)


@router.get("/console/products/{product_id}")
async def edit_product_page(
    request: Request,
    product_id: str = _product_path(),
    principal: Principal = Depends(require(Perm.CATALOG_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    tenant = principal.require_tenant()
    detail = await service.get_product(uow.session, tenant, product_id)
    form = editor.form_from_detail(detail)
    return await render_editor(
        request, uow, tenant, principal, form, detail, flash=saved_flash(request)
    )


def _message(exc: LoopmallError, _: editor.Translate) -> str:
    """A service's refusal in the reader's language."""
    messages = {
        "duplicate_sku_code": _("This SKU code is already used."),
        "duplicate_sku_options": _("Another SKU of this product has these options."),
        "options_mismatch": _("The SKU's options do not match the option names."),
        "option_names_fixed": _(
            "Options can be renamed, but not added or removed, once a product has SKUs."
        ),
        "no_active_sku": _("A product on sale needs at least one SKU on sale."),
        "not_found": _("That no longer exists; reload the page."),
    }
    if exc.code == "validation_failed" and exc.extra.get("field") == "member_price":
        return _("The member price must not be above the price.")
    return messages.get(exc.code, _("This value is not valid."))


def _service_error(
    form: EditorForm, exc: LoopmallError, row_for: dict[int, int] | None, _: editor.Translate
) -> None:
    """Put a service's refusal beside the field it names, else at the top of the form."""
    where = str(exc.extra.get("field", ""))
    parts = where.split(".")
    if parts[0] == "skus" and len(parts) == 3 and parts[1].isdigit() and row_for is not None:
        form.errors[f"sku-{row_for.get(int(parts[1]), 0)}-{parts[2]}"] = _message(exc, _)
    elif where in ("category", "option_names", "title", "tags", "status"):
        form.errors[where] = _message(exc, _)
    elif "category" in exc.extra:
        form.errors["category"] = _message(exc, _)
    else:
        form.errors["form"] = _message(exc, _)


def _problem_flash(request: Request, form: EditorForm) -> str:
    _ = translator(pick_locale(request))
    return form.errors.get("form") or _("Nothing was saved: correct the fields marked below.")


@router.post("/console/products/new")
async def create_from_form(
    request: Request,
    principal: Principal = Depends(require(Perm.CATALOG_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    tenant = principal.require_tenant()
    _ = translator(pick_locale(request))
    data = await request.form()
    form = editor.form_from_post(data)
    if data.get("action") == "matrix":
        editor.build_matrix(form)
        return await render_editor(request, uow, tenant, principal, form, None)
    editor.check_options(form, _)
    priced = editor.check_amounts(form, _)
    product_in = None if form.errors else editor.new_product(form, priced, _)
    if product_in is not None:
        try:
            detail = await service.create_product(uow.session, tenant, product_in)
        except LoopmallError as exc:
            await uow.rollback()
            kept = [p.index for p in priced if p.row.active]
            _service_error(form, exc, dict(enumerate(kept)), _)
        else:
            await uow.commit()
            return RedirectResponse(
                f"/console/products/{detail.product.public_id}?saved=product", status_code=303
            )
    return await render_editor(
        request,
        uow,
        tenant,
        principal,
        form,
        None,
        status_code=422,
        flash=_problem_flash(request, form),
        flash_kind="error",
    )


async def _apply_form(  # noqa: C901 (one branch per form field; the pages are being reworked)
    uow: UnitOfWork,
    tenant: Tenant,
    product_id: str,
    form: EditorForm,
    priced: list[PricedRow],
    stored: ProductDetail,
    _: editor.Translate,
) -> None:
    """Save the editor over a stored product: fields, then each SKU row. The status goes
    last when putting the product on sale (it needs SKUs on sale) and first otherwise."""
    session = uow.session
    try:
        patch = ProductPatch.model_validate(editor.product_fields(form))
        status = ProductPatch.model_validate({"status": form.status})
    except ValidationError as exc:
        editor.record_errors(form, exc, [], _)
        raise FormInvalid from None
    stored_ids = {s.sku.public_id for s in stored.skus}
    try:
        await service.update_product(session, tenant, product_id, patch)
        if status.status is not ProductStatus.ACTIVE:
            await service.update_product(session, tenant, product_id, status)
        for p in priced:
            row, n = p.row, p.index
            try:
                if row.id:
                    if row.id not in stored_ids:
                        raise ValidationFailed("This SKU is not part of the product", field="id")
                    body: dict[str, Any] = {
                        "barcode": row.barcode,
                        "price": p.price,
                        "member_price": p.member_price,
                        "sales_scope": row.scope or None,
                        "status": "active" if row.active else "inactive",
                    }
                    if row.code:
                        body["code"] = row.code
                    await service.update_sku(session, tenant, row.id, SkuPatch.model_validate(body))
                elif row.active:
                    await service.add_sku(
                        session, tenant, product_id, SkuIn.model_validate(editor.sku_in(form, p))
                    )
            except ValidationError as exc:
                for err in exc.errors():
                    loc = [str(x) for x in err.get("loc", ())] or ["price"]
                    name = "scope" if loc[0] == "sales_scope" else loc[0]
                    form.errors[f"sku-{n}-{name}"] = editor.field_message(err.get("type", ""), _)
                raise FormInvalid from None
            except LoopmallError as exc:
                form.errors[f"sku-{n}-{exc.extra.get('field', 'price')}"] = _message(exc, _)
                raise FormInvalid from None
        if status.status is ProductStatus.ACTIVE:
            await service.update_product(session, tenant, product_id, status)
    except LoopmallError as exc:
        _service_error(form, exc, None, _)
        raise FormInvalid from None


@router.post("/console/products/{product_id}")
async def save_from_form(
    request: Request,
    product_id: str = _product_path(),
    principal: Principal = Depends(require(Perm.CATALOG_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    tenant = principal.require_tenant()
    _ = translator(pick_locale(request))
    stored = await service.get_product(uow.session, tenant, product_id)
    data = await request.form()
    form = editor.form_from_post(data)
    if data.get("action") == "matrix":
        editor.build_matrix(form)
        return await render_editor(request, uow, tenant, principal, form, stored)
    editor.check_options(form, _)
    priced = editor.check_amounts(form, _)
    if not form.errors:
        try:
            await _apply_form(uow, tenant, product_id, form, priced, stored, _)
        except FormInvalid:
            await uow.rollback()
        else:
            await uow.commit()
            return RedirectResponse(f"/console/products/{product_id}?saved=product", 303)
    stored = await service.get_product(uow.session, tenant, product_id)
    return await render_editor(
        request,
        uow,
        tenant,
        principal,
        form,
        stored,
        status_code=422,
        flash=_problem_flash(request, form),
        flash_kind="error",
    )


router.include_router(media_router)
