"""Payments tests: the app with its WeChat Pay and Alipay accounts pointed at the live
stand-ins (the real adapters, no mocks), a store with its payment code, and helpers to
start payments, deliver the stand-ins' callbacks (byte for byte, as often and in whatever
order a test likes) and read what the callbacks did."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.models import OutboxEvent
from loopmall.core.outbox import Dispatcher
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.models import Store
from loopmall.orders import service as orders
from loopmall.payments import accounts, codes, sandbox
from loopmall.payments.models import CallbackRecord, Payment, PaymentRefund
from loopmall.standins.delivery import RecordedCallback
from loopmall.standins.harness import PaymentStandins
from loopmall.standins.keys import AlipayAppKeys, WeChatPayMerchantKeys
from tests.factories import make_merchant, make_staff, token_for
from tests.standins.fixtures import payment_standins  # noqa: F401

# Nothing listens here: callbacks the stand-ins try to deliver by themselves go nowhere,
# and the tests deliver them (from the stand-ins' logs) when and as often as they choose.
UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture
def settings(db_url: str, tmp_path: Path, payment_standins: PaymentStandins) -> Settings:  # noqa: F811
    return Settings(
        env="test",
        database_url=db_url,
        data_dir=tmp_path / "data",
        auto_migrate=False,
        run_background=False,
        secret_key="test-secret",
        sandbox_login=True,  # off by default; these tests log in and pay with the sandbox
        sandbox_payments=True,
        base_url=UNREACHABLE,
        wechatpay_base_url=payment_standins.wechatpay_url,
        alipay_gateway_url=payment_standins.alipay_gateway_url,
    )


@pytest.fixture
def real_clock() -> Iterator[clock.FrozenClock]:
    """A clock standing at the real now (the stand-ins sign with real time), movable."""
    fake = clock.FrozenClock(datetime.now(UTC))
    previous = clock.install(fake)
    yield fake
    clock.install(previous)


@dataclass
class World:
    state: AppState
    client: httpx.AsyncClient
    standins: PaymentStandins
    tenant: Tenant
    staff_headers: dict[str, str]
    wechat: WeChatPayMerchantKeys
    alipay: AlipayAppKeys
    store_id: int
    code: str
    accounts: dict[str, str]  # provider → account public id (part of the callback URL)

    def callback_url(self, provider: str) -> str:
        return f"{UNREACHABLE}/api/v1/payments/callbacks/{provider}/{self.accounts[provider]}"

    async def order(self, amount_fen: int = 12_34, *, store_id: int | None = None) -> str:
        """An unpaid face-to-face order (no customer): its public id."""
        async with UnitOfWork(self.state.write_factory) as uow:
            made = await orders.create_face_to_face_order(
                uow.session,
                self.tenant,
                amount_fen=amount_fen,
                store_id=store_id,
                guide_staff_id=None,
                customer_id=None,
                note="test",
            )
            await uow.commit()
        return made.public_id

    async def start(self, order: str, method: str) -> dict[str, Any]:
        return await self.start_json(order, method)

    async def start_json(self, order: str, method: str, **extra: str) -> dict[str, Any]:
        response = await self.client.post(
            f"/api/v1/mall/{self.tenant.slug}/payments",
            json={"order": order, "method": method, **extra},
        )
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    async def payment(self, public_id: str) -> Payment:
        async with UnitOfWork(self.state.read_factory) as uow:
            found = await uow.session.scalar(select(Payment).where(Payment.public_id == public_id))
            assert found is not None
            return found

    async def payable(self, order: str) -> orders.PayableOrder:
        async with UnitOfWork(self.state.read_factory) as uow:
            return await orders.get_payable_by_public_id(uow.session, self.tenant, order)

    async def deliver(self, cb: RecordedCallback, **changes: Any) -> httpx.Response:
        """POST a stand-in's callback to our route exactly as the provider would."""
        headers = dict(cb.headers)
        headers.update(changes.pop("headers", {}))
        body = changes.pop("body", cb.body)
        path = urlsplit(cb.url).path
        return await self.client.post(
            path, content=body.encode() if isinstance(body, str) else body, headers=headers
        )

    async def records(self, out_trade_no: str | None = None) -> list[CallbackRecord]:
        async with UnitOfWork(self.state.read_factory) as uow:
            stmt = select(CallbackRecord).order_by(CallbackRecord.id)
            if out_trade_no is not None:
                stmt = stmt.where(CallbackRecord.out_trade_no == out_trade_no)
            return list((await uow.session.scalars(stmt)).all())

    async def refunds(self, payment_id: int) -> list[PaymentRefund]:
        async with UnitOfWork(self.state.read_factory) as uow:
            rows = await uow.session.scalars(
                select(PaymentRefund)
                .where(PaymentRefund.payment_id == payment_id)
                .order_by(PaymentRefund.id)
            )
            return list(rows.all())

    async def events(self, topic: str) -> int:
        async with UnitOfWork(self.state.read_factory) as uow:
            return int(
                await uow.session.scalar(
                    select(func.count()).select_from(OutboxEvent).where(OutboxEvent.topic == topic)
                )
                or 0
            )

    async def drain(self) -> int:
        """Run every due outbox handler (refunds to the providers, closes on cancel)."""
        return await Dispatcher(self.state.write_factory).drain()

    def wechat_callbacks(self, out_trade_no: str, event: str) -> list[RecordedCallback]:
        return [
            c
            for c in self.standins.wechatpay.callbacks.list(out_trade_no=out_trade_no)
            if c.event == event
        ]


@pytest.fixture
async def world(
    state: AppState,
    client: httpx.AsyncClient,
    payment_standins: PaymentStandins,  # noqa: F811
) -> World:
    tenant = await make_merchant(state, "paymall", "Pay Mall")
    owner = await make_staff(state, tenant)
    headers = await token_for(client, tenant.slug, owner.phone)
    wechat = payment_standins.new_wechatpay_merchant()
    alipay = payment_standins.new_alipay_app()
    now = clock.now()
    async with UnitOfWork(state.write_factory) as uow:
        made = [
            await accounts.configure_account(
                uow.session, tenant, "wechatpay", asdict(wechat.config)
            ),
            await accounts.configure_account(uow.session, tenant, "alipay", asdict(alipay.config)),
            await accounts.configure_account(
                uow.session, tenant, "sandbox", sandbox.new_credentials()
            ),
        ]
        store = Store(
            merchant_id=tenant.id,
            public_id="st_paytest0000000",
            code="S1",
            name="静安门店",
            created_at=now,
            updated_at=now,
        )
        uow.session.add(store)
        await uow.session.flush()
        await codes.ensure_codes(uow.session, tenant)
        views = (await codes.list_page(uow.session, tenant, codes.CodeQuery())).views
        await uow.commit()
    return World(
        state,
        client,
        payment_standins,
        tenant,
        headers,
        wechat,
        alipay,
        store.id,
        views[0].code.code,
        {a.provider: a.public_id for a in made},
    )
