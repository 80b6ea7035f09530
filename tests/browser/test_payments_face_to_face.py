"""A second consumer pays by face-to-face QR (收款码, issue #3 item 8): the store prints its
payment codes in the console; a passer-by's phone opens the code, sees the store's name,
types an amount, pays with WeChat Pay (H5) at the WeChat Pay stand-in and comes back to a
paid receipt; the console lists the payment, credited to the store."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.models import Store
from loopmall.payments import accounts
from loopmall.payments.models import Payment
from loopmall.standins.harness import PaymentStandins
from tests.browser.conftest import DESKTOP_VIEWPORT, LiveServer

pytestmark = pytest.mark.browser


def test_a_consumer_pays_a_store_by_its_payment_code(
    pay_env: PaymentStandins,
    live_server: LiveServer,
    new_context: Any,
    login: Any,
) -> None:
    owner = live_server.make_owner(slug="vero", name="VERO MODA")
    keys = pay_env.new_wechatpay_merchant(name="VERO MODA 静安店")

    async def seed(state: AppState) -> None:
        now = clock.now()
        async with UnitOfWork(state.write_factory) as uow:
            uow.session.add(
                Store(
                    merchant_id=owner.tenant.id,
                    public_id="st_browserpay0001",
                    code="JA01",
                    name="静安嘉里中心店",
                    created_at=now,
                    updated_at=now,
                )
            )
            await accounts.configure_account(
                uow.session, owner.tenant, "wechatpay", asdict(keys.config)
            )
            await uow.commit()

    live_server.run(seed)

    # The store manager prints the store's payment code.
    staff = new_context(viewport=DESKTOP_VIEWPORT).new_page()
    login(staff, owner)
    staff.goto("/console/qrcodes")
    card = staff.locator(".qr-card").first
    expect(card).to_contain_text("静安嘉里中心店")
    expect(card.locator("svg")).to_be_visible()
    code_url = card.locator("a.code-link").get_attribute("href")
    assert code_url is not None and code_url.startswith(f"{live_server.url}/m/vero/qr/")

    # A passer-by scans it with their phone.
    phone: Page = new_context().new_page()
    phone.goto(code_url)
    expect(phone.locator("#payee")).to_have_text("静安嘉里中心店")
    phone.fill("#amount", "128.5")
    phone.get_by_role("button", name="微信支付（H5）").click()

    # WeChat Pay's cashier (the stand-in) shows the amount; the customer confirms.
    expect(phone.locator(".amount")).to_have_text("¥128.50")
    phone.get_by_role("button", name="确认支付").click()

    # Back at the mall: paid.
    expect(phone).to_have_url(
        re.compile(rf"^{live_server.url}/m/vero/pay/ord_\w+\?payment=pay_\w+$")
    )
    expect(phone.locator("#pay-done")).to_contain_text("已支付")

    async def paid(state: AppState) -> list[tuple[str, int, str, int | None]]:
        async with UnitOfWork(state.read_factory) as uow:
            rows = await uow.session.scalars(select_payments(owner.tenant.id))
            return [(p.state, p.amount_fen, p.order_kind, p.store_id) for p in rows]

    [(state_, amount, kind, store_id)] = live_server.run(paid)
    assert (state_, amount, kind) == ("succeeded", 128_50, "face_to_face")
    assert store_id is not None

    # The console lists it, face-to-face, paid.
    staff.goto("/console/payments")
    row = staff.locator("#payments tbody tr").first
    expect(row).to_have_attribute("data-state", "succeeded")
    expect(row).to_contain_text("¥128.50")
    expect(row).to_contain_text("面对面收款")
    expect(row.locator(".credited")).to_have_text("静安嘉里中心店")


def select_payments(merchant_id: int) -> Any:
    from sqlalchemy import select

    return select(Payment).where(Payment.merchant_id == merchant_id).order_by(Payment.id)
