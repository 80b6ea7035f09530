"""The customer's address book (issue #14 item 13): delivery addresses kept between orders,
one of them the default that the checkout starts from. Managed from "我的"; the checkout
remembers an address it was not given from the book (``remember``).

Every function takes the tenant and the customer: a customer sees and changes only their
own addresses (another's is ``address_not_found``)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import Conflict, NotFound, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.text import check_text
from loopmall.customers.models import CustomerAddress

MAX_ADDRESSES = 20
LIMITS = {"name": 50, "phone": 30, "address": 255}


class AddressNotFound(NotFound):
    code = "address_not_found"
    title = "No such address"


class AddressBookFull(Conflict):
    code = "address_book_full"
    title = "The address book is full (20 addresses): remove one first"


def _clean(name: str, phone: str, address: str) -> dict[str, str]:
    given = {"name": name, "phone": phone, "address": address}
    out = {}
    for field, value in given.items():
        text = " ".join(check_text(value, field=field, multiline=field == "address").split())
        if not text or len(text) > LIMITS[field]:
            raise ValidationFailed(f"{field} must be 1 to {LIMITS[field]} characters", field=field)
        out[field] = text
    return out


async def list_addresses(
    session: AsyncSession, tenant: Tenant, customer_id: int
) -> list[CustomerAddress]:
    """The customer's addresses, the default first, then the newest."""
    stmt = scoped(CustomerAddress, tenant, CustomerAddress.customer_id == customer_id)
    stmt = stmt.order_by(CustomerAddress.is_default.desc(), CustomerAddress.id.desc())
    return list((await session.scalars(stmt.limit(MAX_ADDRESSES))).all())


async def default_address(
    session: AsyncSession, tenant: Tenant, customer_id: int
) -> CustomerAddress | None:
    """The address the checkout starts from: the default (else none)."""
    found: CustomerAddress | None = await session.scalar(
        scoped(
            CustomerAddress,
            tenant,
            CustomerAddress.customer_id == customer_id,
            CustomerAddress.is_default.is_(True),
        ).limit(1)
    )
    return found


async def get_address(
    session: AsyncSession, tenant: Tenant, customer_id: int, public_id: str
) -> CustomerAddress:
    found: CustomerAddress | None = await session.scalar(
        scoped(
            CustomerAddress,
            tenant,
            CustomerAddress.customer_id == customer_id,
            CustomerAddress.public_id == public_id,
        )
    )
    if found is None:
        raise AddressNotFound(address=public_id)
    return found


async def _clear_default(session: AsyncSession, tenant: Tenant, customer_id: int) -> None:
    await session.execute(
        update(CustomerAddress)
        .where(
            CustomerAddress.merchant_id == tenant.id,
            CustomerAddress.customer_id == customer_id,
            CustomerAddress.is_default.is_(True),
        )
        .values(is_default=False)
    )


async def add_address(
    session: AsyncSession,
    tenant: Tenant,
    customer_id: int,
    *,
    name: str,
    phone: str,
    address: str,
    make_default: bool = False,
) -> CustomerAddress:
    """Keep a new address; the first one is the default whatever ``make_default`` says.
    Raises ``ValidationFailed`` (a field empty or too long) and ``AddressBookFull``."""
    fields = _clean(name, phone, address)
    existing = await list_addresses(session, tenant, customer_id)
    if len(existing) >= MAX_ADDRESSES:
        raise AddressBookFull()
    make_default = make_default or not existing
    if make_default:
        await _clear_default(session, tenant, customer_id)
    now = clock.now()
    row = CustomerAddress(
        merchant_id=tenant.id,
        public_id=new_public_id("adr"),
        customer_id=customer_id,
        is_default=make_default,
        created_at=now,
        updated_at=now,
        **fields,
    )
    session.add(row)
    await session.flush()
    return row


async def update_address(
    session: AsyncSession,
    tenant: Tenant,
    customer_id: int,
    public_id: str,
    *,
    name: str,
    phone: str,
    address: str,
) -> CustomerAddress:
    row = await get_address(session, tenant, customer_id, public_id)
    for field, value in _clean(name, phone, address).items():
        setattr(row, field, value)
    row.updated_at = clock.now()
    await session.flush()
    return row


async def set_default(
    session: AsyncSession, tenant: Tenant, customer_id: int, public_id: str
) -> CustomerAddress:
    row = await get_address(session, tenant, customer_id, public_id)
    await _clear_default(session, tenant, customer_id)
    row.is_default = True
    await session.flush()
    return row


async def remove_address(
    session: AsyncSession, tenant: Tenant, customer_id: int, public_id: str
) -> None:
    """Remove the address; when it was the default, the newest left becomes the default."""
    row = await get_address(session, tenant, customer_id, public_id)
    was_default = row.is_default
    await session.delete(row)
    await session.flush()
    if was_default:
        left = await list_addresses(session, tenant, customer_id)
        if left:
            left[0].is_default = True
            await session.flush()


async def remember(
    session: AsyncSession, tenant: Tenant, customer_id: int, *, name: str, phone: str, address: str
) -> CustomerAddress | None:
    """What the checkout calls with the address an order was placed with: kept when the
    book does not have it yet (and room is left), the default if it is the first. Never
    raises for the address itself: the order is placed already."""
    try:
        fields = _clean(name, phone, address)
    except ValidationFailed:  # invalid text too (core.text's InvalidText is one)
        return None
    same = await session.scalar(
        select(CustomerAddress.id).where(
            CustomerAddress.merchant_id == tenant.id,
            CustomerAddress.customer_id == customer_id,
            CustomerAddress.name == fields["name"],
            CustomerAddress.phone == fields["phone"],
            CustomerAddress.address == fields["address"],
        )
    )
    if same is not None:
        return None
    try:
        return await add_address(
            session,
            tenant,
            customer_id,
            name=fields["name"],
            phone=fields["phone"],
            address=fields["address"],
        )
    except AddressBookFull:
        return None
