"""The demo's outside world: keys made once and read back, accounts connected idempotently,
and the four stand-ins serving with the app's settings pointed at them."""

from __future__ import annotations

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
