"""Mall pages: cart, checkout, my orders and one order (mobile, Chinese first).

Forms post back (no script needed); success redirects (POST/redirect/GET), a refusal
re-renders with the reason. A visitor who is not logged in is sent to the mall's login
with ``next`` pointing back here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from loopmall.core.errors import LoopmallError, NotFound
from loopmall.core.http import get_state, read_uow, write_uow
from loopmall.core.numbers import NotAWholeNumber, form_int
from loopmall.core.text import PlainText
from loopmall.core.uow import UnitOfWork
from loopmall.customers import addresses
from loopmall.customers.mall_page import CustomerPage, customer_back_to, mall_customer
from loopmall.orders import cart, checkout, fulfilment, queries, service
from loopmall.orders.cart import CartView
from loopmall.orders.pages.labels import error_message, labels, problem_label
from loopmall.orders.pickup_qr import pickup_qr_svg
from loopmall.orders.rules import CartEmpty, LinesUnavailable, OrderStatus
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import translator

router = APIRouter(include_in_schema=False)

SLUG = Path(..., max_length=40)
ORDER_ID = Path(..., max_length=40)
PAGE_SIZE = 20
# A form's POST comes back, after a login, to the cart or to the order it was about (a
# login cannot replay the POST).
BACK_TO_CART = customer_back_to("/m/{slug}/cart")
BACK_TO_ORDER = customer_back_to("/m/{slug}/orders/{order_id}")


def _ctx(request: Request, **extra: Any) -> dict[str, Any]:
    _ = translator(pick_locale(request))
    return {"labels": labels(_), "problem_label": problem_label(_)} | extra


async def _cart_page(
    page: CustomerPage, uow: UnitOfWork, *, refused: LoopmallError | None = None
) -> Response:
    view = await cart.view_cart(uow.session, page.tenant, page.customer.customer_id)
    context = _ctx(page.request, cart=view, flash="", flash_kind="ok")
    if refused is None:
        return page.render("orders/cart.html", context, tab="cart")
    _ = translator(pick_locale(page.request))
    return page.render_refused(
        "orders/cart.html",
        context,
        errors={"flash": error_message(_, refused), "flash_kind": "error"},
        status_code=refused.status,
        tab="cart",
    )


@router.get("/m/{slug}/cart")
async def cart_page(
    slug: str = SLUG,
    page: CustomerPage = Depends(mall_customer),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    return await _cart_page(page, uow)


@router.post("/m/{slug}/cart/items")
async def add_to_cart(
    slug: str = SLUG,
    sku: str = Form("", max_length=64),
    qty: str = Form("1", max_length=6),
    then: str = Form("cart", max_length=20),
    page: CustomerPage = Depends(BACK_TO_CART),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    shopper = page.customer
    try:
        quantity = form_int(qty.strip() or "1", field="qty")
    except NotAWholeNumber:
        quantity = 0  # refused by the cart as any bad quantity is
    try:
        await cart.add_to_cart(uow.session, shopper.tenant, shopper.customer_id, sku, quantity)
        await uow.commit()
    except LoopmallError as exc:
        await uow.rollback()
        return await _cart_page(page, uow, refused=exc)
    # The product page's "buy now" (then=checkout) goes on to the checkout.
    next_page = "checkout" if then == "checkout" else "cart"
    return RedirectResponse(f"/m/{slug}/{next_page}", status_code=303)


@router.post("/m/{slug}/cart/items/{sku}")
async def set_quantity(
    slug: str = SLUG,
    sku: str = Path(..., max_length=64),
    qty: str = Form("0", max_length=6),
    page: CustomerPage = Depends(BACK_TO_CART),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    shopper = page.customer
    try:
        try:
            quantity = form_int(qty.strip() or "0", field="qty")
        except NotAWholeNumber:
            quantity = -1
        await cart.set_quantity(uow.session, shopper.tenant, shopper.customer_id, sku, quantity)
        await uow.commit()
    except LoopmallError as exc:
        await uow.rollback()
        return await _cart_page(page, uow, refused=exc)
    return RedirectResponse(f"/m/{slug}/cart", status_code=303)


async def _checkout_page(
    page: CustomerPage,
    uow: UnitOfWork,
    form: dict[str, str],
    *,
    flash: str = "",
    status_code: int = 200,
) -> Response:
    shopper = page.customer
    fulfilment_choice = form.get("fulfilment") or "delivery"
    stores, _more = (
        await checkout.pickup_stores(uow.session, shopper.tenant, q=form.get("store_q", ""))
        if fulfilment_choice == "pickup"
        else ([], None)
    )
    store = None
    if fulfilment_choice == "pickup":
        chosen = form.get("store") or (stores[0].public_id if stores else "")
        store = next((s for s in stores if s.public_id == chosen), None)
        if store is None:  # chosen from an earlier search: not on this page of stores
            store = await checkout.find_pickup_store(uow.session, shopper.tenant, chosen)
            stores = [store, *stores] if store is not None else stores
        form["store"] = store.public_id if store is not None else ""
    view: CartView = await cart.view_cart(
        uow.session, shopper.tenant, shopper.customer_id, store=store
    )
    context = _ctx(
        page.request,
        cart=view,
        stores=stores,
        form=form | {"fulfilment": fulfilment_choice},
        flash="",
        flash_kind="ok",
    )
    if not flash:
        return page.render("orders/checkout.html", context, tab="cart")
    return page.render_refused(
        "orders/checkout.html",
        context,
        errors={"flash": flash, "flash_kind": "error"},
        status_code=status_code,
        tab="cart",
    )


@router.get("/m/{slug}/checkout")
async def checkout_page(
    slug: str = SLUG,
    fulfilment: str = Query("delivery", pattern="^(delivery|pickup)$"),
    store: str = Query("", max_length=64),
    store_q: PlainText = Query("", max_length=50),
    page: CustomerPage = Depends(mall_customer),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    form = {
        "fulfilment": fulfilment,
        "store": store,
        "store_q": store_q.strip(),
        "payment_method": "online",
    }
    # The customer's default address (customers.addresses, kept under "我的") fills the form.
    kept = await addresses.default_address(uow.session, page.tenant, page.customer.customer_id)
    if kept is not None:
        form |= {"name": kept.name, "phone": kept.phone, "address": kept.address}
    return await _checkout_page(page, uow, form)


@router.post("/m/{slug}/checkout")
async def checkout_submit(
    request: Request,
    slug: str = SLUG,
    fulfilment: str = Form("delivery", max_length=20),
    payment_method: str = Form("online", max_length=20),
    store: str = Form("", max_length=64),
    name: str = Form("", max_length=100),
    phone: str = Form("", max_length=60),
    address: str = Form("", max_length=400),
    note: str = Form("", max_length=400),
    page: CustomerPage = Depends(BACK_TO_CART),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    shopper = page.customer
    settings = get_state(request).settings
    form = {
        "fulfilment": fulfilment,
        "payment_method": payment_method,
        "store": store,
        "name": name,
        "phone": phone,
        "address": address,
        "note": note,
    }
    try:
        order = await checkout.checkout(
            uow.session,
            shopper.tenant,
            customer_id=shopper.customer_id,
            request=checkout.CheckoutRequest(
                fulfilment=fulfilment,
                payment_method=payment_method,
                address=checkout.Address(name, phone, address)
                if fulfilment == "delivery"
                else None,
                store_public_id=store or None if fulfilment == "pickup" else None,
                note=note,
            ),
            unpaid_ttl_seconds=settings.unpaid_order_ttl_seconds,
        )
        public_id = order.public_id
        awaits = service.awaits_payment(order)
        if fulfilment == "delivery":  # a new address joins the customer's address book
            await addresses.remember(
                uow.session, shopper.tenant, shopper.customer_id,
                name=name, phone=phone, address=address,
            )  # fmt: skip
        await uow.commit()
    except LoopmallError as exc:
        await uow.rollback()
        _ = translator(pick_locale(request))
        if isinstance(exc, CartEmpty):
            # A second press of the button after the order was placed: show my orders.
            return RedirectResponse(f"/m/{slug}/orders", status_code=303)
        flash = error_message(_, exc)
        if isinstance(exc, LinesUnavailable):
            flash = _("Some items cannot be bought now; see the cart.")
        return await _checkout_page(page, uow, form, flash=flash, status_code=exc.status)
    if awaits:
        return RedirectResponse(f"/m/{slug}/pay/{public_id}", status_code=303)
    return RedirectResponse(f"/m/{slug}/orders/{public_id}", status_code=303)


@router.get("/m/{slug}/orders")
async def orders_page(
    request: Request,
    slug: str = SLUG,
    status: OrderStatus | None = Query(None),
    cursor: str | None = Query(None, max_length=200),
    page: CustomerPage = Depends(mall_customer),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    shopper = page.customer
    orders, next_cursor = await queries.list_orders(
        uow.session,
        shopper.tenant,
        queries.OrderFilters(status=status, customer_id=shopper.customer_id),
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    lines = await queries.first_lines(uow.session, shopper.tenant, [o.id for o in orders])
    next_url = None
    if next_cursor:
        params = {"cursor": next_cursor} | ({"status": status.value} if status else {})
        next_url = f"/m/{slug}/orders?{urlencode(params)}"
    return page.render(
        "orders/orders.html",
        _ctx(
            request,
            orders=orders,
            lines=lines,
            status=status.value if status else "",
            next_url=next_url,
            awaits_payment=service.awaits_payment,
        ),
        tab="orders",
    )


async def _order_page(
    page: CustomerPage, uow: UnitOfWork, order_id: str, *, refused: LoopmallError | None = None
) -> Response:
    detail = await queries.order_detail(
        uow.session, page.tenant, order_id, customer_id=page.customer.customer_id
    )
    order = detail.order
    qr = pickup_qr_svg(order.pickup_code) if order.pickup_code else None
    context = _ctx(
        page.request,
        detail=detail,
        order=order,
        qr_svg=qr,
        awaits_payment=service.awaits_payment(order),
        flash="",
        flash_kind="ok",
    )
    if refused is None:
        return page.render("orders/order.html", context, tab="orders")
    _ = translator(pick_locale(page.request))
    return page.render_refused(
        "orders/order.html",
        context,
        errors={"flash": error_message(_, refused), "flash_kind": "error"},
        status_code=refused.status,
        tab="orders",
    )


@router.get("/m/{slug}/orders/{order_id}")
async def order_page(
    slug: str = SLUG,
    order_id: str = ORDER_ID,
    page: CustomerPage = Depends(mall_customer),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    return await _order_page(page, uow, order_id)


_ACTIONS = {"cancel", "receipt", "refund-request"}


@router.post("/m/{slug}/orders/{order_id}/{action}")
async def order_action(
    slug: str = SLUG,
    order_id: str = ORDER_ID,
    action: str = Path(..., max_length=20),
    reason: str = Form("", max_length=200),
    page: CustomerPage = Depends(BACK_TO_ORDER),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    shopper = page.customer
    if action not in _ACTIONS:
        raise NotFound("No such action")
    tenant, customer_id = shopper.tenant, shopper.customer_id
    try:
        detail = await queries.order_detail(uow.session, tenant, order_id, customer_id=customer_id)
        oid = detail.order.id
        if action == "cancel":
            await service.cancel_order(
                uow.session,
                tenant,
                oid,
                actor="customer",
                reason=reason or "cancelled by customer",
                customer_id=customer_id,
            )
        elif action == "receipt":
            await fulfilment.confirm_receipt(uow.session, tenant, oid, customer_id=customer_id)
        else:
            await fulfilment.request_refund(
                uow.session, tenant, oid, customer_id=customer_id, reason=reason
            )
        await uow.commit()
    except LoopmallError as exc:
        await uow.rollback()
        if isinstance(exc, NotFound):
            raise
        return await _order_page(page, uow, order_id, refused=exc)
    return RedirectResponse(f"/m/{slug}/orders/{order_id}", status_code=303)
