"""Checkout → paid: how many orders a second the whole loop carries, and how long one takes.

Each of ``CLIENTS`` shoppers (logged in through the sandbox login, bearer tokens) loops:
put a SKU in the cart, check out for delivery (with an Idempotency-Key), start paying, pay,
and the order is paid once our callback route has verified and applied the callback. The
latency of one order is from the cart POST to the paid callback's answer.

Two payment paths, on each backend:

- ``sandbox``: the demo's provider; its HMAC-signed callback goes through our callback route.
- ``wechatpay``: the real WeChat Pay v3 adapter (RSA-signed requests through wechatpayv3)
  against the live stand-in (a uvicorn thread in this process); the stand-in builds the
  genuine signed, AES-GCM-encrypted TRANSACTION.SUCCESS callback, which we post to our
  callback route exactly as WeChat would.

The app runs in-process behind httpx's ASGI transport (no sockets for our side), with the
background work off, so the figures are the request path itself.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from statistics import median
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from bench.harness import BenchContext, Row, percentile
from loopmall.app import create_app
from loopmall.catalog.schemas import ProductIn, SkuIn
from loopmall.catalog.service import create_product
from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import sandbox_login
from loopmall.inventory.locations import default_warehouse
from loopmall.inventory.service import adjust_stock
from loopmall.merchants.models import Merchant
from loopmall.payments import sandbox
from loopmall.payments.accounts import configure_account
from loopmall.payments.flows import notify_url
from loopmall.standins.harness import PaymentStandins

NAME = "checkout"
SLUG = "bench"
SKUS = 20


async def stocked_shop(
    s: AsyncSession, *, slug: str, name: str, skus: int = SKUS
) -> tuple[Tenant, list[str]]:
    """A new merchant with one tee of ``skus`` SKUs, each with 100,000 in the warehouse:
    the shop the checkout benchmark and its profile buy from (their public ids)."""
    merchant = Merchant(
        public_id=new_public_id("mch"), slug=slug, name=name, created_at=clock.now()
    )
    s.add(merchant)
    await s.flush()
    tenant = Tenant(merchant.id, merchant.slug)
    detail = await create_product(
        s,
        tenant,
        ProductIn(
            title=f"{name} tee",
            status="active",
            option_names=["n"],
            skus=[SkuIn(options={"n": str(i)}, price=9900 + i) for i in range(skus)],
        ),
    )
    warehouse = await default_warehouse(s, tenant)
    for d in detail.skus:
        await adjust_stock(
            s,
            tenant,
            sku_id=d.sku.id,
            location_id=warehouse.id,
            delta=100_000,
            reason="bench",
            actor="bench",
        )
    return tenant, [d.sku.public_id for d in detail.skus]


async def _setup(
    state: AppState, clients: int, wechat: Any
) -> tuple[Tenant, list[str], list[str], str]:
    """A merchant with SKUS SKUs in plenty, a payment account, and ``clients`` shoppers."""
    async with UnitOfWork(state.write_factory) as uow:
        s = uow.session
        tenant, sku_ids = await stocked_shop(s, slug=SLUG, name="Bench")
        if wechat is None:
            account = await configure_account(s, tenant, "sandbox", sandbox.new_credentials())
        else:
            account = await configure_account(s, tenant, "wechatpay", asdict(wechat.config))
        tokens = []
        for i in range(clients):
            _customer, token = await sandbox_login(s, tenant, name=f"shopper {i}")
            tokens.append(token)
        await uow.commit()
    return tenant, sku_ids, tokens, account.public_id


async def _one_order(
    client: httpx.AsyncClient,
    token: str,
    sku: str,
    *,
    method: str,
    standin: httpx.AsyncClient | None,
    callback_path: str,
) -> float:
    auth = {"Authorization": f"Bearer {token}"}
    base = f"/api/v1/mall/{SLUG}"
    started = time.perf_counter()
    r = await client.post(f"{base}/cart/items", json={"sku": sku, "quantity": 1}, headers=auth)
    r.raise_for_status()
    r = await client.post(
        f"{base}/checkout",
        json={
            "fulfilment": "delivery",
            "address": {"name": "张三", "phone": "13800000000", "address": "北京市朝阳区 1 号"},
        },
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
    )
    r.raise_for_status()
    order = r.json()["id"]
    r = await client.post(f"{base}/payments", json={"order": order, "method": method}, headers=auth)
    r.raise_for_status()
    payment = r.json()["payment"]
    if standin is None:
        r = await client.post(f"{base}/payments/{payment}/sandbox-pay", headers=auth)
        r.raise_for_status()
        assert r.json()["state"] == "succeeded", r.text
    else:
        r = await client.get(f"{base}/payments/{payment}", headers=auth)
        out_trade_no = r.json()["out_trade_no"]
        built = await standin.post(f"/_standin/trades/{out_trade_no}/pay", json={"deliver": False})
        built.raise_for_status()
        callback = built.json()["callback"]
        r = await client.post(
            callback_path, content=callback["body"].encode(), headers=callback["headers"]
        )
        assert r.status_code in (200, 204), r.text
    return time.perf_counter() - started


async def _loop(
    ctx: BenchContext, backend: str, path: str, clients: int, per_client: int
) -> list[Row]:
    standins = PaymentStandins().start() if path == "wechatpay" else None
    try:
        # A fresh migrated database; the app under test gets its own engine on it.
        async with ctx.fresh_state(backend) as seed_state:
            url = seed_state.settings.effective_database_url
            data_dir = Path(seed_state.settings.data_dir)
            settings = Settings(
                database_url=url,
                data_dir=data_dir,
                auto_migrate=False,
                run_background=False,
                secret_key="bench",
                wechatpay_base_url=standins.wechatpay_url if standins else "http://unused",
                # The sandbox path pays through the demo's provider, off unless switched on.
                sandbox_payments=True,
            )
            wechat = standins.new_wechatpay_merchant() if standins else None
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                state: AppState = app.state.loopmall
                _tenant, skus, tokens, account = await _setup(state, clients, wechat)
                callback_path = "/" + notify_url(settings, path, account).split("/", 3)[3]
                transport = httpx.ASGITransport(app=app)
                latencies: list[float] = []
                async with (
                    httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
                    httpx.AsyncClient(
                        base_url=standins.wechatpay_url if standins else "http://x"
                    ) as standin_client,
                ):
                    method = "sandbox" if path == "sandbox" else "wechat_native"

                    async def shopper(i: int) -> None:
                        for n in range(per_client):
                            latencies.append(
                                await _one_order(
                                    client,
                                    tokens[i],
                                    skus[(i + n) % len(skus)],
                                    method=method,
                                    standin=standin_client if standins else None,
                                    callback_path=callback_path,
                                )
                            )

                    began = time.perf_counter()
                    await asyncio.gather(*(shopper(i) for i in range(clients)))
                    elapsed = time.perf_counter() - began
    finally:
        if standins is not None:
            standins.stop()
    orders = clients * per_client
    params = {"clients": clients, "orders": orders, "payment": path}
    return [
        Row(NAME, backend, f"{path}: orders paid/s", orders / elapsed, "1/s", params),
        Row(NAME, backend, f"{path}: checkout→paid p50", median(latencies) * 1000, "ms", params),
        Row(
            NAME,
            backend,
            f"{path}: checkout→paid p99",
            percentile(latencies, 99) * 1000,
            "ms",
            params,
        ),
    ]


async def run(ctx: BenchContext) -> list[Row]:
    clients = ctx.size(8, 32)
    per_client = ctx.size(5, 25)
    rows: list[Row] = []
    for backend in ctx.backends:
        for path in ("sandbox", "wechatpay"):
            rows += await _loop(ctx, backend, path, clients, per_client)
    return rows
