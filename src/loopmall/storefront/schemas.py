"""What the mall's catalog API answers (``storefront.api_mall``): the same data as the mall
pages, read by the same functions. Money is integer fen (``*_fen``)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field

from loopmall.catalog.categories import CategoryBranch
from loopmall.catalog.shelf import ShelfCard, ShelfProduct
from loopmall.storefront.reads import PickerStock


class MallCategoryOut(BaseModel):
    id: str
    name: str
    children: list[MallCategoryOut]


class MallCategoryRef(BaseModel):
    id: str
    name: str


class ProductCardOut(BaseModel):
    id: str
    title: str
    thumbnail: str | None = Field(description="the first image's address, or none")
    price_min_fen: int = Field(description="the lowest online price of its SKUs")
    price_max_fen: int
    wechat_min_fen: int | None = Field(description="the lowest WeChat price (微信价), if any")


class MallSkuOut(BaseModel):
    id: str
    options: dict[str, str] = Field(description='e.g. {"颜色": "黑", "尺码": "M"}')
    price_fen: int = Field(description="the online price; a member's when `member_prices`")
    wechat_price_fen: int | None = Field(description="the WeChat price, when lower")
    online: int = Field(description="units free to ship")
    in_stores: int = Field(description="units free in the merchant's stores (pickup)")


class MallProductOut(BaseModel):
    id: str
    title: str
    subtitle: str
    description: str
    category: MallCategoryRef | None
    option_names: list[str]
    tags: list[str]
    images: list[str]
    member_prices: bool = Field(description="the caller is a member and some price is theirs")
    skus: list[MallSkuOut]


def category_out(branch: CategoryBranch) -> MallCategoryOut:
    return MallCategoryOut(
        id=branch["id"], name=branch["name"], children=[category_out(c) for c in branch["children"]]
    )


def card_out(card: ShelfCard) -> ProductCardOut:
    return ProductCardOut(
        id=card["public_id"],
        title=card["title"],
        thumbnail=card["thumbnail"],
        price_min_fen=card["price_min"],
        price_max_fen=card["price_max"],
        wechat_min_fen=card["wechat_min"],
    )


def product_out(
    item: ShelfProduct, stock: Mapping[str, PickerStock], member: bool
) -> MallProductOut:
    category = None
    if item.category_public_id is not None and item.category_name is not None:
        category = MallCategoryRef(id=item.category_public_id, name=item.category_name)
    return MallProductOut(
        id=item.public_id,
        title=item.title,
        subtitle=item.subtitle,
        description=item.description,
        category=category,
        option_names=item.option_names,
        tags=item.tags,
        images=item.images,
        member_prices=member,
        skus=[
            MallSkuOut(
                id=s.public_id,
                options=s.options,
                price_fen=s.price,
                wechat_price_fen=s.wechat_price,
                online=stock[str(s.id)]["online"],
                in_stores=stock[str(s.id)]["in_stores"],
            )
            for s in item.skus
        ],
    )
