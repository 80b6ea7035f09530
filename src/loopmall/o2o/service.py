"""QR channels: create, change, list with what they are for, and the contract other domains
use (``ensure_guide_code``, ``ensure_store_code``, ``codes_for_guide``, ``is_member``,
``after_login``).

A channel is printed as a QR code of ``{base_url}/q/{code}`` (see ``o2o.scans`` for what a
scan does). Store and guide codes are one per store / guide (``unique_key``); products in a
store, poster placements and join offers may have as many codes as the merchant prints.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TypedDict, Unpack

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution import service as attribution
from loopmall.catalog.models import Product, Sku
from loopmall.core import clock
from loopmall.core.errors import NotFound, TooLong, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.pagination import paginate_by_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.text import check_text
from loopmall.core.valueset import one_of
from loopmall.core.visitors import valid_visitor_id
from loopmall.merchants.models import Store
from loopmall.o2o import members
from loopmall.o2o.models import QrChannel, QrScan
from loopmall.o2o.rules import (
    ChannelExists,
    ChannelKind,
    ChannelNotFound,
    ChannelTargetInvalid,
    NotAGuide,
    check_targets,
    new_code,
)

# Re-exported: the contract names ChannelView here.
from loopmall.o2o.views import ChannelView as ChannelView
from loopmall.o2o.views import landing as landing
from loopmall.o2o.views import scan_url as scan_url
from loopmall.o2o.views import target_path as target_path
from loopmall.o2o.views import views as views
from loopmall.staff.models import Staff, StaffStore

GUIDE_ROLES = frozenset({"guide", "store_manager"})
is_member = members.is_member


async def _by_public_id(session: AsyncSession, tenant: Tenant, model: Any, public_id: str) -> Any:
    row = await session.scalar(scoped(model, tenant, model.public_id == public_id))
    if row is None:
        raise NotFound(f"No such {model.__tablename__.rstrip('s')}", id=public_id)
    return row


async def _guide(session: AsyncSession, tenant: Tenant, public_id: str) -> Staff:
    staff: Staff = await _by_public_id(session, tenant, Staff, public_id)
    if staff.role not in GUIDE_ROLES or not staff.active:
        raise NotAGuide(field="guide")
    return staff


async def _stores_of(session: AsyncSession, tenant: Tenant, staff_id: int) -> list[int]:
    rows = await session.scalars(
        select(StaffStore.store_id)
        .where(StaffStore.merchant_id == tenant.id, StaffStore.staff_id == staff_id)
        .order_by(StaffStore.id)
    )
    return list(rows.all())


def _text(value: str, field: str, max_length: int) -> str:
    value = check_text(value.strip(), field=field, multiline=True)
    if len(value) > max_length:
        raise TooLong(
            f"{field} must be up to {max_length} characters", field=field, most=max_length
        )
    return value


class ChannelFields(TypedDict, total=False):
    """What a new channel may carry besides its kind (every field optional; the kind's
    rules in ``o2o.rules.check_targets`` say which targets it needs)."""

    name: str
    store_public_id: str | None
    guide_public_id: str | None
    product_public_id: str | None
    sku_public_id: str | None
    place_name: str
    place_address: str
    poster_title: str
    poster_text: str
    coupon_title: str
    coupon_fen: int | None
    coupon_threshold_fen: int


@dataclass(frozen=True, slots=True)
class _NewChannel:
    """The fields of :class:`ChannelFields` with their defaults filled in."""

    name: str = ""
    store_public_id: str | None = None
    guide_public_id: str | None = None
    product_public_id: str | None = None
    sku_public_id: str | None = None
    place_name: str = ""
    place_address: str = ""
    poster_title: str = ""
    poster_text: str = ""
    coupon_title: str = ""
    coupon_fen: int | None = None
    coupon_threshold_fen: int = 0


@dataclass(frozen=True, slots=True)
class _Targets:
    """The merchant's rows a new channel points at (each may be absent)."""

    store: Store | None
    guide: Staff | None
    product: Product | None
    sku: Sku | None


async def create_channel(
    session: AsyncSession,
    tenant: Tenant,
    *,
    kind: ChannelKind | str,
    **fields: Unpack[ChannelFields],
) -> QrChannel:
    """Make a QR code of ``kind`` pointing at what it names (public ids of this merchant).

    Raises NotFound for an unknown (or another merchant's) store, guide, product or SKU;
    422 ``channel_target_invalid`` when the kind lacks or must not have a target (or a
    coupon), ``not_a_guide`` for staff who are not active guides, ``validation_failed`` for
    text that is too long; 409 ``channel_exists`` for a second store or guide code.
    """
    chosen = _chosen_kind(kind)
    given = _NewChannel(**fields)
    spec = replace(given, place_name=_text(given.place_name, "place_name", 100))
    _check_what_the_kind_needs(chosen, spec)
    targets = await _load_targets(session, tenant, spec)
    store_id = await _store_of_channel(session, tenant, targets)
    unique_key = _unique_key(chosen, targets)
    row = _new_row(tenant, chosen, spec, targets, store_id, unique_key)
    if unique_key is not None:
        await _refuse_a_second(session, tenant, unique_key)
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise ChannelExists() from None
    return row


def _chosen_kind(kind: ChannelKind | str) -> ChannelKind:
    try:
        return ChannelKind(kind)
    except ValueError:
        raise ValidationFailed("Unknown kind of QR code", field="kind") from None


def _check_what_the_kind_needs(chosen: ChannelKind, spec: _NewChannel) -> None:
    """The kind's targets (``check_targets``), then the coupon only a join code carries."""
    check_targets(
        chosen,
        store=bool(spec.store_public_id),
        guide=bool(spec.guide_public_id),
        product=bool(spec.product_public_id or spec.sku_public_id),
        place=bool(spec.place_name),
    )
    coupon_fen = spec.coupon_fen
    if chosen is not ChannelKind.JOIN and (coupon_fen is not None or spec.coupon_title.strip()):
        raise ChannelTargetInvalid("Only a join code carries a welcome coupon", field="coupon")
    if coupon_fen is not None and (coupon_fen <= 0 or spec.coupon_threshold_fen < 0):
        raise ValidationFailed("The coupon must be worth more than nothing", field="coupon_fen")


async def _load_targets(session: AsyncSession, tenant: Tenant, spec: _NewChannel) -> _Targets:
    """The store, guide, product and SKU named by public id: NotFound for another
    merchant's; a SKU brings its product, which must be the named product if both are."""
    store = (
        await _by_public_id(session, tenant, Store, spec.store_public_id)
        if spec.store_public_id
        else None
    )
    guide = await _guide(session, tenant, spec.guide_public_id) if spec.guide_public_id else None
    product: Product | None = None
    sku: Sku | None = None
    if spec.sku_public_id:
        sku = await _by_public_id(session, tenant, Sku, spec.sku_public_id)
        product = await session.get(Product, sku.product_id)
        named = spec.product_public_id
        if named and product is not None and product.public_id != named:
            raise ChannelTargetInvalid("The SKU is not one of this product's", field="sku")
    elif spec.product_public_id:
        product = await _by_public_id(session, tenant, Product, spec.product_public_id)
    return _Targets(store=store, guide=guide, product=product, sku=sku)


async def _store_of_channel(session: AsyncSession, tenant: Tenant, targets: _Targets) -> int | None:
    """The named store; for a guide's code without one, the first store the guide works in.
    A named store must be one of the guide's (when the guide has stores at all)."""
    store_id = targets.store.id if targets.store is not None else None
    if targets.guide is None:
        return store_id
    works_in = await _stores_of(session, tenant, targets.guide.id)
    if store_id is None:
        return works_in[0] if works_in else None
    if works_in and store_id not in works_in:
        raise ChannelTargetInvalid("The guide does not work in that store", field="store")
    return store_id


def _default_name(chosen: ChannelKind, targets: _Targets, place_name: str) -> str:
    """The name a channel gets when the merchant gives none: what it points at."""
    store, guide, product = targets.store, targets.guide, targets.product
    return {
        ChannelKind.STORE: store.name if store else "",
        ChannelKind.GUIDE: guide.name if guide else "",
        ChannelKind.PRODUCT: product.title if product else "",
        ChannelKind.PLACEMENT: place_name,
        ChannelKind.JOIN: "入会有礼",
    }[chosen]


def _unique_key(chosen: ChannelKind, targets: _Targets) -> str | None:
    """A store or a guide has one code each; other kinds may have as many as printed."""
    if chosen is ChannelKind.STORE and targets.store is not None:
        return f"store:{targets.store.id}"
    if chosen is ChannelKind.GUIDE and targets.guide is not None:
        return f"guide:{targets.guide.id}"
    return None


def _new_row(
    tenant: Tenant,
    chosen: ChannelKind,
    spec: _NewChannel,
    targets: _Targets,
    store_id: int | None,
    unique_key: str | None,
) -> QrChannel:
    """The channel's row, its texts checked (``validation_failed`` when too long)."""
    default_name = _default_name(chosen, targets, spec.place_name)
    now = clock.now()
    guide, product, sku = targets.guide, targets.product, targets.sku
    return QrChannel(
        merchant_id=tenant.id,
        public_id=new_public_id("qrc"),
        code=new_code(),
        kind=chosen.value,
        unique_key=unique_key,
        name=_text(spec.name, "name", 100) or default_name[:100],
        store_id=store_id,
        guide_staff_id=guide.id if guide else None,
        product_id=product.id if product else None,
        sku_id=sku.id if sku else None,
        place_name=spec.place_name,
        place_address=_text(spec.place_address, "place_address", 255),
        poster_title=_text(spec.poster_title, "poster_title", 60),
        poster_text=_text(spec.poster_text, "poster_text", 500),
        coupon_title=_text(spec.coupon_title, "coupon_title", 60),
        coupon_fen=spec.coupon_fen,
        coupon_threshold_fen=spec.coupon_threshold_fen,
        active=True,
        created_at=now,
        updated_at=now,
    )


async def _refuse_a_second(session: AsyncSession, tenant: Tenant, unique_key: str) -> None:
    """409 ``channel_exists`` (with the existing code's id) for a second store or guide code."""
    existing = await session.scalar(scoped(QrChannel, tenant, QrChannel.unique_key == unique_key))
    if existing is not None:
        raise ChannelExists(id=existing.public_id)


async def update_channel(
    session: AsyncSession, tenant: Tenant, public_id: str, patch: dict[str, Any]
) -> QrChannel:
    """Change a channel's name, poster words, place, coupon or ``active``. NotFound."""
    row = await get_channel(session, tenant, public_id)
    for field, limit in (
        ("name", 100),
        ("place_name", 100),
        ("place_address", 255),
        ("poster_title", 60),
        ("poster_text", 500),
        ("coupon_title", 60),
    ):
        if field in patch and patch[field] is not None:
            setattr(row, field, _text(patch[field], field, limit))
    if row.kind == ChannelKind.PLACEMENT and not row.place_name:
        raise ChannelTargetInvalid("A placement code needs place_name", field="place_name")
    if "active" in patch and patch["active"] is not None:
        row.active = bool(patch["active"])
    row.updated_at = clock.now()
    await session.flush()
    return row


async def get_channel(session: AsyncSession, tenant: Tenant, public_id: str) -> QrChannel:
    row: QrChannel | None = await session.scalar(
        scoped(QrChannel, tenant, QrChannel.public_id == public_id)
    )
    if row is None:
        raise ChannelNotFound(id=public_id)
    return row


async def channel_by_code(session: AsyncSession, code: str) -> QrChannel | None:
    """The channel behind a scanned code, of any merchant (codes are global)."""
    row: QrChannel | None = await session.scalar(select(QrChannel).where(QrChannel.code == code))
    return row


def _visible(stmt: Any, store_ids: frozenset[int] | None, guide_staff_id: int | None) -> Any:
    if guide_staff_id is not None:
        stmt = stmt.where(QrChannel.guide_staff_id == guide_staff_id)
    if store_ids is not None:
        stmt = stmt.where(one_of(QrChannel.store_id, store_ids))
    return stmt


async def list_channels(
    session: AsyncSession,
    tenant: Tenant,
    *,
    kind: str | None = None,
    active: bool | None = None,
    store_ids: frozenset[int] | None = None,
    guide_staff_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[QrChannel], str | None]:
    """The merchant's channels, oldest first; ``store_ids`` limits a store role to its
    stores, ``guide_staff_id`` a guide to their own codes."""
    stmt = scoped(QrChannel, tenant)
    if kind:
        stmt = stmt.where(QrChannel.kind == kind)
    if active is not None:
        stmt = stmt.where(QrChannel.active.is_(active))
    stmt = _visible(stmt, store_ids, guide_staff_id)
    return await paginate_by_id(session, stmt, QrChannel.id, cursor=cursor, limit=limit)


async def visible_channel(
    session: AsyncSession,
    tenant: Tenant,
    public_id: str,
    *,
    store_ids: frozenset[int] | None = None,
    guide_staff_id: int | None = None,
) -> QrChannel:
    """One channel the caller may see; NotFound (404) otherwise."""
    row = await get_channel(session, tenant, public_id)
    if (guide_staff_id is not None and row.guide_staff_id != guide_staff_id) or (
        store_ids is not None and row.store_id not in store_ids
    ):
        raise ChannelNotFound(id=public_id)
    return row


async def _ensure(
    session: AsyncSession, tenant: Tenant, unique_key: str, **kwargs: Any
) -> QrChannel:
    found: QrChannel | None = await session.scalar(
        scoped(QrChannel, tenant, QrChannel.unique_key == unique_key)
    )
    if found is not None:
        return found
    try:
        return await create_channel(session, tenant, **kwargs)
    except ChannelExists:  # made by a concurrent call
        again: QrChannel | None = await session.scalar(
            scoped(QrChannel, tenant, QrChannel.unique_key == unique_key)
        )
        assert again is not None
        return again


async def ensure_store_code(session: AsyncSession, tenant: Tenant, store_id: int) -> QrChannel:
    """The store's QR code, made if it has none. NotFound for another merchant's store."""
    store = await session.scalar(scoped(Store, tenant, Store.id == store_id))
    if store is None:
        raise NotFound("No such store")
    return await _ensure(
        session,
        tenant,
        f"store:{store_id}",
        kind=ChannelKind.STORE,
        store_public_id=store.public_id,
    )


async def ensure_guide_code(session: AsyncSession, tenant: Tenant, staff_id: int) -> QrChannel:
    """The guide's QR code, made if they have none. NotFound for another merchant's staff,
    422 ``not_a_guide`` for staff who are not active guides (or store managers)."""
    staff = await session.scalar(scoped(Staff, tenant, Staff.id == staff_id))
    if staff is None:
        raise NotFound("No such staff member")
    return await _ensure(
        session,
        tenant,
        f"guide:{staff_id}",
        kind=ChannelKind.GUIDE,
        guide_public_id=staff.public_id,
    )


async def codes_for_guide(
    session: AsyncSession, tenant: Tenant, staff_id: int
) -> list[ChannelView]:
    """A guide's active codes for the workbench: their own guide code first, then the
    product and join codes printed for them. The guide code is made if missing, so call this
    in a write unit of work and commit. NotFound / 422 ``not_a_guide`` as
    :func:`ensure_guide_code`."""
    own = await ensure_guide_code(session, tenant, staff_id)
    rows = (
        await session.scalars(
            scoped(
                QrChannel,
                tenant,
                QrChannel.guide_staff_id == staff_id,
                QrChannel.active.is_(True),
            ).order_by(QrChannel.id)
        )
    ).all()
    ordered = [own] + [r for r in rows if r.id != own.id]
    return await views(session, tenant, ordered)


async def after_login(
    session: AsyncSession, tenant: Tenant, visitor_id: str | None, customer_id: int
) -> int:
    """Merge the anonymous visitor into the customer who just logged in: their scans and
    attribution touches become the customer's (attribution binds them to the store/guide of
    the earliest store or guide code they scanned, as its rules say). Returns the scans
    claimed (0 for no visitor id or one that is not ours)."""
    visitor = valid_visitor_id(visitor_id)
    if visitor is None:
        return 0
    result = await session.execute(
        update(QrScan)
        .where(
            QrScan.merchant_id == tenant.id,
            QrScan.visitor_id == visitor,
            QrScan.customer_id.is_(None),
        )
        .values(customer_id=customer_id)
        .execution_options(synchronize_session=False)
    )
    await attribution.claim_visitor(session, tenant, visitor, customer_id)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
