"""Sandbox payments only while ``settings.sandbox_payments`` is on (issue #11, case 5): off,
the sandbox is not offered, cannot be started, its pay button (API and page) and its
callback route refuse with ``sandbox_payments_disabled``, and nothing changes — whatever
accounts the merchant has."""

from __future__ import annotations

from sqlalchemy import func, select

from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.uow import UnitOfWork
from loopmall.payments import accounts
from loopmall.payments.models import CallbackRecord, Payment, PaymentAccount
from loopmall.payments.sandbox import SandboxProvider
from tests.payments.conftest import World


def test_sandbox_payments_are_off_unless_switched_on() -> None:
    assert Settings(env="dev").sandbox_payments is False


async def _count(world: World, model: type[Payment] | type[CallbackRecord]) -> int:
    async with UnitOfWork(world.state.read_factory) as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


async def test_switched_off_the_sandbox_cannot_be_started(world: World) -> None:
    order = await world.order(3_00)
    world.state.settings.sandbox_payments = False

    r = await world.client.post(
        f"/api/v1/mall/{world.tenant.slug}/payments", json={"order": order, "method": "sandbox"}
    )

    assert r.status_code == 403 and r.json()["code"] == "sandbox_payments_disabled"
    assert r.headers["content-type"] == "application/problem+json"
    assert await _count(world, Payment) == 0, "no attempt was opened"


async def test_switched_off_the_pay_button_changes_nothing(world: World) -> None:
    slug = world.tenant.slug
    order = await world.order(3_00)
    started = await world.start(order, "sandbox")  # opened while it was on
    world.state.settings.sandbox_payments = False

    api = await world.client.post(f"/api/v1/mall/{slug}/payments/{started['payment']}/sandbox-pay")
    page = await world.client.post(
        f"/m/{slug}/pay/{order}/sandbox", data={"payment": started["payment"]}
    )

    assert api.status_code == 403 and api.json()["code"] == "sandbox_payments_disabled"
    assert page.status_code == 403 and page.json()["code"] == "sandbox_payments_disabled"
    assert (await world.payable(order)).paid_fen == 0
    assert (await world.payment(started["payment"])).state == started["state"]
    assert await _count(world, CallbackRecord) == 0


async def test_switched_off_a_validly_signed_sandbox_callback_is_refused(world: World) -> None:
    order = await world.order(3_00)
    started = await world.start(order, "sandbox")
    payment = await world.payment(started["payment"])
    async with UnitOfWork(world.state.read_factory) as uow:
        account = await uow.session.scalar(
            select(PaymentAccount).where(PaymentAccount.provider == "sandbox")
        )
        assert account is not None
    provider = accounts.provider_for(account, world.state.settings)
    assert isinstance(provider, SandboxProvider)
    headers, body = provider.build_callback(
        out_trade_no=payment.out_trade_no, amount_fen=3_00, now=clock.now()
    )
    world.state.settings.sandbox_payments = False

    r = await world.client.post(
        f"/api/v1/payments/callbacks/sandbox/{account.public_id}", content=body, headers=headers
    )

    assert r.status_code == 403 and r.json()["code"] == "sandbox_payments_disabled"
    assert (await world.payable(order)).paid_fen == 0
    assert await _count(world, CallbackRecord) == 0


async def test_switched_off_the_pay_page_does_not_offer_the_sandbox(world: World) -> None:
    order = await world.order(3_00)
    page = await world.client.get(f"/m/{world.tenant.slug}/pay/{order}")
    assert 'data-method="sandbox"' in page.text

    world.state.settings.sandbox_payments = False
    page = await world.client.get(f"/m/{world.tenant.slug}/pay/{order}")

    assert page.status_code == 200
    assert 'data-method="sandbox"' not in page.text
    assert 'data-method="alipay_qr"' in page.text, "the real ways of paying stay"
