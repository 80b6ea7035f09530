"""Building blocks for tests: merchants, staff and logged-in clients, made through services."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.identity.passwords import hash_password
from loopmall.merchants.models import Merchant
from loopmall.staff.models import Staff, StaffStore

PASSWORD = "correct-horse-42"


@dataclass
class MadeStaff:
    tenant: Tenant
    staff_id: int
    public_id: str
    phone: str


async def make_merchant(state: AppState, slug: str = "acme", name: str = "Acme") -> Tenant:
    async with UnitOfWork(state.write_factory) as uow:
        merchant = Merchant(
            public_id=new_public_id("mch"),
            slug=slug,
            name=name,
            status="active",
            created_at=clock.now(),
        )
        uow.session.add(merchant)
        await uow.session.flush()
        tenant = Tenant(merchant.id, merchant.slug)
        await uow.commit()
        return tenant


async def make_staff(
    state: AppState,
    tenant: Tenant,
    *,
    phone: str = "13800000001",
    role: str = "owner",
    name: str = "Owner",
    store_ids: tuple[int, ...] = (),
    password: str = PASSWORD,
) -> MadeStaff:
    async with UnitOfWork(state.write_factory) as uow:
        now = clock.now()
        staff = Staff(
            merchant_id=tenant.id,
            public_id=new_public_id("stf"),
            phone=phone,
            name=name,
            role=role,
            password_hash=await hash_password(password),
            active=True,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(staff)
        await uow.session.flush()
        for store_id in store_ids:
            uow.session.add(StaffStore(merchant_id=tenant.id, staff_id=staff.id, store_id=store_id))
        await uow.commit()
        return MadeStaff(tenant, staff.id, staff.public_id, phone)


async def token_for(
    client: httpx.AsyncClient, slug: str, phone: str, password: str = PASSWORD
) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/token", json={"merchant": slug, "phone": phone, "password": password}
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def owner_headers(
    state: AppState, client: httpx.AsyncClient, slug: str = "acme"
) -> tuple[Tenant, dict[str, str]]:
    """A merchant with an owner, and bearer headers for that owner."""
    tenant = await make_merchant(state, slug, slug.title())
    await make_staff(state, tenant)
    return tenant, await token_for(client, slug, "13800000001")
