"""Request and response models of the social API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, Field

from loopmall.social.models import TARGET_KINDS

REF = r"^[A-Za-z0-9_-]*$"
SHARE_TOKEN = r"^[A-Za-z0-9_.-]*$"  # noqa: S105 - a pattern, not a secret

TargetKind = Literal["product", "home", "store", "coupon", "article", "event"]
assert set(get_args(TargetKind)) == set(TARGET_KINDS)


class ShareIn(BaseModel):
    target_kind: TargetKind = Field(description="What is shared (coupon, article, event: later)")
    target: str = Field(
        "", max_length=64, pattern=REF, description="The product's or store's public id"
    )
    via: str | None = Field(
        None,
        max_length=80,
        pattern=SHARE_TOKEN,
        description="The share token the shopper arrived by (else the share cookie)",
    )


class ShareOut(BaseModel):
    id: str
    token: str
    url: str = Field(description="The link to send: the landing page with the signed token")
    poster_url: str
    target_kind: str
    target: str
    title: str
    parent: str | None = Field(None, description="The share this one grew from")
    depth: int
    visits: int
    created_at: datetime


class WechatShareConfig(BaseModel):
    appId: str
    timestamp: int
    nonceStr: str
    signature: str
    jsApiList: list[str]


class ShareNodeOut(BaseModel):
    id: str
    sharer: str = Field(description="The sharer's customer public id")
    sharer_name: str
    target_kind: str
    target: str
    title: str
    depth: int
    created_at: datetime
    visits: int
    visitors: int
    orders: int
    gmv_fen: int
    children: list[ShareNodeOut]


class ShareChainOut(ShareNodeOut):
    chain_size: int
    chain_visits: int
    chain_orders: int
    chain_gmv_fen: int
