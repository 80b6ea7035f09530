"""Catalog tables: categories, products (SPU), SKUs, images, channel prices.

Prices are integer fen. A SKU's ``price`` is its base price, paid wherever no channel says
otherwise; ``ChannelPrice`` rows override it for one channel: ``online`` (the online mall),
``wechat`` (the exclusive "微信价") or one store (keyed ``store:<store id>``).
``member_price`` is the price for members, per SKU or per channel. How these combine into
the price a buyer pays is :func:`loopmall.catalog.pricing.resolve_price`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from loopmall.core.db import Base, BigId, IdMixin, UtcDateTime
from loopmall.core.tenancy import TenantMixin


class Category(TenantMixin, IdMixin, Base):
    __tablename__ = "categories"

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    parent_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("categories.id", ondelete="SET NULL"), nullable=True
    )
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Product(TenantMixin, IdMixin, Base):
    """A product (SPU); what is sold is one of its SKUs."""

    __tablename__ = "products"

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    subtitle: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("categories.id", ondelete="SET NULL"), nullable=True, index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft|active|archived
    # all | online_only | store_only (S3: different items online and offline)
    sales_scope: Mapped[str] = mapped_column(String(16), default="all")
    # The tags in the merchant's order, for display; ``ProductTag`` indexes them for filters.
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    option_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ProductTag(TenantMixin, IdMixin, Base):
    """One tag of one product: the index behind "products tagged X" on both backends.

    Written together with ``Product.tags`` by the catalog service, in the same transaction.
    """

    __tablename__ = "product_tags"
    __table_args__ = (
        UniqueConstraint("product_id", "tag"),
        Index("ix_product_tags_merchant_tag", "merchant_id", "tag"),
    )

    product_id: Mapped[int] = mapped_column(BigId, ForeignKey("products.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(20))


class ProductImage(TenantMixin, IdMixin, Base):
    __tablename__ = "product_images"

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    product_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Sku(TenantMixin, IdMixin, Base):
    """A variant of a product by option values, e.g. {"颜色": "黑", "尺码": "M"}."""

    __tablename__ = "skus"
    __table_args__ = (
        UniqueConstraint("merchant_id", "code"),
        # Two SKUs of one product never share their option values (see ``options_key``).
        UniqueConstraint("product_id", "options_key"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("member_price IS NULL OR member_price >= 0", name="member_price_ok"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    product_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(60))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The option values in the product's option-name order, as canonical JSON: what the
    # database compares to keep one SKU per combination.
    options_key: Mapped[str] = mapped_column(String(255))
    barcode: Mapped[str] = mapped_column(String(40), default="")
    price: Mapped[int] = mapped_column(Integer)
    member_price: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|inactive
    sales_scope: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ChannelPrice(TenantMixin, IdMixin, Base):
    """A SKU's price in one channel: ``online``, ``wechat`` or ``store:<store id>``."""

    __tablename__ = "channel_prices"
    __table_args__ = (
        UniqueConstraint("sku_id", "channel_key"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("member_price IS NULL OR member_price >= 0", name="member_price_ok"),
    )

    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("skus.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # online|wechat|store
    store_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("stores.id", ondelete="CASCADE"), nullable=True, index=True
    )
    channel_key: Mapped[str] = mapped_column(String(40))
    price: Mapped[int] = mapped_column(Integer)
    member_price: Mapped[int | None] = mapped_column(Integer, nullable=True)
