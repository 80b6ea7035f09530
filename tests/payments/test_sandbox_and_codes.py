"""The sandbox provider (still a signed callback through our route), face-to-face payment
by a store's code (收款码), payment accounts and the reconciliation, on both backends."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from sqlalchemy import select

from loopmall.core import clock
from loopmall.core.uow import UnitOfWork
from loopmall.payments import accounts, reconciliation
from loopmall.payments.models import PaymentAccount
from loopmall.payments.sandbox import SandboxProvider
from tests.payments.conftest import World


async def _sandbox(world: World) -> SandboxProvider:
    async with UnitOfWork(world.state.read_factory) as uow:
        account = await uow.session.scalar(
            select(PaymentAccount).where(PaymentAccount.provider == "sandbox")
        )
        assert account is not None
    provider = accounts.provider_for(account, world.state.settings)
    assert isinstance(provider, SandboxProvider)
    return provider


async def test_the_sandbox_pays_through_a_signed_callback(world: World) -> None:
    order = await world.order(3_00)
    started = await world.start(order, "sandbox")
    slug = world.tenant.slug

    paid = await world.client.post(f"/api/v1/mall/{slug}/payments/{started['payment']}/sandbox-pay")
    again = await world.client.post(
        f"/api/v1/mall/{slug}/payments/{started['payment']}/sandbox-pay"
    )

    assert paid.status_code == 200 and paid.json()["state"] == "succeeded"
    assert again.json()["state"] == "succeeded"
    assert (await world.payable(order)).paid_fen == 3_00
    payment = await world.payment(started["payment"])
    records = await world.records(payment.out_trade_no)
    assert [(r.verified, r.outcome, r.http_status) for r in records] == [
        (True, "paid", 200),
        (True, "duplicate", 200),
    ]


async def test_a_forged_or_stale_sandbox_callback_is_refused(world: World) -> None:
    order = await world.order(3_00)
    started = await world.start(order, "sandbox")
    payment = await world.payment(started["payment"])
    provider = await _sandbox(world)
    url = world.callback_url("sandbox").split("127.0.0.1:9", 1)[1]
    headers, body = provider.build_callback(
        out_trade_no=payment.out_trade_no, amount_fen=3_00, now=clock.now()
    )
    stale_headers, stale_body = provider.build_callback(
        out_trade_no=payment.out_trade_no,
        amount_fen=3_00,
        now=datetime(2020, 1, 1, tzinfo=UTC),
    )

    forged = await world.client.post(url, content=body.replace(b"300", b"301"), headers=headers)
    stale = await world.client.post(url, content=stale_body, headers=stale_headers)

    assert (forged.status_code, stale.status_code) == (400, 400)
    assert [r.reason for r in await world.records()] == [
        "bad signature",
        "timestamp outside the window",
    ]
    assert (await world.payable(order)).paid_fen == 0


async def test_face_to_face_payment_by_a_store_code_is_credited_to_the_store(
    world: World,
) -> None:
    codes = await world.client.get("/api/v1/payments/codes", headers=world.staff_headers)
    assert codes.status_code == 200
    [code] = codes.json()["items"]
    assert codes.json()["next_cursor"] is None
    assert code["url"].endswith(f"/m/{world.tenant.slug}/qr/{world.code}")
    assert code["label"] == "静安门店"

    response = await world.client.post(
        f"/api/v1/mall/{world.tenant.slug}/codes/{world.code}/payments",
        json={"amount_fen": 88_00, "method": "wechat_native"},
        headers={"Idempotency-Key": "scan-1"},
    )
    retried = await world.client.post(
        f"/api/v1/mall/{world.tenant.slug}/codes/{world.code}/payments",
        json={"amount_fen": 88_00, "method": "wechat_native"},
        headers={"Idempotency-Key": "scan-1"},
    )

    assert response.status_code == 201, response.text
    started = response.json()
    assert retried.json()["payment"] == started["payment"]  # one order, one trade
    payment = await world.payment(started["payment"])
    assert (payment.order_kind, payment.store_id, payment.amount_fen) == (
        "face_to_face",
        world.store_id,
        88_00,
    )
    cb = world.standins.wechatpay.complete_payment(world.wechat.config.mchid, payment.out_trade_no)
    assert (await world.deliver(cb)).status_code == 204
    order = await world.payable(started["order"])
    assert (order.kind, order.store_id, order.status, order.paid_fen) == (
        "face_to_face",
        world.store_id,
        "completed",
        88_00,
    )
    listed = await world.client.get("/api/v1/payments?state=succeeded", headers=world.staff_headers)
    assert [p["id"] for p in listed.json()["items"]] == [started["payment"]]


async def test_an_unknown_code_is_404(world: World) -> None:
    response = await world.client.post(
        f"/api/v1/mall/{world.tenant.slug}/codes/nosuchcode/payments",
        json={"amount_fen": 1_00, "method": "wechat_native"},
    )
    assert (response.status_code, response.json()["code"]) == (404, "payment_code_not_found")


async def test_accounts_are_configured_through_the_api(world: World) -> None:
    keys = world.standins.new_wechatpay_merchant()
    response = await world.client.put(
        "/api/v1/payments/accounts/wechatpay",
        json={"credentials": asdict(keys.config)},
        headers=world.staff_headers,
    )
    missing = await world.client.put(
        "/api/v1/payments/accounts/alipay",
        json={"credentials": {"app_id": "2021"}},
        headers=world.staff_headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["merchant_no"] == keys.config.mchid
    assert response.json()["callback_url"].endswith(
        f"/api/v1/payments/callbacks/wechatpay/{world.accounts['wechatpay']}"
    )
    assert (missing.status_code, missing.json()["field"]) == (422, "alipay_public_key_pem")
    listed = await world.client.get("/api/v1/payments/accounts", headers=world.staff_headers)
    assert "app_private_key_pem" not in listed.text and "apiv3_key" not in listed.text


async def test_reconciliation_finds_and_applies_a_lost_callback(world: World) -> None:
    lost_order = await world.order(7_00)
    lost = await world.start(lost_order, "wechat_native")
    lost_payment = await world.payment(lost["payment"])
    world.standins.wechatpay.complete_payment(world.wechat.config.mchid, lost_payment.out_trade_no)
    fine_order = await world.order(5_00)
    fine = await world.start(fine_order, "alipay_qr")
    fine_payment = await world.payment(fine["payment"])
    cb = world.standins.alipay.complete_payment(
        world.alipay.config.app_id, fine_payment.out_trade_no
    )
    assert cb is not None and (await world.deliver(cb)).text == "success"
    today = clock.local(clock.now()).date()

    response = await world.client.post(
        "/api/v1/payments/reconciliation",
        json={"day": today.isoformat()},
        headers=world.staff_headers,
    )

    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["checked"], report["differences"]) == (2, 1)
    [line] = report["lines"]
    assert (line["kind"], line["out_trade_no"], line["applied"]) == (
        "paid_not_recorded",
        lost_payment.out_trade_no,
        "paid",
    )
    assert (await world.payable(lost_order)).paid_fen == 7_00
    rerun = await reconciliation.reconcile_day(world.state, world.tenant, today)
    assert (rerun.checked, rerun.differences) == (2, 0)
    reports = await world.client.get("/api/v1/payments/reconciliation", headers=world.staff_headers)
    assert [r["day"] for r in reports.json()] == [today.isoformat()]


async def test_demo_accounts_keep_the_sandbox_and_add_the_standins(world: World) -> None:
    from loopmall.demo.payment_accounts import configure_demo_accounts

    keys = world.standins.new_wechatpay_merchant()
    async with UnitOfWork(world.state.write_factory) as uow:
        made = await configure_demo_accounts(uow.session, world.tenant, wechatpay=keys)
        await uow.commit()

    assert [a.provider for a in made] == ["sandbox", "wechatpay"]
    assert made[0].public_id == world.accounts["sandbox"]
    assert made[1].merchant_no == keys.config.mchid


async def test_reconciliation_reports_a_payment_the_provider_never_took(world: World) -> None:
    from loopmall.payments import settle

    order = await world.order(6_00)
    started = await world.start(order, "wechat_native")
    payment = await world.payment(started["payment"])
    async with UnitOfWork(world.state.write_factory) as uow:  # a bug marks it paid
        await settle.apply_paid(
            uow.session,
            world.tenant,
            out_trade_no=payment.out_trade_no,
            amount_fen=6_00,
            provider_trade_no=None,
            paid_at=None,
            account=await uow.session.get_one(PaymentAccount, payment.account_id),
        )
        await uow.commit()

    report = await reconciliation.reconcile_day(
        world.state, world.tenant, clock.local(clock.now()).date()
    )

    assert (report.checked, report.differences) == (1, 1)
    [line] = report.lines
    assert (line["kind"], line["theirs"], line["ours"]) == (
        "recorded_not_paid",
        "unpaid",
        "succeeded",
    )
