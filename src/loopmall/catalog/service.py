"""Products (SPU) and their SKUs: create, change, deactivate, read, list.

Every change to one product's SKUs first locks the product row (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite writers are already serialized by ``BEGIN IMMEDIATE``), so the checks
below — options against option names, one SKU per combination — see a stable product. The
database keeps the last word: SKU codes are unique per merchant and option combinations
unique per product (constraints), and a violation that slips past a check still becomes a
422, never a 500.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog import repository
from loopmall.catalog.errors import (
    DuplicateSkuCode,
    DuplicateSkuOptions,
    NoActiveSku,
    OptionNamesFixed,
    OptionsMismatch,
    SkuCodeRepeated,
)
from loopmall.catalog.events import (
    ProductCreated,
    ProductEdited,
    ProductEvent,
    ProductPublished,
    ProductUnpublished,
    SkuPricesChanged,
)
from loopmall.catalog.models import Product, ProductTag, Sku
from loopmall.catalog.repository import ProductDetail, ProductSummary, SkuDetail
from loopmall.catalog.schemas import (
    ProductFilter,
    ProductIn,
    ProductPatch,
    ProductStatus,
    SkuIn,
    SkuPatch,
    SkuStatus,
)
from loopmall.core import clock
from loopmall.core.errors import ValidationFailed
from loopmall.core.events import Event
from loopmall.core.ids import new_public_id
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant

__all__ = [
    "add_sku",
    "create_product",
    "deactivate_sku",
    "get_product",
    "get_sku",
    "list_products",
    "update_product",
    "update_sku",
]


def options_key(option_names: Sequence[str], options: Mapping[str, str]) -> str:
    """The option values in option-name order, as the canonical JSON the database compares."""
    values = [options[name] for name in option_names]
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def _ordered_options(
    option_names: Sequence[str], options: Mapping[str, str], field: str
) -> dict[str, str]:
    if set(options) != set(option_names) or len(options) != len(option_names):
        raise OptionsMismatch(
            f"Options must be exactly {', '.join(option_names) or '(none)'}; "
            f"got {', '.join(options) or '(none)'}",
            field=field,
            option_names=list(option_names),
        )
    return {name: options[name] for name in option_names}


def _auto_code(product_public_id: str, n: int) -> str:
    # The product's random id makes the code unique without asking the database.
    return f"P{product_public_id.split('_', 1)[1][:10].upper()}-{n:02d}"


async def _codes_taken(session: AsyncSession, tenant: Tenant, codes: Iterable[str]) -> set[str]:
    wanted = set(codes)
    if not wanted:
        return set()
    stmt = select(Sku.code).where(Sku.merchant_id == tenant.id, Sku.code.in_(wanted))
    return set((await session.scalars(stmt)).all())


async def _flush_skus(session: AsyncSession) -> None:
    """Flush, turning a unique-constraint race on SKUs into the same 422 the checks give."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if "options_key" in str(exc.orig):
            raise DuplicateSkuOptions("Another SKU of this product has these options") from None
        raise DuplicateSkuCode("This SKU code is already used by another SKU") from None


async def _category_id(session: AsyncSession, tenant: Tenant, public_id: str | None) -> int | None:
    if public_id is None:
        return None
    return (await repository.category_by_public_id(session, tenant, public_id)).id


async def _set_tags(
    session: AsyncSession, tenant: Tenant, product: Product, tags: list[str]
) -> None:
    await session.execute(delete(ProductTag).where(ProductTag.product_id == product.id))
    product.tags = list(tags)
    session.add_all(ProductTag(merchant_id=tenant.id, product_id=product.id, tag=t) for t in tags)


def _new_sku(
    tenant: Tenant, product: Product, data: SkuIn, options: dict[str, str], code: str
) -> Sku:
    now = clock.now()
    return Sku(
        merchant_id=tenant.id,
        public_id=new_public_id("sku"),
        product_id=product.id,
        code=code,
        options=options,
        options_key=options_key(product.option_names, options),
        barcode=data.barcode,
        price=data.price,
        member_price=data.member_price,
        status="active",
        sales_scope=data.sales_scope.value if data.sales_scope else None,
        created_at=now,
        updated_at=now,
    )


async def create_product(session: AsyncSession, tenant: Tenant, data: ProductIn) -> ProductDetail:
    """Create a product with its SKUs (all active) in the caller's transaction.

    Each SKU's ``options`` must name exactly ``data.option_names``
    (:class:`OptionsMismatch`), no two SKUs may share their option values
    (:class:`DuplicateSkuOptions`), and SKU codes must be unused in the merchant
    (:class:`DuplicateSkuCode`); omitted codes are generated. An unknown category is
    NotFound. Every error carries ``field`` (e.g. ``skus.2.code``) and nothing is written.
    """
    category_id = await _category_id(session, tenant, data.category)
    option_names = list(data.option_names)
    ordered: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for i, sku in enumerate(data.skus):
        options = _ordered_options(option_names, sku.options, f"skus.{i}.options")
        key = options_key(option_names, options)
        if key in seen:
            raise DuplicateSkuOptions(
                f"SKUs {seen[key] + 1} and {i + 1} have the same options",
                field=f"skus.{i}.options",
                first=seen[key] + 1,
                second=i + 1,
            )
        seen[key] = i
        ordered.append(options)
    given = [s.code for s in data.skus if s.code]
    repeated = sorted({c for c in given if given.count(c) > 1})
    if repeated:
        index = [i for i, s in enumerate(data.skus) if s.code == repeated[0]][1]
        raise SkuCodeRepeated(
            f"SKU code {repeated[0]} is used twice",
            field=f"skus.{index}.code",
            sku_code=repeated[0],
        )
    taken = await _codes_taken(session, tenant, given)
    if taken:
        index = next(i for i, s in enumerate(data.skus) if s.code in taken)
        code = data.skus[index].code
        raise DuplicateSkuCode(
            f"SKU code {code} is already used", field=f"skus.{index}.code", sku_code=code
        )

    now = clock.now()
    product = Product(
        merchant_id=tenant.id,
        public_id=new_public_id("prd"),
        title=data.title,
        subtitle=data.subtitle,
        description=data.description,
        category_id=category_id,
        status=data.status.value,
        sales_scope=data.sales_scope.value,
        tags=[],
        option_names=option_names,
        created_at=now,
        updated_at=now,
    )
    session.add(product)
    await session.flush()
    await _set_tags(session, tenant, product, data.tags)
    skus = [
        _new_sku(tenant, product, sku, ordered[i], sku.code or _auto_code(product.public_id, i + 1))
        for i, sku in enumerate(data.skus)
    ]
    session.add_all(skus)
    await _flush_skus(session)
    await publish(
        session,
        ProductCreated(
            merchant_id=tenant.id,
            product_id=product.id,
            product=product.public_id,
            status=product.status,
        ),
    )
    return await repository.load_product(session, tenant, product.public_id)


async def get_product(session: AsyncSession, tenant: Tenant, public_id: str) -> ProductDetail:
    """The product with category, SKUs, channel prices and images (4 queries); NotFound
    for an unknown id or another merchant's."""
    return await repository.load_product(session, tenant, public_id)


async def list_products(
    session: AsyncSession,
    tenant: Tenant,
    filters: ProductFilter | None = None,
    *,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[ProductSummary], str | None]:
    """A page of products (see :func:`repository.list_products`) and the next cursor."""
    return await repository.list_products(
        session, tenant, filters or ProductFilter(), cursor=cursor, limit=limit
    )


async def _product_skus(session: AsyncSession, tenant: Tenant, product: Product) -> list[Sku]:
    stmt = select(Sku).where(Sku.merchant_id == tenant.id, Sku.product_id == product.id)
    return list((await session.scalars(stmt.order_by(Sku.id))).all())


async def update_product(
    session: AsyncSession, tenant: Tenant, public_id: str, patch: ProductPatch
) -> ProductDetail:
    """Change the fields sent in ``patch``.

    ``option_names`` renames options in place (position by position, SKUs follow); changing
    how many there are raises :class:`OptionNamesFixed`. Making a product ``active``
    needs an active SKU (:class:`NoActiveSku`). NotFound for unknown ids.
    """
    product = await repository.product_by_public_id(session, tenant, public_id, for_update=True)
    sent = patch.model_fields_set
    was = product.status
    for name in ("title", "subtitle", "description"):
        value = getattr(patch, name)
        if value is not None:
            setattr(product, name, value)
    if "category" in sent:
        product.category_id = await _category_id(session, tenant, patch.category)
    if patch.sales_scope is not None:
        product.sales_scope = patch.sales_scope.value
    if patch.tags is not None:
        await _set_tags(session, tenant, product, patch.tags)
    skus: list[Sku] | None = None
    if patch.option_names is not None and patch.option_names != product.option_names:
        skus = await _product_skus(session, tenant, product)
        old = list(product.option_names)
        if len(patch.option_names) != len(old):
            raise OptionNamesFixed(
                f"This product has {len(old)} option(s); rename them, or create a new product",
                field="option_names",
                option_count=len(old),
            )
        renames = dict(zip(old, patch.option_names, strict=True))
        for sku in skus:
            sku.options = {renames[k]: v for k, v in sku.options.items()}
        product.option_names = list(patch.option_names)
    if patch.status is not None:
        if patch.status is ProductStatus.ACTIVE and product.status != "active":
            skus = skus if skus is not None else await _product_skus(session, tenant, product)
            if not any(s.status == "active" for s in skus):
                raise NoActiveSku("Activate a SKU before putting the product on sale")
        product.status = patch.status.value
    product.updated_at = clock.now()
    await session.flush()
    await _announce_product(session, tenant, product, was, edited=bool(sent - {"status"}))
    return await repository.load_product(session, tenant, public_id)


async def _announce_product(
    session: AsyncSession, tenant: Tenant, product: Product, was: str, *, edited: bool
) -> None:
    """Publish what changed of ``product`` (whose status was ``was``) for the shoppers."""
    ids = {"merchant_id": tenant.id, "product_id": product.id, "product": product.public_id}
    events: list[ProductEvent] = []
    if edited:
        events.append(ProductEdited(**ids))
    if product.status != was and product.status == "active":
        events.append(ProductPublished(**ids))
    elif product.status != was and was == "active":
        events.append(ProductUnpublished(**ids, status=product.status))
    await publish(session, *events)


async def add_sku(
    session: AsyncSession, tenant: Tenant, product_public_id: str, data: SkuIn
) -> SkuDetail:
    """Add an active SKU to a product. Same rules as :func:`create_product`: options must
    match the option names, must not repeat another SKU's (inactive ones included:
    reactivate those), and the code must be unused."""
    product = await repository.product_by_public_id(
        session, tenant, product_public_id, for_update=True
    )
    options = _ordered_options(product.option_names, data.options, "options")
    key = options_key(product.option_names, options)
    existing = await _product_skus(session, tenant, product)
    if any(s.options_key == key for s in existing):
        raise DuplicateSkuOptions("Another SKU of this product has these options", field="options")
    if data.code:
        if await _codes_taken(session, tenant, [data.code]):
            raise DuplicateSkuCode(
                f"SKU code {data.code} is already used", field="code", sku_code=data.code
            )
        code = data.code
    else:
        codes = {s.code for s in existing}
        n = len(existing) + 1
        while _auto_code(product.public_id, n) in codes:
            n += 1
        code = _auto_code(product.public_id, n)
    sku = _new_sku(tenant, product, data, options, code)
    session.add(sku)
    product.updated_at = clock.now()
    await _flush_skus(session)
    await publish(
        session,
        ProductEdited(merchant_id=tenant.id, product_id=product.id, product=product.public_id),
    )
    return await repository.load_sku(session, tenant, sku.public_id)


async def get_sku(session: AsyncSession, tenant: Tenant, public_id: str) -> SkuDetail:
    """A SKU with its channel prices; NotFound for unknown ids or another merchant's."""
    return await repository.load_sku(session, tenant, public_id)


async def update_sku(
    session: AsyncSession, tenant: Tenant, public_id: str, patch: SkuPatch
) -> SkuDetail:
    """Change the fields sent in ``patch`` (``member_price``/``sales_scope`` null clears).

    Raises :class:`OptionsMismatch`, :class:`DuplicateSkuOptions`, :class:`DuplicateSkuCode`
    as :func:`add_sku` does, ``ValidationFailed`` when the member price would end up above
    the price, and :class:`NoActiveSku` when deactivating an active product's last SKU.
    """
    sku, product = await repository.sku_with_product(session, tenant, public_id, for_update=True)
    sent = patch.model_fields_set
    if patch.options is not None:
        await _change_options(session, tenant, sku, product, patch.options)
    if patch.code is not None and patch.code != sku.code:
        await _change_code(session, tenant, sku, patch.code)
    if patch.barcode is not None:
        sku.barcode = patch.barcode
    if patch.price is not None:
        sku.price = patch.price
    if "member_price" in sent:
        sku.member_price = patch.member_price
    if sku.member_price is not None and sku.member_price > sku.price:
        raise ValidationFailed("The member price must not be above the price", field="member_price")
    if "sales_scope" in sent:
        sku.sales_scope = patch.sales_scope.value if patch.sales_scope else None
    if patch.status is not None and patch.status.value != sku.status:
        await _change_status(session, tenant, sku, product, patch.status.value)
    sku.updated_at = product.updated_at = clock.now()
    await _flush_skus(session)
    await _announce_sku(session, tenant, sku, product, sent)
    return await repository.load_sku(session, tenant, public_id)


async def _announce_sku(
    session: AsyncSession, tenant: Tenant, sku: Sku, product: Product, sent: set[str]
) -> None:
    """Publish what changed of ``sku`` (the fields ``sent``) for the shoppers."""
    events: list[Event] = []
    if sent & {"price", "member_price"}:
        events.append(prices_changed(tenant, sku, product.public_id))
    if sent - {"price", "member_price"}:
        events.append(
            ProductEdited(merchant_id=tenant.id, product_id=product.id, product=product.public_id)
        )
    await publish(session, *events)


def prices_changed(tenant: Tenant, sku: Sku, product_public_id: str) -> SkuPricesChanged:
    return SkuPricesChanged(
        merchant_id=tenant.id, sku_id=sku.id, sku=sku.public_id, product=product_public_id
    )


async def _change_options(
    session: AsyncSession, tenant: Tenant, sku: Sku, product: Product, given: Mapping[str, str]
) -> None:
    """New options for the SKU, unless another SKU of the product has them."""
    options = _ordered_options(product.option_names, given, "options")
    key = options_key(product.option_names, options)
    if key != sku.options_key:
        others = await _product_skus(session, tenant, product)
        if any(s.options_key == key and s.id != sku.id for s in others):
            raise DuplicateSkuOptions(
                "Another SKU of this product has these options", field="options"
            )
    sku.options, sku.options_key = options, key


async def _change_code(session: AsyncSession, tenant: Tenant, sku: Sku, code: str) -> None:
    """A new code for the SKU, unless another SKU of the merchant has it."""
    if await _codes_taken(session, tenant, [code]):
        raise DuplicateSkuCode(f"SKU code {code} is already used", field="code", sku_code=code)
    sku.code = code


async def _change_status(
    session: AsyncSession, tenant: Tenant, sku: Sku, product: Product, status: str
) -> None:
    """On or off sale; an active product keeps at least one SKU on sale."""
    if status == "inactive" and product.status == "active":
        others = await _product_skus(session, tenant, product)
        if not any(s.status == "active" and s.id != sku.id for s in others):
            raise NoActiveSku(
                "This is the product's last SKU on sale; take the product off sale first",
                field="status",
            )
    sku.status = status


async def deactivate_sku(session: AsyncSession, tenant: Tenant, public_id: str) -> SkuDetail:
    """Take one SKU off sale (it stays, with its history); see :func:`update_sku`."""
    return await update_sku(session, tenant, public_id, SkuPatch(status=SkuStatus.INACTIVE))
