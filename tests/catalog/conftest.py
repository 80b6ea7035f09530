"""Catalog test helpers: a merchant with staff, stores, product payloads, row counts."""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from loopmall.catalog.models import Category, ChannelPrice, Product, ProductImage, ProductTag, Sku
from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.models import Store
from tests.factories import PASSWORD, make_merchant, make_staff, owner_headers, token_for

Owner = tuple[Tenant, dict[str, str]]


@pytest.fixture
async def owner(state: AppState, client: httpx.AsyncClient) -> Owner:
    """Merchant "acme" with an owner (phone 13800000001) and the owner's bearer headers."""
    return await owner_headers(state, client)


@pytest.fixture
async def rival(state: AppState, client: httpx.AsyncClient) -> Owner:
    """A second merchant, "rival", with its own owner."""
    tenant = await make_merchant(state, "rival", "Rival")
    await make_staff(state, tenant, phone="13900000009")
    return tenant, await token_for(client, "rival", "13900000009")


async def guide_headers(
    state: AppState, client: httpx.AsyncClient, tenant: Tenant
) -> dict[str, str]:
    """A guide (catalog read, no write) of ``tenant``."""
    await make_staff(state, tenant, phone="13700000002", role="guide", name="导购小李")
    return await token_for(client, tenant.slug, "13700000002")


async def make_store(state: AppState, tenant: Tenant, code: str, name: str) -> str:
    """A store of ``tenant``; returns its public id."""
    async with UnitOfWork(state.write_factory) as uow:
        now = clock.now()
        store = Store(
            merchant_id=tenant.id,
            public_id=new_public_id("st"),
            code=code,
            name=name,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(store)
        await uow.commit()
        return store.public_id


def sku(options: dict[str, str], price: int, **extra: Any) -> dict[str, Any]:
    return {"options": options, "price": price, **extra}


def tee_payload(**overrides: Any) -> dict[str, Any]:
    """A T-shirt in 2 colours × 2 sizes."""
    body: dict[str, Any] = {
        "title": "纯棉T恤",
        "subtitle": "夏季新款",
        "tags": ["新品", "夏季"],
        "status": "active",
        "option_names": ["颜色", "尺码"],
        "skus": [
            sku({"颜色": "黑", "尺码": "M"}, 9900, code="TEE-BK-M", member_price=8900),
            sku({"颜色": "黑", "尺码": "L"}, 9900, code="TEE-BK-L"),
            sku({"颜色": "白", "尺码": "M"}, 10900, code="TEE-WH-M"),
            sku({"颜色": "白", "尺码": "L"}, 10900, code="TEE-WH-L"),
        ],
    }
    body.update(overrides)
    return body


async def create_product(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any] | None = None
) -> dict[str, Any]:
    r = await client.post("/api/v1/products", json=body or tee_payload(), headers=headers)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


CATALOG_TABLES = (Category, Product, ProductTag, Sku, ChannelPrice, ProductImage)


async def catalog_counts(state: AppState, tenant: Tenant) -> dict[str, int]:
    """How many rows of each catalog table the merchant has."""
    out = {}
    async with UnitOfWork(state.read_factory) as uow:
        for model in CATALOG_TABLES:
            stmt = select(func.count()).select_from(model).where(model.merchant_id == tenant.id)
            out[model.__tablename__] = int(await uow.session.scalar(stmt) or 0)
    return out


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 40)).save(buffer, format=fmt)
    return buffer.getvalue()


def picked(problem: dict[str, Any], *keys: str) -> dict[str, Any]:
    """Some fields of a problem answer (missing ones show up as absent)."""
    return {k: problem[k] for k in keys if k in problem}


HTML = {"Accept": "text/html"}


async def console_login(
    client: httpx.AsyncClient, slug: str, phone: str, password: str = PASSWORD
) -> str:
    """Log in through the console's form (the client keeps the cookie); returns the
    session's CSRF token as the pages embed it."""
    form = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    r = await client.post(
        "/console/login",
        data={"merchant": slug, "phone": phone, "password": password, "csrf_token": token[1]},
    )
    assert r.status_code == 303, r.text
    page = await client.get("/console", headers=HTML)
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert csrf is not None
    return csrf[1]
