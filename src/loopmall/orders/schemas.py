"""Request and response bodies of the cart, checkout and order APIs (amounts in fen)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from loopmall.core.numbers import StrictInt
from loopmall.core.text import MultilineText, PlainText
from loopmall.orders.cart import CartView
from loopmall.orders.models import Order, OrderLine, OrderRefund, OrderStep
from loopmall.orders.queries import OrderDetail
from loopmall.orders.rules import MAX_LINE_QUANTITY


class CartItemIn(BaseModel):
    sku: PlainText = Field(min_length=1, max_length=64, description="SKU public id")
    quantity: StrictInt = Field(1, ge=1, le=MAX_LINE_QUANTITY)


class CartQuantityIn(BaseModel):
    quantity: StrictInt = Field(ge=0, le=MAX_LINE_QUANTITY, description="0 removes the line")


class CartLineOut(BaseModel):
    sku: str
    product: str
    title: str
    options: str
    quantity: int
    unit_fen: int | None
    list_fen: int | None
    line_fen: int
    available_units: int
    problem: str | None = Field(
        description="null, not_for_sale, not_sold_in_channel, out_of_stock, not_enough_stock"
    )


class CartOut(BaseModel):
    channel: str
    store: str | None
    lines: list[CartLineOut]
    total_fen: int
    count: int
    ok: bool = Field(description="Every line can be bought now")


def cart_out(view: CartView) -> CartOut:
    return CartOut(
        channel=view.channel,
        store=view.store_public_id,
        lines=[
            CartLineOut(
                sku=line.sku_public_id,
                product=line.product_public_id,
                title=line.title,
                options=line.options_text,
                quantity=line.quantity,
                unit_fen=line.unit_fen,
                list_fen=line.list_fen,
                line_fen=line.line_fen,
                available_units=line.available_units,
                problem=line.problem,
            )
            for line in view.lines
        ],
        total_fen=view.total_fen,
        count=view.count,
        ok=view.ok,
    )


class AddressIn(BaseModel):
    name: PlainText = Field(min_length=1, max_length=50)
    phone: PlainText = Field(min_length=1, max_length=30)
    address: MultilineText = Field(min_length=1, max_length=255)


class CheckoutIn(BaseModel):
    fulfilment: Literal["delivery", "pickup"]
    payment_method: Literal["online", "cod"] = "online"
    address: AddressIn | None = None
    store: PlainText | None = Field(None, max_length=64, description="pickup store")
    note: MultilineText = Field("", max_length=200)


class OrderLineOut(BaseModel):
    sku: str
    title: str
    options: str
    unit_fen: int
    quantity: int
    line_fen: int


class OrderStepOut(BaseModel):
    from_status: str | None
    status: str
    actor: str
    note: str
    amount_fen: int | None
    at: datetime


class OrderRefundOut(BaseModel):
    amount_fen: int
    at: datetime


class OrderOut(BaseModel):
    id: str
    number: str
    kind: str
    status: str
    fulfilment: str
    payment_method: str
    total_fen: int
    paid_fen: int
    refunded_fen: int
    store: str | None = Field(None, description="store public id (pickup / face-to-face)")
    store_name: str | None = None
    pickup_code: str | None = Field(
        None, description="the customer's own views only: staff ask the customer for it"
    )
    recipient_name: str
    recipient_phone: str
    address: str
    note: str
    description: str
    carrier: str
    tracking_no: str
    expires_at: datetime | None
    created_at: datetime
    paid_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    pay_url: str | None = Field(None, description="where the customer pays an unpaid order")
    lines: list[OrderLineOut] = []
    steps: list[OrderStepOut] = []
    refunds: list[OrderRefundOut] = []


class ShipIn(BaseModel):
    carrier: PlainText = Field("", max_length=40)
    tracking_no: PlainText = Field("", max_length=60)


class ReasonIn(BaseModel):
    reason: PlainText = Field("", max_length=200)


class PickupCodeIn(BaseModel):
    code: PlainText = Field(min_length=1, max_length=20)


def line_out(line: OrderLine) -> OrderLineOut:
    return OrderLineOut(
        sku=line.sku_public_id,
        title=line.title,
        options=line.options_text,
        unit_fen=line.unit_fen,
        quantity=line.quantity,
        line_fen=line.line_fen,
    )


def step_out(step: OrderStep) -> OrderStepOut:
    return OrderStepOut(
        from_status=step.from_status,
        status=step.to_status,
        actor=step.actor,
        note=step.note,
        amount_fen=step.amount_fen,
        at=step.at,
    )


def refund_out(refund: OrderRefund) -> OrderRefundOut:
    return OrderRefundOut(amount_fen=refund.amount_fen, at=refund.at)


def order_out(
    order: Order,
    *,
    store_public_id: str | None = None,
    store_name: str | None = None,
    lines: list[OrderLine] | None = None,
    pay_url: str | None = None,
    for_customer: bool = False,
) -> OrderOut:
    return OrderOut(
        id=order.public_id,
        number=order.number,
        kind=order.kind,
        status=order.status,
        fulfilment=order.fulfilment,
        payment_method=order.payment_method,
        total_fen=order.total_fen,
        paid_fen=order.paid_fen,
        refunded_fen=order.refunded_fen,
        store=store_public_id,
        store_name=store_name,
        # The code proves the customer is at the counter: only they are shown it.
        pickup_code=order.pickup_code if for_customer else None,
        recipient_name=order.recipient_name,
        recipient_phone=order.recipient_phone,
        address=order.address,
        note=order.note,
        description=order.description,
        carrier=order.carrier,
        tracking_no=order.tracking_no,
        expires_at=order.expires_at,
        created_at=order.created_at,
        paid_at=order.paid_at,
        completed_at=order.completed_at,
        cancelled_at=order.cancelled_at,
        pay_url=pay_url,
        lines=[line_out(x) for x in lines or []],
    )


def detail_out(detail: OrderDetail, *, pay_url: str | None, for_customer: bool = False) -> OrderOut:
    out = order_out(
        detail.order,
        for_customer=for_customer,
        store_public_id=detail.store_public_id,
        store_name=detail.store_name,
        lines=detail.lines,
        pay_url=pay_url,
    )
    out.steps = [step_out(s) for s in detail.steps]
    out.refunds = [refund_out(r) for r in detail.refunds]
    return out
