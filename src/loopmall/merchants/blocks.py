"""The blocks a micro-mall's home page is made of (S0: not one template for all).

A home page is an ordered list of typed blocks. Each type has its own fields; the ``type``
field tells them apart (a Pydantic discriminated union), so an unknown type or a field that
does not belong to the type is refused instead of stored. The storefront renders them in
order; the console's block editor edits them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from loopmall.core.text import multi_line, single_line

MAX_BLOCKS = 30
BLOCK_TYPES = ("banner", "product_grid", "coupon_strip", "article", "store_locator")

# A link or image on a merchant's page: a path on this site or an http(s) address. Nothing
# else (no ``javascript:``, no ``data:``), since the storefront puts it in href/src.
_URL = re.compile(r"^(https?://[^\s<>\"']+|/(?!/)[^\s<>\"']*)$")
PUBLIC_ID_PATTERN = r"^[a-z]{2,5}_[0-9a-z]{16}$"


def _clean_text(value: str) -> str:
    return single_line(value.strip())


def _clean_url(value: str) -> str:
    value = single_line(value.strip())
    if value and not _URL.match(value):
        raise ValueError("must be an http(s) address or a path starting with /")
    return value


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(..., min_length=1, max_length=60)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        value = _clean_text(value)
        if not value:
            raise ValueError("must not be empty")
        return value


class BannerBlock(_Block):
    """A wide picture with a title, leading somewhere (a product, an article, a page)."""

    type: Literal["banner"] = "banner"
    image_url: str = Field("", max_length=500, description="http(s) address or /uploads/… path")
    link: str = Field("", max_length=500, description="http(s) address or a path on this site")

    @field_validator("image_url", "link")
    @classmethod
    def _urls(cls, value: str) -> str:
        return _clean_url(value)


class ProductGridBlock(_Block):
    """A grid of products, all of them or one category's, newest first."""

    type: Literal["product_grid"] = "product_grid"
    category_id: str | None = Field(None, pattern=PUBLIC_ID_PATTERN, description="Category id")
    limit: int = Field(8, ge=1, le=40, strict=True, description="How many products, 1–40")


class CouponStripBlock(_Block):
    """A strip of the coupons a visitor can claim now."""

    type: Literal["coupon_strip"] = "coupon_strip"


class ArticleBlock(_Block):
    """A piece of text: the merchant's story, a recipe, this week's news."""

    type: Literal["article"] = "article"
    body: str = Field("", max_length=5000)

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        # Line breaks and tabs are the article's own (core.text's multi-line rule).
        return multi_line(value).strip()


class StoreLocatorBlock(_Block):
    """The merchant's stores nearest the visitor, with opening hours and a map link."""

    type: Literal["store_locator"] = "store_locator"


Block = Annotated[
    BannerBlock | ProductGridBlock | CouponStripBlock | ArticleBlock | StoreLocatorBlock,
    Field(discriminator="type"),
]
BlockList = Annotated[list[Block], Field(max_length=MAX_BLOCKS)]

_adapter: TypeAdapter[list[Block]] = TypeAdapter(BlockList)


def parse_blocks(raw: Any) -> list[Block]:
    """Validate a list of block mappings (or models). Raises ``pydantic.ValidationError``."""
    return _adapter.validate_python(raw)


def dump_blocks(blocks: list[Block]) -> list[dict[str, Any]]:
    """The stored form: plain JSON mappings, ``type`` first."""
    return [block.model_dump(mode="json") for block in blocks]


def default_blocks(mall_name: str) -> list[dict[str, Any]]:
    """What a new mall's home page starts with, in Chinese as its visitors read it."""
    return dump_blocks(
        parse_blocks(
            [
                {"type": "banner", "title": mall_name[:60] or "欢迎光临"},
                {"type": "product_grid", "title": "全部商品", "limit": 12},
                {"type": "coupon_strip", "title": "领券中心"},
            ]
        )
    )
