"""Request and response models of the guide workbench and the mall chat."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from loopmall.core.clock import local
from loopmall.core.numbers import BasisPoints, StrictInt
from loopmall.core.text import MultilineText, PlainText
from loopmall.guides.models import ChatMessage, Conversation, Fitting, GuideHold
from loopmall.guides.rules import MAX_TAG, MAX_TEXT
from loopmall.orders.store_discount import DiscountAsk

PUBLIC_ID = r"^[a-z0-9_]+$"
PublicId = Annotated[str, Field(min_length=1, max_length=40, pattern=PUBLIC_ID)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GuideMessageIn(_Input):
    kind: Literal["text", "card"] = "text"
    body: MultilineText = Field("", max_length=MAX_TEXT)
    sku: PublicId | None = Field(None, description="SKU public id, for a card")


class ShopperMessageIn(_Input):
    conversation: PublicId | None = Field(None, description="Default: the open conversation")
    body: MultilineText = Field("", max_length=MAX_TEXT)
    pick: PublicId | None = Field(None, description="A card message id: 'I'd like to try this'")


class OpenChatIn(_Input):
    guide: PublicId | None = Field(None, description="Staff public id; default: my bound guide")


class HoldIn(_Input):
    conversation: PublicId
    sku: PublicId
    quantity: StrictInt = Field(1, ge=1, le=99)
    ttl_seconds: StrictInt = Field(..., ge=1, le=30 * 24 * 3600)


class DiscountIn(_Input):
    """A discount the guide asks for off the store's price (per unit), in one form. The
    price itself always comes from the price pipeline; a client never sets it (#11)."""

    off_fen: StrictInt | None = Field(None, ge=0, le=100_000_000, description="Amount off a unit")
    off_bp: BasisPoints | None = Field(None, description="Percentage off, in bp")
    final_unit_fen: StrictInt | None = Field(None, ge=0, le=100_000_000, description="Final price")

    def ask(self) -> DiscountAsk:
        return DiscountAsk(self.off_fen, self.off_bp, self.final_unit_fen)


class SaleIn(_Input):
    discount: DiscountIn | None = None


class FittingIn(_Input):
    conversation: PublicId
    starts_at: AwareDatetime
    hold: PublicId | None = None
    note: PlainText = Field("", max_length=200)


class OutcomeIn(_Input):
    outcome: Literal["sold", "released", "no_show", "cancelled"]
    discount: DiscountIn | None = Field(None, description="Only with outcome 'sold'")


class TagIn(_Input):
    tag: PlainText = Field(min_length=1, max_length=MAX_TAG)


class SettingsIn(_Input):
    max_hold_seconds: StrictInt = Field(..., ge=1, le=30 * 24 * 3600)
    slot_minutes: StrictInt = Field(..., ge=1, le=24 * 60)


class SettingsOut(BaseModel):
    max_hold_seconds: int
    slot_minutes: int


class HandOverIn(_Input):
    from_guide: PublicId
    to_guide: PublicId


class HandOverOut(BaseModel):
    customers: int
    conversations: int
    holds: int
    fittings: int


class MessageOut(BaseModel):
    id: str
    conversation: str
    sender: str
    kind: str
    body: str
    card: dict[str, Any]
    at: datetime


def message_out(message: ChatMessage, conversation: Conversation) -> MessageOut:
    return MessageOut(
        id=message.public_id,
        conversation=conversation.public_id,
        sender=message.sender,
        kind=message.kind,
        body=message.body,
        card=message.card or {},
        at=message.at,
    )


class ConversationOut(BaseModel):
    id: str
    customer: str
    customer_name: str
    guide: str
    guide_name: str
    unread: int
    last_message_at: datetime


class CardOut(BaseModel):
    sku: str
    product: str
    title: str
    options: str
    price_fen: int
    image: str | None
    in_store: int | None = Field(None, description="Units free at the guide's store")


class HoldOut(BaseModel):
    id: str
    customer: str
    sku: str
    title: str
    quantity: int
    unit_fen: int
    status: str
    expires_at: datetime
    order: str | None


def hold_out(row: GuideHold, *, customer: str, sku: str, order: str | None) -> HoldOut:
    return HoldOut(
        id=row.public_id,
        customer=customer,
        sku=sku,
        title=row.title,
        quantity=row.quantity,
        unit_fen=row.unit_fen,
        status=row.status,
        expires_at=row.expires_at,
        order=order,
    )


class FittingOut(BaseModel):
    id: str
    customer: str
    store: str
    store_name: str
    hold: str | None
    starts_at: datetime
    ends_at: datetime
    local_time: str
    status: str
    order: str | None
    note: str


def fitting_out(
    row: Fitting, *, customer: str, store: str, store_name: str, hold: str | None, order: str | None
) -> FittingOut:
    return FittingOut(
        id=row.public_id,
        customer=customer,
        store=store,
        store_name=store_name,
        hold=hold,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        local_time=local(row.starts_at).strftime("%Y-%m-%d %H:%M"),
        status=row.status,
        order=order,
        note=row.note,
    )


class SlotOut(BaseModel):
    starts_at: datetime
    local_time: str
    taken: bool


class SlotsQuery(BaseModel):
    day: date


class GuideOut(BaseModel):
    id: str
    name: str
    role: str
    store: str | None
    store_name: str | None
    customers: int | None = None


class CustomerOut(BaseModel):
    id: str
    name: str
    phone: str | None
    tags: list[str]
    store: str | None = None
    guide: str | None = None
    source: str = ""


class OrderBrief(BaseModel):
    id: str
    number: str
    kind: str
    status: str
    total_fen: int
    created_at: datetime


class ProfileOut(BaseModel):
    customer: CustomerOut
    order_count: int
    spent_fen: int
    orders: list[OrderBrief]
    holds: list[HoldOut]
    fittings: list[FittingOut]


class TillReceiptIn(_Input):
    amount_fen: int = Field(..., strict=True, ge=0, le=100_000_000, description="Received")


class StoreSaleLineOut(BaseModel):
    sku: str
    title: str
    quantity: int
    list_fen: int = Field(..., description="The store channel's list price of a unit")
    price_fen: int = Field(..., description="The price pipeline's price of a unit")
    unit_fen: int = Field(..., description="The final price of a unit")
    discount_fen: int = Field(..., description="Off the whole line")
    discount_approval: str = Field(..., description="none | within_cap | pending | approved")
    discount_by: str | None = Field(None, description="Staff public id")
    discount_approved_by: str | None = Field(None, description="Staff public id")
    line_fen: int


class StoreSaleOut(BaseModel):
    id: str
    number: str
    status: str
    store: str
    guide: str | None
    total_fen: int
    paid_fen: int
    created_at: datetime
    lines: list[StoreSaleLineOut]
