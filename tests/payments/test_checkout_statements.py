"""Checkout → pay → callback through the API, statements per step pinned (issue #13 item 4).

Each step a buyer's phone and WeChat Pay make — add to cart, check out, start a WeChat Pay
Native payment (the real adapter against the stand-in), the signed callback — and the
subscribers that run after the order is placed and after it is paid, with the statements
each sends counted (tests/reads.py). A change that adds a statement to a step, or one per
cart line where there was none, fails here; so does one that makes a step cheaper: then
lower the pin (bench/checkout_profile.py lists a step's statements).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.inventory.locations import default_warehouse
from loopmall.inventory.service import adjust_stock
from tests.inventory.fixtures import make_skus
from tests.orders.fixtures import ADDRESS, ShopperLogin, login_shopper
from tests.payments.conftest import World
from tests.reads import reading

# Statements per step for a one-line cart. The shopper's mall and session are two of each
# request's; an Idempotency-Key costs three (look, claim, keep the answer).
ONE_LINE = {
    # idempotency 3, shopper 2; the SKU with the count of the cart's other lines; the
    # upsert; the cart shown back (its lines with prices, the free stock).
    "cart add": 9,
    # idempotency 3, shopper 2; the cart priced (2); the warehouse; the order; the hold
    # (lock, raise held, hold, ledger); the lines; the timeline; the cart emptied; the
    # event. The answer is built from what was written, not read back.
    "checkout": 17,
    # shopper 2; the order, the account with a recent attempt, the new attempt; the provider's
    # answer kept (one conditional UPDATE).
    "pay start": 6,
    # the account and its merchant; the payment locked and paid; the order locked, its
    # lines; the hold sold (lock, hold, level, ledger); the order paid, its timeline, the
    # flash-sale hook; the two events; the callback's record.
    "callback": 16,
}
# A cart of several lines costs once more: checkout makes sure every line's stock level
# exists before it locks them together in id order; paying reads the holds' levels to sell
# them in that order.
SEVERAL_LINES = {"cart add": 0, "checkout": 1, "pay start": 0, "callback": 1}
# And each line: checkout raises held with one conditional UPDATE per line and ensures its
# level (SQLite cannot batch the holds' INSERT … RETURNING either); paying sells each hold
# (lock its level, the hold, the level, the ledger).
PER_LINE = {
    "postgres": {"cart add": 0, "checkout": 2, "pay start": 0, "callback": 4},
    "sqlite": {"cart add": 0, "checkout": 3, "pay start": 0, "callback": 4},
}
# The outbox delivering what the steps published to every subscriber (notifications'
# inbox, attribution's credit); the machinery of delivery is most of it. A customer's first
# paid order also marks the customer as paying (one UPDATE more).
SUBSCRIBERS = {"after checkout": [16, 16], "after payment": [28, 27]}


@dataclass
class Buyer:
    world: World
    login: ShopperLogin
    counted: dict[str, list[int]]

    @property
    def base(self) -> str:
        return f"/api/v1/mall/{self.world.tenant.slug}"

    def keyed(self) -> dict[str, str]:
        return {**self.login.headers, "Idempotency-Key": uuid.uuid4().hex}

    async def step(self, name: str, method: str, path: str, **kwargs: object) -> dict:
        with reading(self.world.state) as reads:
            response = await self.world.client.request(method, path, **kwargs)  # type: ignore[arg-type]
        assert response.status_code in (200, 201, 204), response.text
        self.counted.setdefault(name, []).append(len(reads.statements))
        return response.json() if response.content else {}

    async def drained(self, name: str) -> None:
        with reading(self.world.state) as reads:
            await self.world.drain()
        self.counted.setdefault(name, []).append(len(reads.statements))

    async def buy(self, skus: list[str]) -> None:
        for sku in skus:
            await self.step(
                "cart add",
                "POST",
                f"{self.base}/cart/items",
                json={"sku": sku, "quantity": 1},
                headers=self.keyed(),
            )
        body = {"fulfilment": "delivery", "address": ADDRESS}
        order = await self.step(
            "checkout", "POST", f"{self.base}/checkout", json=body, headers=self.keyed()
        )
        await self.drained("after checkout")
        pay = {"order": order["id"], "method": "wechat_native"}
        started = await self.step(
            "pay start", "POST", f"{self.base}/payments", json=pay, headers=self.login.headers
        )
        payment = await self.world.payment(started["payment"])
        standin = self.world.standins.wechatpay
        callback = standin.complete_payment(self.world.wechat.config.mchid, payment.out_trade_no)
        with reading(self.world.state) as reads:
            answer = await self.world.deliver(callback)
        assert answer.status_code == 204, answer.text
        self.counted.setdefault("callback", []).append(len(reads.statements))
        await self.drained("after payment")
        assert (await self.world.payable(order["id"])).status == "paid"


async def _stocked_skus(state: AppState, world: World, count: int) -> list[str]:
    skus = await make_skus(state, world.tenant, count)
    async with UnitOfWork(state.write_factory) as uow:
        warehouse = await default_warehouse(uow.session, world.tenant)
        for sku in skus:
            await adjust_stock(
                uow.session,
                world.tenant,
                sku_id=sku.id,
                location_id=warehouse.id,
                delta=50,
                reason="arrived",
                actor="system",
                kind="receive",
            )
        await uow.commit()
    return [sku.public_id for sku in skus]


async def _buyer(state: AppState, world: World, name: str) -> Buyer:
    return Buyer(world, await login_shopper(state, world.tenant, name=name), {})


async def test_every_step_of_checkout_to_paid_sends_a_pinned_number_of_statements(
    state: AppState, world: World, backend: str
) -> None:
    skus = await _stocked_skus(state, world, 4)
    warm = await _buyer(state, world, "先来的")
    await warm.buy(skus[:1])  # the first order of a mall makes its rows and fills caches
    one = await _buyer(state, world, "一件")
    four = await _buyer(state, world, "四件")

    await one.buy(skus[1:2])
    await one.buy(skus[2:3])
    await four.buy(skus)

    per_line = PER_LINE[backend]
    for step, pinned in ONE_LINE.items():
        assert one.counted[step] == [pinned, pinned], step
    for step in ("checkout", "pay start", "callback"):
        four_lines = ONE_LINE[step] + SEVERAL_LINES[step] + 3 * per_line[step]
        assert four.counted[step] == [four_lines], step
    # Each add costs the same whatever the cart holds already.
    assert four.counted["cart add"] == [ONE_LINE["cart add"]] * 4
    for step, pinned in SUBSCRIBERS.items():
        assert one.counted[step] == pinned, step
        assert four.counted[step] == pinned[:1], step


async def test_the_answer_of_a_checkout_is_the_order_as_read_back(world: World) -> None:
    """The checkout answers the order from what it wrote, without reading it back: that
    answer is exactly what reading the order answers."""
    state = world.state
    skus = await _stocked_skus(state, world, 2)
    buyer = await _buyer(state, world, "小红")
    for sku in skus:
        await buyer.step(
            "cart add",
            "POST",
            f"{buyer.base}/cart/items",
            json={"sku": sku, "quantity": 2},
            headers=buyer.keyed(),
        )
    body = {"fulfilment": "delivery", "address": ADDRESS, "note": "请放门卫"}

    placed = await buyer.step(
        "checkout", "POST", f"{buyer.base}/checkout", json=body, headers=buyer.keyed()
    )

    read = await world.client.get(
        f"{buyer.base}/orders/{placed['id']}", headers=buyer.login.headers
    )
    assert read.status_code == 200
    assert placed == read.json()
    assert [line["quantity"] for line in placed["lines"]] == [2, 2]
    assert [step["status"] for step in placed["steps"]] == ["created"]
    assert placed["pay_url"] == f"/m/{world.tenant.slug}/pay/{placed['id']}"
