"""What the catalog's pages share: labels in the reader's language and the editor page."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from loopmall.catalog import categories, images
from loopmall.catalog.editor import EditorForm
from loopmall.catalog.pages_prices import PriceBoard, board_stores, price_board
from loopmall.catalog.repository import ProductDetail
from loopmall.core.http import get_state
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator


def strings(locale: str) -> dict[str, dict[str, str]]:
    _ = translator(locale)
    return {
        "status": {
            "draft": _("Draft"),
            "active": _("On sale"),
            "archived": _("Archived"),
        },
        "scope": {
            "all": _("Online and in stores"),
            "online_only": _("Online only"),
            "store_only": _("In stores only"),
        },
    }


async def render_editor(
    request: Request,
    uow: UnitOfWork,
    tenant: Tenant,
    principal: Principal,
    form: EditorForm,
    detail: ProductDetail | None,
    *,
    status_code: int = 200,
    flash: str = "",
    flash_kind: str = "ok",
    board: PriceBoard | None = None,
) -> Response:
    locale = pick_locale(request)
    tree = categories.flatten(await categories.category_tree(uow.session, tenant))
    if detail is not None and board is None:
        channel = request.query_params.get("channel", "online")
        store_q = request.query_params.get("store_q", "")
        stores = await board_stores(uow.session, tenant, detail, channel, store_q)
        board = price_board(detail, stores, channel)
    return render(
        request,
        "catalog/product_edit.html",
        {
            "form": form,
            "detail": detail,
            "categories": tree,
            "strings": strings(locale),
            "board": board,
            "store_q": request.query_params.get("store_q", "")[:100],
            "url_for": images.url_for,
            "can_write": principal.can(Perm.CATALOG_WRITE),
            "max_upload": get_state(request).settings.upload_max_bytes,
            "flash": flash,
            "flash_kind": flash_kind,
        },
        status_code=status_code,
    )


def saved_flash(request: Request) -> str:
    _ = translator(pick_locale(request))
    saved = request.query_params.get("saved", "")
    return {
        "product": _("Saved."),
        "prices": _("Channel prices saved."),
        "image": _("Image added."),
        "images": _("Images updated."),
    }.get(saved, "")
