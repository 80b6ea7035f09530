"""Building blocks for notification tests: merchants with a WeChat account, customers
reachable by WeChat and/or phone, order events published as orders publish them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

import loopmall.notifications.handlers  # noqa: F401  (the subscribers under test)
from loopmall.core.events import event_type
from loopmall.core.outbox import Dispatcher, publish
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers import service as cs
from loopmall.notifications import setup
from loopmall.notifications.models import InboxMessage, Notification
from loopmall.standins.wechat_oa import WechatOAStandin
from tests.customers.consumer_fixtures import new_appid

_orders = itertools.count(1)


@dataclass
class Shop:
    tenant: Tenant
    appid: str


@dataclass
class Person:
    customer_id: int
    token: str
    openid: str | None
    phone: str | None


async def make_shop(state: AppState, oa: WechatOAStandin, slug: str = "acme") -> Shop:
    from tests.factories import make_merchant

    tenant = await make_merchant(state, slug, f"{slug.title()} 商城")
    appid, secret = new_appid()
    oa.add_app(appid, secret, name=f"{slug} 服务号")
    async with UnitOfWork(state.write_factory) as uow:
        await cs.add_wechat_app(uow.session, tenant, appid=appid, secret=secret, name="服务号")
        await uow.commit()
    return Shop(tenant, appid)


async def make_person(
    state: AppState,
    shop: Shop,
    oa: WechatOAStandin,
    *,
    name: str = "小王",
    phone: str | None = None,
    wechat: bool = True,
    followed: bool = False,
) -> Person:
    async with UnitOfWork(state.write_factory) as uow:
        customer, token = await cs.sandbox_login(uow.session, shop.tenant, name=name, phone=phone)
        openid = None
        if wechat:
            openid = oa.openid_for(shop.appid, name)
            consumer = await uow.session.get(cs.Consumer, customer.consumer_id)
            assert consumer is not None
            customer = await cs.customer_for(
                uow.session, shop.tenant, consumer, appid=shop.appid, openid=openid
            )
            if followed:
                await setup.set_followed(uow.session, shop.tenant, customer, True)
        await uow.commit()
    if followed and openid:
        oa.follow(shop.appid, openid, deliver=False)
    return Person(customer.id, token, openid, phone)


def order_payload(shop: Shop, person: Person | None, **extra: Any) -> dict[str, Any]:
    n = next(_orders)
    body: dict[str, Any] = {
        "merchant_id": shop.tenant.id,
        "order_id": 1000 + n,
        "order_public_id": f"ord_test{n:012d}",
        "number": f"2026112300{n:04d}",
        "customer_id": person.customer_id if person else None,
        "status": "paid",
        "kind": "mall",
        "fulfilment": "delivery",
        "payment_method": "online",
        "store_id": None,
        "guide_staff_id": None,
        # Shaped like orders.steps.payload: other domains (rebates) read these too.
        "total_fen": 12800,
        "paid_fen": 12800,
        "refunded_fen": 0,
    }
    body.update(extra)
    return body


STEP_FIELDS: dict[str, dict[str, Any]] = {
    "order.shipped": {"carrier": "顺丰速运", "tracking_no": "SF1234567890"},
    "order.cancelled": {"reason": "unpaid"},
}


async def publish_step(
    state: AppState, shop: Shop, topic: str, payload: dict[str, Any], *, commit: bool = True
) -> None:
    """Publish an order event in its own unit of work, as orders do with a step (with the
    fields only that step has, when the test did not give them)."""
    payload = {**STEP_FIELDS.get(topic, {}), **payload}
    if topic == "order.refunded":
        payload.setdefault("refund_fen", payload["refunded_fen"])
    async with UnitOfWork(state.write_factory) as uow:
        await publish(uow.session, event_type(topic).model_validate(payload))
        if commit:
            await uow.commit()


async def drain(state: AppState) -> int:
    return await Dispatcher(state.write_factory).drain()


async def rows(state: AppState, model: Any, **where: Any) -> list[Any]:
    async with UnitOfWork(state.read_factory) as uow:
        stmt = select(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return list((await uow.session.scalars(stmt.order_by(model.id))).all())


async def count(state: AppState, model: Any) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


__all__ = ["InboxMessage", "Notification"]
