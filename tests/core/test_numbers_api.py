"""Numbers from outside are JSON integers within their bounds (issue #11 case 17): ``true``
and ``"12"`` used to be taken as 1 and 12 (Pydantic's lax mode) for amounts, stock,
quantities and commission rates. Each is a 422 naming the field, and nothing changes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from loopmall.core.numbers import NotAWholeNumber, form_int
from loopmall.core.state import AppState
from tests.factories import make_merchant, owner_headers

NOT_INTEGERS = [True, "12", 12.5, None]


def _names(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_failed"
    assert any(e["loc"][-1] == field for e in r.json()["errors"]), r.json()["errors"]


@pytest.mark.parametrize("bad", [*NOT_INTEGERS, 10_001, -1])
async def test_a_commission_rate(state: AppState, client: httpx.AsyncClient, bad: Any) -> None:
    _tenant, headers = await owner_headers(state, client)
    before = (await client.get("/api/v1/commission/rules", headers=headers)).json()

    r = await client.put("/api/v1/commission/rules", json={"store_bp": bad}, headers=headers)

    _names(r, "store_bp")
    assert (await client.get("/api/v1/commission/rules", headers=headers)).json() == before
    ok = await client.put("/api/v1/commission/rules", json={"store_bp": 250}, headers=headers)
    assert ok.status_code == 200 and ok.json()["store_bp"] == 250


@pytest.mark.parametrize("bad", NOT_INTEGERS)
async def test_an_amount(state: AppState, client: httpx.AsyncClient, bad: Any) -> None:
    await make_merchant(state, "acme")
    r = await client.post(
        "/api/v1/mall/acme/codes/abc/payments", json={"amount_fen": bad, "method": "wechat_h5"}
    )
    _names(r, "amount_fen")


@pytest.mark.parametrize("bad", [True, "2"])
async def test_a_flash_sale_price_and_stock(
    state: AppState, client: httpx.AsyncClient, bad: Any
) -> None:
    _tenant, headers = await owner_headers(state, client)
    for field in ("price_fen", "stock", "per_person_limit"):
        r = await client.post("/api/v1/flash-sales", json={field: bad}, headers=headers)
        _names(r, field)


@pytest.mark.parametrize("bad", [True, "3"])
async def test_a_stock_adjustment(state: AppState, client: httpx.AsyncClient, bad: Any) -> None:
    _tenant, headers = await owner_headers(state, client)
    body = {"sku": "sku_0000000000000000", "location": "online", "delta": bad, "reason": "x"}
    _names(await client.post("/api/v1/stock/adjust", json=body, headers=headers), "delta")


@pytest.mark.parametrize("bad", [True, "2", 2.0])
async def test_a_cart_quantity(state: AppState, client: httpx.AsyncClient, bad: Any) -> None:
    await make_merchant(state, "acme")
    login = await client.post("/api/v1/mall/acme/auth/sandbox", json={"name": "阿花"})
    assert login.status_code == 201, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

    r = await client.post(
        "/api/v1/mall/acme/cart/items",
        json={"sku": "sku_0000000000000000", "quantity": bad},
        headers=headers,
    )

    _names(r, "quantity")
    assert (await client.get("/api/v1/mall/acme/cart", headers=headers)).json()["lines"] == []


@pytest.mark.parametrize(
    ("text", "number"),
    [("12", 12), (" 12 ", 12), ("-3", -3), ("+4", 4), ("0", 0), ("１２", 12), ("－３", -3)],
)
def test_a_form_keeps_parsing_digits(text: str, number: int) -> None:
    assert form_int(text, field="qty") == number


@pytest.mark.parametrize("text", ["12abc", "true", "1e3", "1_000", "", "-", "1.0", "²", "٣", "1 2"])
def test_a_form_refuses_what_is_not_a_whole_number(text: str) -> None:
    with pytest.raises(NotAWholeNumber) as raised:
        form_int(text, field="qty")
    assert raised.value.to_problem()["field"] == "qty"


def test_a_form_number_out_of_bounds() -> None:
    with pytest.raises(NotAWholeNumber) as raised:
        form_int("10001", field="rate", ge=0, le=10_000)
    assert (raised.value.extra["min"], raised.value.extra["max"]) == (0, 10_000)
