"""The address book under "我的" (issue #14 item 13): list, add, edit, remove, choose the
default. Forms post back and land on the list (a refused form shows the list again with
what was typed and why)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter, Depends, Form, Path
from fastapi.responses import RedirectResponse, Response

from loopmall.core.errors import LoopmallError
from loopmall.core.http import read_uow, write_uow
from loopmall.core.uow import UnitOfWork
from loopmall.customers import addresses
from loopmall.customers.mall_page import CustomerPage, customer_back_to, mall_customer
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import translator

router = APIRouter(include_in_schema=False)

BACK_TO_BOOK = customer_back_to("/m/{slug}/me/addresses")
ADDRESS_ID = Path(..., max_length=40, pattern=r"^[a-z0-9_]+$")


def _list_url(page: CustomerPage) -> RedirectResponse:
    return RedirectResponse(f"/m/{page.tenant.slug}/me/addresses", status_code=303)


async def _book_page(
    page: CustomerPage,
    uow: UnitOfWork,
    *,
    form: dict[str, str] | None = None,
    refused: LoopmallError | None = None,
) -> Response:
    rows = await addresses.list_addresses(uow.session, page.tenant, page.customer.customer_id)
    editing = (form or {}).get("id", "")
    context: dict[str, Any] = {"addresses": rows, "form": form or {}, "editing": editing}
    if refused is None:
        return page.render("customers/addresses.html", context, tab="me")
    _ = translator(pick_locale(page.request))
    messages = {
        "address_book_full": _("Your address book is full (20). Remove one first."),
        "address_not_found": _("That address is no longer in your address book."),
    }
    field = refused.extra.get("field")
    message = messages.get(refused.code) or (
        _("Fill in the name, phone and address (the address at most 255 characters).")
        if field
        else _("The address could not be saved.")
    )
    return page.render_refused(
        "customers/addresses.html",
        context,
        errors={"error": message},
        status_code=refused.status,
        tab="me",
    )


@router.get("/m/{slug}/me/addresses")
async def address_book(
    page: CustomerPage = Depends(mall_customer), uow: UnitOfWork = Depends(read_uow)
) -> Response:
    return await _book_page(page, uow)


async def _saved(
    page: CustomerPage,
    uow: UnitOfWork,
    change: Awaitable[object],
    form: dict[str, str] | None = None,
) -> Response:
    """Make the change and go back to the list, or show the list with why it was refused."""
    try:
        await change
        await uow.commit()
    except LoopmallError as exc:
        await uow.rollback()
        return await _book_page(page, uow, form=form, refused=exc)
    return _list_url(page)


@router.post("/m/{slug}/me/addresses")
async def add_address(
    name: str = Form("", max_length=100),
    phone: str = Form("", max_length=60),
    address: str = Form("", max_length=400),
    make_default: str = Form("", max_length=5),
    page: CustomerPage = Depends(BACK_TO_BOOK),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    tenant, customer_id = page.tenant, page.customer.customer_id
    fields = {"name": name, "phone": phone, "address": address}
    change = addresses.add_address(
        uow.session, tenant, customer_id, **fields, make_default=bool(make_default)
    )
    return await _saved(page, uow, change, fields)


@router.post("/m/{slug}/me/addresses/{address_id}")
async def edit_address(
    address_id: str = ADDRESS_ID,
    name: str = Form("", max_length=100),
    phone: str = Form("", max_length=60),
    address: str = Form("", max_length=400),
    page: CustomerPage = Depends(BACK_TO_BOOK),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    tenant, customer_id = page.tenant, page.customer.customer_id
    fields = {"name": name, "phone": phone, "address": address}
    change = addresses.update_address(uow.session, tenant, customer_id, address_id, **fields)
    return await _saved(page, uow, change, {"id": address_id, **fields})


@router.post("/m/{slug}/me/addresses/{address_id}/default")
async def make_default(
    address_id: str = ADDRESS_ID,
    page: CustomerPage = Depends(BACK_TO_BOOK),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    customer_id = page.customer.customer_id
    change = addresses.set_default(uow.session, page.tenant, customer_id, address_id)
    return await _saved(page, uow, change)


@router.post("/m/{slug}/me/addresses/{address_id}/remove")
async def remove_address(
    address_id: str = ADDRESS_ID,
    page: CustomerPage = Depends(BACK_TO_BOOK),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    customer_id = page.customer.customer_id
    change = addresses.remove_address(uow.session, page.tenant, customer_id, address_id)
    return await _saved(page, uow, change)
