"""Who may send money back and read the merchant-wide money report (#11 cases 6 and 12):
refunds need ``payments.refund`` (owner, manager), the reconciliation report — API and
console page — ``payments.reconcile``. A till's cashier refunds nothing, by API or form, and
the order page offers a cashier no refund form; store roles never see reconciliation."""

from __future__ import annotations

import pytest

from tests.factories import make_staff, token_for
from tests.merchants.conftest import console_login
from tests.payments.conftest import World

HTML = {"Accept": "text/html"}


async def _paid(world: World, amount_fen: int = 50_00) -> tuple[str, int]:
    """A face-to-face order of the world's store, paid through the sandbox, and the id of
    its payment."""
    order = await world.order(amount_fen, store_id=world.store_id)
    started = await world.start(order, "sandbox")
    slug = world.tenant.slug
    paid = await world.client.post(f"/api/v1/mall/{slug}/payments/{started['payment']}/sandbox-pay")
    assert paid.status_code == 200, paid.text
    assert (await world.payable(order)).paid_fen == amount_fen
    return order, (await world.payment(started["payment"])).id


async def _store_staff(world: World, role: str, phone: str) -> dict[str, str]:
    await make_staff(world.state, world.tenant, phone=phone, role=role, store_ids=(world.store_id,))
    return await token_for(world.client, world.tenant.slug, phone)


async def test_a_cashier_can_not_refund_by_api_and_nothing_changes(world: World) -> None:
    order, payment_id = await _paid(world)
    cashier = await _store_staff(world, "cashier", "13800000008")
    body = {"order": order, "amount_fen": 50_00, "reason": "顾客退货"}

    refused = await world.client.post("/api/v1/payments/refunds", json=body, headers=cashier)

    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert refused.json()["permission"] == "payments.refund"
    assert await world.refunds(payment_id) == []
    allowed = await world.client.post(
        "/api/v1/payments/refunds", json=body, headers=world.staff_headers
    )
    assert allowed.status_code == 201, allowed.text


async def test_a_cashier_gets_no_refund_form_and_its_post_is_refused(world: World) -> None:
    order, payment_id = await _paid(world)
    await make_staff(
        world.state,
        world.tenant,
        phone="13800000008",
        role="cashier",
        store_ids=(world.store_id,),
    )
    csrf = await console_login(world.client, world.tenant.slug, "13800000008")

    page = await world.client.get(f"/console/orders/{order}", headers=HTML)
    posted = await world.client.post(
        f"/console/orders/{order}/refunds",
        data={"amount": "50", "reason": "退货", "csrf_token": csrf},
        headers=HTML,
    )

    assert page.status_code == 200, page.text
    assert 'id="refund-form"' not in page.text
    assert posted.status_code == 403
    assert await world.refunds(payment_id) == []


async def test_the_owner_still_gets_the_refund_form(world: World) -> None:
    order, _payment_id = await _paid(world)
    await console_login(world.client, world.tenant.slug, "13800000001")

    page = await world.client.get(f"/console/orders/{order}", headers=HTML)

    assert 'id="refund-form"' in page.text


@pytest.mark.parametrize("role", ["cashier", "guide", "store_manager"])
async def test_store_roles_do_not_read_the_merchant_wide_reconciliation(
    world: World, role: str
) -> None:
    headers = await _store_staff(world, role, "13800000009")

    api = await world.client.get("/api/v1/payments/reconciliation", headers=headers)
    run = await world.client.post(
        "/api/v1/payments/reconciliation", json={"day": "2026-11-23"}, headers=headers
    )
    page = await world.client.get("/console/reconciliation", headers=headers)

    for answer in (api, run, page):
        assert (answer.status_code, answer.json()["code"]) == (403, "forbidden"), answer.text
        assert answer.json()["permission"] == "payments.reconcile"


@pytest.mark.parametrize("role", ["owner", "manager"])
async def test_owner_and_manager_read_reconciliation(world: World, role: str) -> None:
    if role == "owner":
        headers = world.staff_headers
    else:
        await make_staff(world.state, world.tenant, phone="13800000007", role=role)
        headers = await token_for(world.client, world.tenant.slug, "13800000007")

    api = await world.client.get("/api/v1/payments/reconciliation", headers=headers)
    page = await world.client.get("/console/reconciliation", headers=headers)

    assert (api.status_code, api.json()) == (200, [])
    assert page.status_code == 200
