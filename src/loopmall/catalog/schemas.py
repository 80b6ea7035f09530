"""Request models of the catalog: what a product, SKU, category or price may look like.

Money is integer fen and strictly so: ``12.5``, ``"12"``, ``true`` and negatives are
refused (422) before anything is written (``core.numbers``). Text is stripped and follows
``core.text``'s rule (422 ``invalid_text``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from loopmall.catalog.pricing import Channel, SalesScope
from loopmall.core.numbers import MAX_FEN as MAX_FEN
from loopmall.core.numbers import FenAmount
from loopmall.core.text import MULTI_LINE_RULE, SINGLE_LINE_RULE

MAX_OPTIONS = 3
MAX_SKUS = 200
MAX_TAGS = 20

PUBLIC_ID_PATTERN = r"^[a-z]{2,4}_[0-9a-z]{16}$"
SKU_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]*$"


Fen = FenAmount
PublicId = Annotated[str, Field(pattern=PUBLIC_ID_PATTERN, max_length=40)]
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    SINGLE_LINE_RULE,
]
Subtitle = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=0, max_length=200),
    SINGLE_LINE_RULE,
]
Description = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=20_000), MULTI_LINE_RULE
]
CategoryName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=60),
    SINGLE_LINE_RULE,
]
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=20),
    SINGLE_LINE_RULE,
]
OptionName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=20),
    SINGLE_LINE_RULE,
]
OptionValue = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=30),
    SINGLE_LINE_RULE,
]
SkuCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=60, pattern=SKU_CODE_PATTERN),
]
Barcode = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=40, pattern=r"^[0-9A-Za-z-]*$")
]
SortOrder = Annotated[int, Field(strict=True, ge=-1_000_000, le=1_000_000)]


class ProductStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


class SkuStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Fields a PATCH may leave out but may not set to null.
    not_null: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Self:
        for name in self.not_null:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


def _unique(values: list[str], what: str) -> None:
    if len(set(values)) != len(values):
        raise ValueError(f"{what} must not repeat")


def _member_within(price: int | None, member_price: int | None) -> None:
    if price is not None and member_price is not None and member_price > price:
        raise ValueError("member_price must not be above price")


# ---------------------------------------------------------------------------- categories


class CategoryIn(_Input):
    name: CategoryName
    parent: PublicId | None = Field(None, description="Public id of the parent category")
    sort_order: SortOrder = 0


class CategoryPatch(_Input):
    not_null = ("name", "sort_order")

    name: CategoryName | None = None
    parent: PublicId | None = Field(None, description="Move under this category; null: top")
    sort_order: SortOrder | None = None


# ---------------------------------------------------------------------------- SKUs


class SkuIn(_Input):
    """One SKU: its option values (keyed by the product's option names) and its prices."""

    options: dict[OptionName, OptionValue] = Field(
        default_factory=dict,
        max_length=MAX_OPTIONS,
        description='e.g. {"颜色": "黑", "尺码": "M"}; keys must equal the option names',
    )
    code: SkuCode | None = Field(None, description="Unique per merchant; generated if omitted")
    barcode: Barcode = ""
    price: Fen
    member_price: Fen | None = None
    sales_scope: SalesScope | None = Field(
        None, description="Overrides the product's sales scope for this SKU"
    )

    @model_validator(mode="after")
    def _prices(self) -> Self:
        _member_within(self.price, self.member_price)
        return self


class SkuPatch(_Input):
    not_null = ("options", "code", "barcode", "price", "status")

    options: dict[OptionName, OptionValue] | None = Field(None, max_length=MAX_OPTIONS)
    code: SkuCode | None = None
    barcode: Barcode | None = None
    price: Fen | None = None
    member_price: Fen | None = Field(None, description="null removes the member price")
    sales_scope: SalesScope | None = Field(None, description="null: follow the product")
    status: SkuStatus | None = None

    @model_validator(mode="after")
    def _prices(self) -> Self:
        _member_within(self.price, self.member_price)
        return self


# ---------------------------------------------------------------------------- products


class ProductIn(_Input):
    """A new product (SPU) with its SKUs."""

    title: Title
    subtitle: Subtitle = ""
    description: Description = ""
    category: PublicId | None = Field(None, description="Public id of a category")
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    status: ProductStatus = ProductStatus.DRAFT
    sales_scope: SalesScope = SalesScope.ALL
    option_names: list[OptionName] = Field(
        default_factory=list, max_length=MAX_OPTIONS, description='e.g. ["颜色", "尺码"]'
    )
    skus: list[SkuIn] = Field(..., min_length=1, max_length=MAX_SKUS)

    @model_validator(mode="after")
    def _shape(self) -> Self:
        _unique(self.option_names, "option_names")
        self.tags = list(dict.fromkeys(self.tags))
        return self


class ProductPatch(_Input):
    not_null = (
        "title",
        "subtitle",
        "description",
        "tags",
        "status",
        "sales_scope",
        "option_names",
    )

    title: Title | None = None
    subtitle: Subtitle | None = None
    description: Description | None = None
    category: PublicId | None = Field(None, description="null removes the category")
    tags: list[Tag] | None = Field(None, max_length=MAX_TAGS)
    status: ProductStatus | None = None
    sales_scope: SalesScope | None = None
    option_names: list[OptionName] | None = Field(
        None,
        max_length=MAX_OPTIONS,
        description="Renames the options in place; the count is fixed once SKUs exist",
    )

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.option_names is not None:
            _unique(self.option_names, "option_names")
        if self.tags is not None:
            self.tags = list(dict.fromkeys(self.tags))
        return self


class ProductFilter(BaseModel):
    q: str | None = None
    category: str | None = None
    status: ProductStatus | None = None
    tag: str | None = None


# ---------------------------------------------------------------------------- prices


class ChannelPriceIn(_Input):
    """A SKU's price in one channel; ``store`` is required exactly for the store channel."""

    channel: Channel
    store: PublicId | None = Field(None, description="Public id of the store (channel=store)")
    price: Fen
    member_price: Fen | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if (self.channel is Channel.STORE) != (self.store is not None):
            raise ValueError("store is required for the store channel and only for it")
        _member_within(self.price, self.member_price)
        return self


class ImageOrderIn(_Input):
    images: list[PublicId] = Field(..., max_length=100, description="Every image id, in order")


# ---------------------------------------------------------------------------- answers


class CategoryOut(BaseModel):
    id: str
    name: str
    parent: str | None
    sort_order: int


class CategoryNodeOut(CategoryOut):
    children: list[CategoryNodeOut]


class CategoryRef(BaseModel):
    id: str
    name: str


class ChannelPriceOut(BaseModel):
    channel: Channel
    store: str | None = Field(None, description="Public id of the store (channel=store)")
    store_name: str | None = None
    price: int
    member_price: int | None


class SkuOut(BaseModel):
    id: str
    product: str
    code: str
    options: dict[str, str]
    barcode: str
    price: int = Field(..., description="Base price in fen, where no channel price applies")
    member_price: int | None
    status: SkuStatus
    sales_scope: SalesScope | None = Field(..., description="The SKU's own override, if any")
    effective_sales_scope: SalesScope
    prices: list[ChannelPriceOut]


class ImageOut(BaseModel):
    id: str
    url: str
    content_type: str
    width: int
    height: int
    size_bytes: int
    sort_order: int


class ProductOut(BaseModel):
    id: str
    title: str
    subtitle: str
    description: str
    category: CategoryRef | None
    tags: list[str]
    status: ProductStatus
    sales_scope: SalesScope
    option_names: list[str]
    skus: list[SkuOut]
    images: list[ImageOut]
    created_at: datetime
    updated_at: datetime


class ProductSummaryOut(BaseModel):
    id: str
    title: str
    status: ProductStatus
    sales_scope: SalesScope
    category: CategoryRef | None
    tags: list[str]
    sku_count: int = Field(..., description="Active SKUs")
    price_min: int | None = Field(..., description="Lowest base price of the active SKUs")
    price_max: int | None
    thumbnail: str | None
    updated_at: datetime


class QuoteOut(BaseModel):
    sku: str
    channel: Channel
    store: str | None
    member: bool
    amount: int = Field(..., description="What to charge for one unit, in fen")
    list_price: int = Field(..., description="The channel's non-member price, in fen")
    rule: str = Field(..., description="The price level applied, e.g. store, wechat, member")
