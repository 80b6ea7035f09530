"""Request and response models of the attribution API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from loopmall.core.numbers import StrictInt

PUBLIC_ID = r"^[a-z]{1,8}_[0-9a-z]{1,40}$"


class RulesOut(BaseModel):
    window_days: int = Field(description="Touches older than this many days do not count")
    precedence: Literal["last_touch", "first_touch", "binding"]
    bind_on_first_touch: bool = Field(
        description="A customer's first store/guide touch binds them to that store/guide"
    )
    takeover_after_days: int = Field(
        description="Another store/guide may take a binding over after this many days "
        "without contact (0: never)"
    )
    bound_store_keeps_online: bool = Field(
        description="Online orders of a bound customer credit their store/guide when no "
        "touch in the window does"
    )


class RulesIn(BaseModel):
    """Any subset of the rules; the others keep their value."""

    model_config = ConfigDict(extra="forbid")

    window_days: StrictInt | None = Field(None, ge=1, le=365)
    precedence: Literal["last_touch", "first_touch", "binding"] | None = None
    bind_on_first_touch: bool | None = None
    takeover_after_days: StrictInt | None = Field(None, ge=0, le=3650)
    bound_store_keeps_online: bool | None = None

    def values(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class Ref(BaseModel):
    id: str
    name: str


class CreditOut(BaseModel):
    id: str
    order: Ref | None = Field(description="id: order public id, name: order number")
    customer: Ref | None
    role: Literal["store", "guide", "sharer", "upstream_sharer", "placement"]
    store: Ref | None
    guide: Ref | None
    sharer: Ref | None
    placement: str
    amount_fen: int
    rule: str
    at: datetime


class RoleTotalsOut(BaseModel):
    role: str
    credits: int
    orders: int
    amount_fen: int


class LedgerOut(BaseModel):
    items: list[CreditOut]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page")
    totals: list[RoleTotalsOut] = Field(description="Per role, over the whole filter")


class MoveOut(BaseModel):
    at: str
    from_store: Ref | None
    from_guide: Ref | None
    to_store: Ref | None
    to_guide: Ref | None
    source: str


class BindingOut(BaseModel):
    store: Ref | None
    guide: Ref | None
    source: str
    bound_at: datetime
    last_contact_at: datetime
    history: list[MoveOut]


class TouchOut(BaseModel):
    kind: str
    at: datetime
    store: Ref | None
    guide: Ref | None
    sharer: Ref | None
    placement: str


class CustomerAttributionOut(BaseModel):
    customer: Ref
    binding: BindingOut | None
    touches: list[TouchOut] = Field(description="The latest 50, newest first")


class BindingIn(BaseModel):
    """Move a customer's binding (staff decision, regardless of the take-over rules)."""

    model_config = ConfigDict(extra="forbid")

    store: str | None = Field(None, max_length=48, pattern=PUBLIC_ID, description="store id")
    guide: str | None = Field(None, max_length=48, pattern=PUBLIC_ID, description="staff id")
