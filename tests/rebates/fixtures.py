"""A shop with a store, a guide, three shoppers (A shares, B re-shares A's link, C buys),
and the steps the commission ledger hears about: an order paid, attribution's credits
(published as attribution publishes them — the payload of the brief's contract), refunds."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx

from loopmall.attribution.events import AttributionCredited
from loopmall.core.outbox import Dispatcher, publish
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.orders import service as orders
from tests.factories import make_staff, token_for
from tests.orders.fixtures import ShopperLogin, add, login_shopper, make_shop, pay_order, place

# Credit ids far above what attribution's own table hands out in a test.
_credit_ids = itertools.count(900_000)
_refund_ids = itertools.count(700_000)


@dataclass
class World:
    state: AppState
    client: httpx.AsyncClient
    tenant: Tenant
    owner: dict[str, str]
    store_id: int
    store_public_id: str
    sku: str
    guide_id: int
    guide_public_id: str
    guide_phone: str
    a: ShopperLogin  # the sharer's sharer (level 2)
    b: ShopperLogin  # the direct sharer (level 1)
    c: ShopperLogin  # the buyer

    async def rules(self, **values: Any) -> httpx.Response:
        body = {"store_bp": 0, "guide_bp": 0, "level1_bp": 0, "level2_bp": 0} | values
        return await self.client.put("/api/v1/commission/rules", json=body, headers=self.owner)

    async def order(self, quantity: int = 1) -> orders.PayableOrder:
        """C buys ``quantity`` units (9,900 fen each) and pays."""
        await add(self.client, self.tenant.slug, self.c.headers, self.sku, quantity)
        placed = await place(self.client, self.tenant.slug, self.c.headers)
        assert placed.status_code == 201, placed.text
        public_id = placed.json()["id"]
        await pay_order(self.state, self.tenant, public_id, payment_id=next(_refund_ids))
        async with UnitOfWork(self.state.read_factory) as uow:
            return await orders.get_payable_by_public_id(uow.session, self.tenant, public_id)

    def credits(self, *roles: str) -> list[dict[str, Any]]:
        """Credits as attribution makes them, for the roles named."""
        made = []
        for role in roles:
            made.append(
                {
                    "credit_id": next(_credit_ids),
                    "role": role,
                    "store_id": self.store_id if role in ("store", "guide") else None,
                    "guide_staff_id": self.guide_id if role == "guide" else None,
                    "sharer_customer_id": {
                        "sharer": self.b.customer_id,
                        "upstream_sharer": self.a.customer_id,
                    }.get(role),
                    "channel_id": None,
                    "share_id": 1 if role in ("sharer", "upstream_sharer") else None,
                    "rule": "last_touch:share" if "sharer" in role else "binding",
                }
            )
        return made

    async def credit(
        self, order: orders.PayableOrder, credits: list[dict[str, Any]], *, amount_fen: int = 0
    ) -> None:
        """Publish ``attribution.credited`` for ``order`` and deliver it."""
        async with UnitOfWork(self.state.write_factory) as uow:
            await publish(
                uow.session,
                AttributionCredited.model_validate(
                    {
                        "merchant_id": self.tenant.id,
                        "order_id": order.id,
                        "order_public_id": order.public_id,
                        "customer_id": order.customer_id,
                        "amount_fen": amount_fen or order.paid_fen,
                        "credits": credits,
                    }
                ),
            )
            await uow.commit()
        await self.drain()

    async def refund(self, order: orders.PayableOrder, fen: int) -> None:
        """What payments does when a refund of ``fen`` succeeded; then the handlers run."""
        async with UnitOfWork(self.state.write_factory) as uow:
            await orders.record_refund(
                uow.session, self.tenant, order.id, refund_fen=fen, refund_id=next(_refund_ids)
            )
            await uow.commit()
        await self.drain()

    async def drain(self) -> None:
        await Dispatcher(self.state.write_factory).drain()

    async def entries(self, **params: Any) -> dict[str, Any]:
        r = await self.client.get("/api/v1/commission/entries", params=params, headers=self.owner)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


async def make_world(state: AppState, client: httpx.AsyncClient, slug: str = "shop") -> World:
    shop = await make_shop(state, slug, online_units=50)
    await make_staff(state, shop.tenant)
    owner = await token_for(client, slug, "13800000001")
    guide = await make_staff(
        state,
        shop.tenant,
        phone="13800000002",
        role="guide",
        name="小美",
        store_ids=(shop.store.id,),
    )
    a = await login_shopper(state, shop.tenant, "阿强", "13900000001")
    b = await login_shopper(state, shop.tenant, "贝贝", "13900000002")
    c = await login_shopper(state, shop.tenant, "小明", "13900000003")
    return World(
        state,
        client,
        shop.tenant,
        owner,
        shop.store.id,
        shop.store.public_id,
        shop.skus[0].public_id,
        guide.staff_id,
        guide.public_id,
        guide.phone,
        a,
        b,
        c,
    )
