"""The demo's outside world: keys made once and read back, accounts connected idempotently,
and the four stand-ins serving with the app's settings pointed at them."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import func, select

from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import WechatApp
from loopmall.demo.outside import Outside, connect_accounts, load_keys
from loopmall.payments.models import PaymentAccount
from tests.factories import make_merchant


async def _count(state: AppState, model: type) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


async def test_keys_are_kept_and_accounts_connect_once(state: AppState, settings: Settings) -> None:
    await make_merchant(state, "vero", "VERO")
    first = load_keys(settings, [("vero", "VERO"), ("nostore", "No such merchant")])
    again = load_keys(settings, [("vero", "VERO")])
    assert again["vero"].wechatpay.config == first["vero"].wechatpay.config
    assert again["vero"].oa_appid == first["vero"].oa_appid

    await connect_accounts(state, first)
    await connect_accounts(state, first)
    async with UnitOfWork(state.read_factory) as uow:
        providers = sorted((await uow.session.scalars(select(PaymentAccount.provider))).all())
    assert providers == ["alipay", "sandbox", "wechatpay"]
    assert await _count(state, WechatApp) == 1


def test_stand_ins_serve_and_settings_point_at_them(settings: Settings) -> None:
    keys = load_keys(settings, [("vero", "VERO")])
    with Outside(keys, ports={"wechatpay": 0, "alipay": 0, "wechat": 0, "sms": 0}) as outside:
        pointed = outside.settings_for(settings)
        assert pointed.wechatpay_base_url == outside.url("wechatpay")
        assert pointed.alipay_gateway_url.endswith("/gateway.do")
        assert pointed.sms_base_url == outside.url("sms")
        assert httpx.get(f"{outside.url('sms')}/_standin/messages").json() == []
        # The demo merchant's WeChat Pay account is known to the stand-in: an unsigned
        # request is refused as WeChat refuses it, not as an unknown route.
        r = httpx.get(
            f"{outside.url('wechatpay')}/v3/pay/transactions/out-trade-no/X1234567?mchid=1"
        )
        assert r.status_code == 401 and r.json()["code"] == "SIGN_ERROR"


async def test_the_follow_card_names_the_service_account_once(
    state: AppState, settings: Settings, client: httpx.AsyncClient
) -> None:
    """Issue #14 item 15: the demo's account was named "VERO 服务号", and the card, which
    says "关注「…」微信服务号", said 服务号 twice. An account is named as its brand is."""
    from loopmall.core import clock
    from loopmall.customers.service import (
        cookie_name,
        customer_for,
        mark_first_paid,
        new_consumer,
        open_session,
    )

    tenant = await make_merchant(state, "vero", "VERO 时装")
    await connect_accounts(state, load_keys(settings, [("vero", "VERO 时装")]))
    async with UnitOfWork(state.write_factory) as uow:
        consumer = await new_consumer(uow.session, display_name="苏晴")
        customer = await customer_for(uow.session, tenant, consumer, display_name="苏晴")
        await mark_first_paid(uow.session, tenant, customer, clock.now())
        token = await open_session(uow.session, tenant, customer, method="sandbox")
        await uow.commit()
    client.cookies.set(cookie_name(state.settings, "vero"), token)
    card = (await client.get("/m/vero/follow-invite")).text
    assert 'id="follow-invite"' in card
    assert "关注「VERO 时装」微信服务号" in card
    assert card.count("服务号") == 2  # the heading and "search for the 服务号" below it


def test_payment_stand_ins_keep_their_trades_across_a_restart(
    settings: Settings, tmp_path: Path
) -> None:
    """Issue #14 item 6: after the demo restarted, the stand-ins had forgotten every trade
    and the daily reconciliation reported each earlier payment as a difference."""
    keys = load_keys(settings, [("vero", "VERO")])
    wx_keys, ali_keys = keys["vero"].wechatpay.config, keys["vero"].alipay.config
    state = tmp_path / "standins.json"
    ports = {"wechatpay": 0, "alipay": 0, "wechat": 0, "sms": 0}
    with Outside(keys, ports=ports, state_path=state) as first:
        merchant = first.wechatpay.merchant(wx_keys.mchid)
        first.wechatpay.create_trade(
            merchant,
            "native",
            {
                "appid": merchant.appid,
                "mchid": merchant.mchid,
                "description": "羊毛大衣",
                "out_trade_no": "PAY0001",
                "notify_url": "http://127.0.0.1:9/notify",
                "amount": {"total": 59900},
            },
            "http://127.0.0.1:9",
        )
        first.wechatpay.complete_payment(merchant.mchid, "PAY0001")
        first.wechatpay.refund_delay = None  # the refund stays PROCESSING
        first.wechatpay.create_refund(
            merchant,
            {
                "out_trade_no": "PAY0001",
                "out_refund_no": "RF0001",
                "amount": {"refund": 10000, "total": 59900, "currency": "CNY"},
            },
        )
        app = first.alipay.apps[ali_keys.app_id]
        first.alipay.precreate(
            app,
            {"out_trade_no": "ALI0001", "subject": "盐水鸭", "total_amount": "68.00"},
            None,
            "http://127.0.0.1:9",
        )
        first.alipay.complete_payment(app.app_id, "ALI0001")
    assert state.exists()

    with Outside(keys, ports=ports, state_path=state) as again:
        trade = again.wechatpay.find_trade(wx_keys.mchid, "PAY0001")
        assert (trade.trade_state, trade.total) == ("REFUND", 59900)  # paid, then refunded
        assert trade.transaction_id is not None and trade.transaction_id.startswith("4200")
        refund = again.wechatpay.refunds[(wx_keys.mchid, "RF0001")]
        assert (refund.refund, refund.status) == (10000, "PROCESSING")
        assert refund.trade is trade
        ali = again.alipay.trades[(ali_keys.app_id, "ALI0001")]
        assert (ali.trade_status, ali.total_fen) == ("TRADE_SUCCESS", 6800)
        # And WeChat Pay's query answers as it did before the restart.
        answer = httpx.get(
            f"{again.url('wechatpay')}/_standin/trades/PAY0001?mchid={wx_keys.mchid}"
        )
        assert answer.status_code == 200
        assert answer.json()["transaction"]["trade_state"] == "REFUND"
        assert [r["out_refund_no"] for r in answer.json()["refunds"]] == ["RF0001"]

    without = Outside(keys, ports=ports)  # no state file: nothing remembered (as before)
    with without:
        assert without.wechatpay.trades == {}
