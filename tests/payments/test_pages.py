"""Payment pages through HTTP: the pay page (methods per device, QR, H5 redirect, sandbox
button, polling status), the face-to-face page, console lists, QR downloads and the refund
form's POST."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request

from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import cookie_name, csrf_for, sandbox_login
from loopmall.integrations.payment_provider import PayMethod
from loopmall.orders import service as orders
from loopmall.payments.pages import offered
from tests.factories import PASSWORD
from tests.payments.conftest import World

HTML = {"Accept": "text/html"}


def _request(user_agent: str) -> Request:
    return Request({"type": "http", "headers": [(b"user-agent", user_agent.encode())]})


class _Shopper:
    openid = "o_abc"


def test_jsapi_only_inside_wechat_with_an_openid_h5_only_outside() -> None:
    every = list(PayMethod)
    wechat = _request("Mozilla/5.0 (iPhone) MicroMessenger/8.0.50")
    safari = _request("Mozilla/5.0 (iPhone) Safari/604.1")

    assert offered(every, wechat, _Shopper())[0] is PayMethod.WECHAT_JSAPI
    assert PayMethod.WECHAT_H5 not in offered(every, wechat, _Shopper())
    assert PayMethod.WECHAT_JSAPI not in offered(every, wechat, None)
    assert offered(every, safari, _Shopper()) == [
        PayMethod.WECHAT_NATIVE,
        PayMethod.WECHAT_H5,
        PayMethod.ALIPAY_QR,
        PayMethod.SANDBOX,
    ]


async def test_pay_page_shows_methods_then_the_qr_code_and_polls(world: World) -> None:
    slug = world.tenant.slug
    order = await world.order(45_00)

    page = await world.client.get(f"/m/{slug}/pay/{order}")
    assert page.status_code == 200
    methods = re.findall(r'data-method="([a-z_0-9]+)"', page.text)
    assert methods == ["wechat_native", "wechat_h5", "alipay_qr", "sandbox"]
    assert "45.00" in page.text

    chosen = await world.client.post(f"/m/{slug}/pay/{order}", data={"method": "wechat_native"})
    assert chosen.status_code == 303
    shown = await world.client.get(chosen.headers["location"])
    assert 'id="pay-qr" src="data:image/png;base64,' in shown.text
    assert "/_standin/scan?code_url=weixin" in shown.text  # the demo's way to "scan"

    payment_id = parse_qs(urlsplit(chosen.headers["location"]).query)["payment"][0]
    status_url = f"/m/{slug}/pay/{order}/status?payment={payment_id}"
    assert (await world.client.get(status_url)).json()["paid"] is False
    payment = await world.payment(payment_id)
    cb = world.standins.wechatpay.complete_payment(world.wechat.config.mchid, payment.out_trade_no)
    assert (await world.deliver(cb)).status_code == 204
    status = (await world.client.get(status_url)).json()
    assert status == {
        "order_status": "completed",
        "payment_state": "succeeded",
        "paid": True,
        "next": f"/m/{slug}/pay/{order}?payment={payment_id}",
    }
    receipt = await world.client.get(status["next"])
    assert 'id="pay-done"' in receipt.text


async def test_h5_goes_to_wechat_and_comes_back(world: World) -> None:
    slug = world.tenant.slug
    order = await world.order(10_00)

    chosen = await world.client.post(f"/m/{slug}/pay/{order}", data={"method": "wechat_h5"})

    assert chosen.status_code == 303
    target = urlsplit(chosen.headers["location"])
    assert target.path == "/cgi-bin/mmpayweb-bin/checkmweb"
    back = parse_qs(target.query)["redirect_url"][0]
    assert back.startswith(f"{world.state.settings.base_url}/m/{slug}/pay/{order}?payment=pay_")


async def test_a_refused_start_is_explained_on_the_page(world: World) -> None:
    slug = world.tenant.slug
    order = await world.order(10_00)
    async with UnitOfWork(world.state.write_factory) as uow:
        found = await orders.get_payable_by_public_id(uow.session, world.tenant, order)
        await orders.cancel_order(uow.session, world.tenant, found.id, actor="system", reason="t")
        await uow.commit()

    chosen = await world.client.post(f"/m/{slug}/pay/{order}", data={"method": "sandbox"})

    assert chosen.headers["location"] == f"/m/{slug}/pay/{order}?error=order_not_payable"
    page = await world.client.get(chosen.headers["location"], headers={"Accept-Language": "zh-CN"})
    assert "该订单已不在待支付状态" in page.text


async def test_a_customers_order_needs_its_customer_and_goes_to_the_order_page(
    world: World,
) -> None:
    slug = world.tenant.slug
    async with UnitOfWork(world.state.write_factory) as uow:
        customer, token = await sandbox_login(uow.session, world.tenant, name="Bea", kind="web")
        made = await orders.create_face_to_face_order(
            uow.session,
            world.tenant,
            amount_fen=2_00,
            store_id=None,
            guide_staff_id=None,
            customer_id=customer.id,
            note="",
        )
        await uow.commit()
    anonymous = await world.client.get(f"/m/{slug}/pay/{made.public_id}")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith(f"/m/{slug}/login?next=")

    world.client.cookies.set(cookie_name(world.state.settings, slug), token)
    async with UnitOfWork(world.state.read_factory) as uow:
        csrf = await csrf_for(uow.session, world.tenant, token)
    no_csrf = await world.client.post(
        f"/m/{slug}/pay/{made.public_id}", data={"method": "sandbox"}, headers=HTML
    )
    assert no_csrf.status_code == 403
    chosen = await world.client.post(
        f"/m/{slug}/pay/{made.public_id}", data={"method": "sandbox", "csrf_token": csrf}
    )
    payment_id = parse_qs(urlsplit(chosen.headers["location"]).query)["payment"][0]
    page = await world.client.get(chosen.headers["location"])
    assert 'id="sandbox-pay"' in page.text
    paid = await world.client.post(
        f"/m/{slug}/pay/{made.public_id}/sandbox", data={"payment": payment_id, "csrf_token": csrf}
    )
    assert paid.status_code == 303
    after = await world.client.get(paid.headers["location"])
    assert (after.status_code, after.headers["location"]) == (
        303,
        f"/m/{slug}/orders/{made.public_id}",
    )
    world.client.cookies.clear()


async def test_face_to_face_page_takes_an_amount_and_pays(world: World) -> None:
    slug = world.tenant.slug
    page = await world.client.get(
        f"/m/{slug}/qr/{world.code}", headers={"Accept-Language": "zh-CN"}
    )
    assert page.status_code == 200
    assert 'id="payee">静安门店<' in page.text

    bad = await world.client.post(
        f"/m/{slug}/qr/{world.code}", data={"amount": "1.234", "method": "sandbox"}
    )
    assert bad.status_code == 422
    chosen = await world.client.post(
        f"/m/{slug}/qr/{world.code}", data={"amount": "12.5", "method": "sandbox"}
    )
    assert chosen.status_code == 303
    location = urlsplit(chosen.headers["location"])
    order_id = location.path.rsplit("/", 1)[1]
    payment_id = parse_qs(location.query)["payment"][0]
    await world.client.post(f"/m/{slug}/pay/{order_id}/sandbox", data={"payment": payment_id})
    order = await world.payable(order_id)
    assert (order.kind, order.store_id, order.paid_fen) == ("face_to_face", world.store_id, 12_50)
    assert (await world.client.get(f"/m/{slug}/qr/nosuchcode")).status_code == 404


async def _console(world: World) -> str:
    form = await world.client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    await world.client.post(
        "/console/login",
        data={
            "merchant": world.tenant.slug,
            "phone": "13800000001",
            "password": PASSWORD,
            "csrf_token": token[1],
        },
    )
    page = await world.client.get("/console")
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert csrf is not None
    return csrf[1]


async def test_console_payments_codes_reconciliation_and_refund_form(world: World) -> None:
    order = await world.order(30_00, store_id=world.store_id)
    started = await world.start(order, "wechat_native")
    payment = await world.payment(started["payment"])
    cb = world.standins.wechatpay.complete_payment(world.wechat.config.mchid, payment.out_trade_no)
    assert (await world.deliver(cb)).status_code == 204
    csrf = await _console(world)

    listed = await world.client.get("/console/payments")
    assert f'data-payment="{payment.public_id}" data-state="succeeded"' in listed.text
    codes = await world.client.get("/console/qrcodes")
    assert codes.text.count('class="qr-card"') == 1 and "<svg" in codes.text
    code_id = re.search(r'data-code="([a-z0-9_]+)"', codes.text)
    assert code_id is not None
    png = await world.client.get(f"/console/qrcodes/{code_id[1]}.png")
    svg = await world.client.get(f"/console/qrcodes/{code_id[1]}.svg")
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    assert svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content

    refused = await world.client.post(
        f"/console/orders/{order}/refunds", data={"amount": "30.01", "csrf_token": csrf}
    )
    refunded = await world.client.post(
        f"/console/orders/{order}/refunds",
        data={"amount": "10", "reason": "少发一件", "csrf_token": csrf},
    )
    assert refused.status_code == 303, refused.text
    assert refused.headers["location"] == f"/console/orders/{order}?refund_error=refund_not_allowed"
    assert refunded.headers["location"] == f"/console/orders/{order}?refund=requested"
    [refund] = await world.refunds(payment.id)
    assert (refund.amount_fen, refund.reason, refund.automatic) == (10_00, "少发一件", False)

    ran = await world.client.post(
        "/console/reconciliation", data={"day": "2026-11-23", "csrf_token": csrf}
    )
    assert ran.status_code == 303
    page = await world.client.get(ran.headers["location"])
    assert 'data-day="2026-11-23"' in page.text


async def test_a_customers_payment_is_hidden_from_others(world: World) -> None:
    slug = world.tenant.slug
    async with UnitOfWork(world.state.write_factory) as uow:
        customer, token = await sandbox_login(uow.session, world.tenant, name="Cai")
        _other, other_token = await sandbox_login(uow.session, world.tenant, name="Dan")
        made = await orders.create_face_to_face_order(
            uow.session,
            world.tenant,
            amount_fen=2_00,
            store_id=None,
            guide_staff_id=None,
            customer_id=customer.id,
            note="",
        )
        await uow.commit()
    mine = {"Authorization": f"Bearer {token}"}
    theirs = {"Authorization": f"Bearer {other_token}"}
    started = await world.client.post(
        f"/api/v1/mall/{slug}/payments",
        json={"order": made.public_id, "method": "sandbox"},
        headers=mine,
    )
    assert started.status_code == 201
    payment = started.json()["payment"]
    by_other = await world.client.post(
        f"/api/v1/mall/{slug}/payments",
        json={"order": made.public_id, "method": "sandbox"},
        headers=theirs,
    )
    read_by_other = await world.client.get(
        f"/api/v1/mall/{slug}/payments/{payment}", headers=theirs
    )
    paid_by_other = await world.client.post(
        f"/api/v1/mall/{slug}/payments/{payment}/sandbox-pay", headers=theirs
    )
    paid_by_owner = await world.client.post(
        f"/api/v1/mall/{slug}/payments/{payment}/sandbox-pay", headers=mine
    )

    assert [r.status_code for r in (by_other, read_by_other, paid_by_other)] == [404, 404, 404]
    assert paid_by_owner.json()["state"] == "succeeded"


async def test_inside_wechat_the_customer_pays_with_jsapi(world: World) -> None:
    slug = world.tenant.slug
    async with UnitOfWork(world.state.write_factory) as uow:
        customer, token = await sandbox_login(uow.session, world.tenant, name="Eve", kind="web")
        customer.openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
        made = await orders.create_face_to_face_order(
            uow.session,
            world.tenant,
            amount_fen=66_00,
            store_id=None,
            guide_staff_id=None,
            customer_id=customer.id,
            note="",
        )
        await uow.commit()
    async with UnitOfWork(world.state.read_factory) as uow:
        csrf = await csrf_for(uow.session, world.tenant, token)
    world.client.cookies.set(cookie_name(world.state.settings, slug), token)
    wechat = {"User-Agent": "Mozilla/5.0 (iPhone) AppleWebKit MicroMessenger/8.0.50 NetType/WIFI"}

    page = await world.client.get(f"/m/{slug}/pay/{made.public_id}", headers=wechat)
    methods = re.findall(r'data-method="([a-z_0-9]+)"', page.text)
    chosen = await world.client.post(
        f"/m/{slug}/pay/{made.public_id}",
        data={"method": "wechat_jsapi", "csrf_token": csrf},
        headers=wechat,
    )
    shown = await world.client.get(chosen.headers["location"], headers=wechat)
    world.client.cookies.clear()

    assert methods == ["wechat_jsapi", "wechat_native", "alipay_qr", "sandbox"]
    bridge = re.search(r"id=\"jsapi-pay\" type=\"button\"\s+data-params='([^']+)'", shown.text)
    assert bridge is not None
    params = json.loads(html.unescape(bridge[1]))
    assert params["appId"] == world.wechat.config.appid
    assert params["package"].startswith("prepay_id=")
    payment_id = parse_qs(urlsplit(chosen.headers["location"]).query)["payment"][0]
    payment = await world.payment(payment_id)
    trade = world.standins.wechatpay.find_trade(world.wechat.config.mchid, payment.out_trade_no)
    assert trade.payer_openid == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


async def test_inside_wechat_without_an_openid_the_page_offers_a_wechat_login(
    world: World,
) -> None:
    slug = world.tenant.slug
    order = await world.order(1_00)
    wechat = {"User-Agent": "Mozilla/5.0 (Android) MicroMessenger/8.0.49"}

    inside = await world.client.get(f"/m/{slug}/pay/{order}", headers=wechat)
    outside = await world.client.get(f"/m/{slug}/pay/{order}")

    assert f'href="/m/{slug}/login?next=/m/{slug}/pay/{order}"' in inside.text
    assert 'id="wechat-login"' not in outside.text
    assert 'data-method="wechat_h5"' not in inside.text  # H5 is for browsers outside WeChat
