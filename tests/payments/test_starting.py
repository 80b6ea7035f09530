"""Starting payments: JSAPI parameters signed for WeChat's JS bridge, an open attempt shown
again rather than a new trade, guides' codes, store-scoped staff, the daily job."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from loopmall.core import clock
from loopmall.core.uow import UnitOfWork
from loopmall.integrations.wechatpay import signing
from loopmall.payments import codes, reconciliation
from loopmall.payments.models import ReconciliationReport
from tests.factories import make_staff, token_for
from tests.payments.conftest import World


async def test_jsapi_gives_signed_bridge_parameters(world: World) -> None:
    order = await world.order(19_90)
    started = await world.start_json(order, "wechat_jsapi", openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")

    params = started["jsapi_params"]
    assert params["appId"] == world.wechat.config.appid
    assert params["package"].startswith("prepay_id=wx")
    assert params["signType"] == "RSA"
    message = (
        f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    )
    assert signing.rsa_verify(world.wechat.merchant_public_key_pem, message, params["paySign"])
    payment = await world.payment(started["payment"])
    trade = world.standins.wechatpay.find_trade(world.wechat.config.mchid, payment.out_trade_no)
    assert (trade.trade_type, trade.payer_openid) == ("JSAPI", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")


async def test_jsapi_without_an_openid_is_refused(world: World) -> None:
    order = await world.order(19_90)
    response = await world.client.post(
        f"/api/v1/mall/{world.tenant.slug}/payments",
        json={"order": order, "method": "wechat_jsapi"},
    )
    assert (response.status_code, response.json()["code"]) == (422, "payment_method_unavailable")


async def test_a_reload_shows_the_same_attempt_a_new_method_starts_another(world: World) -> None:
    order = await world.order(5_00)
    first = await world.start(order, "wechat_native")
    again = await world.start(order, "wechat_native")
    other = await world.start(order, "alipay_qr")

    assert again["payment"] == first["payment"]
    assert again["qr_content"] == first["qr_content"]
    assert other["payment"] != first["payment"]
    mchid = world.wechat.config.mchid
    trades = [t for (m, _no), t in world.standins.wechatpay.trades.items() if m == mchid]
    assert len(trades) == 1  # the reload asked WeChat Pay for nothing new


async def test_paying_a_paid_or_unknown_order_is_refused(world: World) -> None:
    order = await world.order(5_00)
    started = await world.start(order, "sandbox")
    await world.client.post(
        f"/api/v1/mall/{world.tenant.slug}/payments/{started['payment']}/sandbox-pay"
    )
    paid = await world.client.post(
        f"/api/v1/mall/{world.tenant.slug}/payments",
        json={"order": order, "method": "wechat_native"},
    )
    unknown = await world.client.post(
        f"/api/v1/mall/{world.tenant.slug}/payments",
        json={"order": "ord_nosuchorder0000", "method": "wechat_native"},
    )
    assert (paid.status_code, paid.json()["code"]) == (409, "order_not_payable")
    assert unknown.status_code == 404


async def test_a_guides_code_credits_the_guide_and_their_store(world: World) -> None:
    guide = await make_staff(
        world.state,
        world.tenant,
        phone="13800000009",
        role="guide",
        name="小王",
        store_ids=(world.store_id,),
    )
    async with UnitOfWork(world.state.write_factory) as uow:
        made = await codes.ensure_codes(uow.session, world.tenant)
        again = await codes.ensure_codes(uow.session, world.tenant)
        views = (await codes.list_page(uow.session, world.tenant, codes.CodeQuery())).views
        await uow.commit()
    assert (made, again) == (1, 0)
    [store_code, guide_code] = views
    assert (guide_code.label, guide_code.code.store_id) == ("静安门店 · 小王", world.store_id)

    response = await world.client.post(
        f"/api/v1/mall/{world.tenant.slug}/codes/{guide_code.code.code}/payments",
        json={"amount_fen": 3_00, "method": "sandbox"},
    )
    order = await world.payable(response.json()["order"])
    assert (order.guide_staff_id, order.store_id) == (guide.staff_id, world.store_id)
    assert store_code.code.guide_staff_id is None


async def test_store_staff_see_only_their_stores_payments(world: World) -> None:
    await world.start(await world.order(1_00, store_id=world.store_id), "sandbox")
    await world.start(await world.order(2_00), "sandbox")
    cashier = await make_staff(
        world.state, world.tenant, phone="13800000008", role="cashier", store_ids=(world.store_id,)
    )
    headers = await token_for(world.client, world.tenant.slug, cashier.phone)

    mine = await world.client.get("/api/v1/payments", headers=headers)
    everyone = await world.client.get("/api/v1/payments", headers=world.staff_headers)

    assert [p["amount_fen"] for p in mine.json()["items"]] == [1_00]
    assert [p["amount_fen"] for p in everyone.json()["items"]] == [1_00, 2_00]


async def test_the_daily_job_reconciles_yesterday_once(world: World, real_clock: object) -> None:
    await world.start(await world.order(1_00), "wechat_native")
    real_clock.advance(days=1)  # type: ignore[attr-defined]

    made = await reconciliation.reconcile_all(world.state)
    again = await reconciliation.reconcile_all(world.state)

    assert (made, again) == (1, 0)
    async with UnitOfWork(world.state.read_factory) as uow:
        [report] = (await uow.session.scalars(select(ReconciliationReport))).all()
    yesterday = clock.local(clock.now() - timedelta(days=1)).date().isoformat()
    assert (report.day, report.checked, report.differences) == (yesterday, 1, 0)
