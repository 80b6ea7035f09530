"""Building blocks for social tests: shoppers with a bearer token and a cookie session,
shares made through the API, share links opened like a browser opens them, and the rows
a landing writes (to prove a refused link wrote nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select

from loopmall.attribution.models import Touch
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import cookie_name, csrf_for, sandbox_login
from loopmall.social.models import Share, ShareVisit


@dataclass
class Person:
    customer_id: int
    token: str
    csrf: str
    bearer: dict[str, str]


async def person(state: AppState, tenant: Tenant, name: str) -> Person:
    async with UnitOfWork(state.write_factory) as uow:
        customer, token = await sandbox_login(uow.session, tenant, name=name)
        csrf = await csrf_for(uow.session, tenant, token)
        await uow.commit()
    return Person(customer.id, token, csrf, {"Authorization": f"Bearer {token}"})


def as_cookie(client: httpx.AsyncClient, state: AppState, slug: str, who: Person | None) -> None:
    """Make ``client`` a browser of ``who`` (None: logged out) in this mall."""
    name = cookie_name(state.settings, slug)
    client.cookies.delete(name)
    if who is not None:
        client.cookies.set(name, who.token)


async def share(
    client: httpx.AsyncClient,
    slug: str,
    who: Person,
    kind: str = "product",
    target: str = "",
    **extra: object,
) -> dict[str, object]:
    r = await client.post(
        f"/api/v1/mall/{slug}/shares",
        json={"target_kind": kind, "target": target, **extra},
        headers=who.bearer,
    )
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


def path_of(url: object) -> str:
    return urlsplit(str(url)).path


async def open_link(client: httpx.AsyncClient, url: object, **headers: str) -> httpx.Response:
    return await client.get(path_of(url), headers={"accept": "text/html", **headers})


@dataclass
class Written:
    shares: int
    visits: int
    touches: int


async def written(state: AppState) -> Written:
    async with UnitOfWork(state.read_factory) as uow:
        s = uow.session
        return Written(
            int(await s.scalar(select(func.count(Share.id))) or 0),
            int(await s.scalar(select(func.count(ShareVisit.id))) or 0),
            int(await s.scalar(select(func.count(Touch.id)).where(Touch.kind == "share")) or 0),
        )


async def share_touches(state: AppState, tenant: Tenant) -> list[Touch]:
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.scalars(
            select(Touch)
            .where(Touch.merchant_id == tenant.id, Touch.kind == "share")
            .order_by(Touch.id)
        )
        return list(rows.all())


async def share_row(state: AppState, public_id: object) -> Share:
    async with UnitOfWork(state.read_factory) as uow:
        found = await uow.session.scalar(select(Share).where(Share.public_id == str(public_id)))
        assert found is not None
        return found
