"""The chat through the HTTP API: a customer asks, the guide answers with a card, the
customer picks it; history pages; who sees which customer; hand-over; bad input."""

from __future__ import annotations

import httpx

from loopmall.core import clock
from loopmall.core.state import AppState
from tests.guides.fixtures import AFTERNOON_SLOT, MORNING, make_world, start_chat


async def test_a_customer_asks_the_guide_answers_with_a_card_and_the_customer_picks_it(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    frozen_clock.set(MORNING)
    world = await make_world(state, client)
    conversation = await start_chat(client, world, "想要一条晚宴穿的黑色连衣裙，M码")

    listed = await client.get("/api/v1/guides/conversations", headers=world.guide_headers)
    assert [(c["id"], c["unread"]) for c in listed.json()] == [(conversation, 1)]
    # Another guide of the store does not see it; nor does a guide of another store.
    for other in (world.colleague_headers, world.stranger_headers):
        assert (await client.get("/api/v1/guides/conversations", headers=other)).json() == []
        hidden = await client.get(
            f"/api/v1/guides/conversations/{conversation}/messages", headers=other
        )
        assert hidden.status_code == 404

    history = await client.get(
        f"/api/v1/guides/conversations/{conversation}/messages", headers=world.guide_headers
    )
    assert [(m["sender"], m["body"]) for m in history.json()] == [
        ("customer", "想要一条晚宴穿的黑色连衣裙，M码")
    ]
    cards = await client.get("/api/v1/guides/cards?q=大衣", headers=world.guide_headers)
    camel_l = next(c for c in cards.json() if c["sku"] == world.skus["驼/L"])
    assert (camel_l["title"], camel_l["price_fen"], camel_l["in_store"]) == ("羊毛大衣", 59900, 2)

    card = await client.post(
        f"/api/v1/guides/conversations/{conversation}/messages",
        json={"kind": "card", "sku": world.skus["驼/L"], "body": "这件很适合晚宴"},
        headers=world.guide_headers,
    )
    assert card.status_code == 201, card.text
    assert card.json()["card"]["sku"] == world.skus["驼/L"]

    mine = await client.get("/api/v1/mall/vero/chat/messages", headers=world.shopper)
    assert [m["kind"] for m in mine.json()] == ["text", "card"]
    picked = await client.post(
        "/api/v1/mall/vero/chat/messages",
        json={"pick": card.json()["id"]},
        headers=world.shopper,
    )
    assert picked.status_code == 201
    assert (picked.json()["kind"], picked.json()["body"], picked.json()["card"]["sku"]) == (
        "pick",
        "我想试试这件",
        world.skus["驼/L"],
    )
    # Picking a text message is refused, nothing stored.
    wrong = await client.post(
        "/api/v1/mall/vero/chat/messages",
        json={"pick": mine.json()[0]["id"]},
        headers=world.shopper,
    )
    assert (wrong.status_code, wrong.json()["code"]) == (422, "validation_failed")

    # The customer's message bound them to the guide: the guide's customers list them.
    customers = await client.get("/api/v1/guides/customers", headers=world.guide_headers)
    assert [c["name"] for c in customers.json()["items"]] == ["小红"]
    other_store = await client.get("/api/v1/guides/customers", headers=world.stranger_headers)
    assert other_store.json() == {"items": [], "next_cursor": None}


async def test_a_guide_cannot_read_another_stores_customer(
    state: AppState, client: httpx.AsyncClient
) -> None:
    world = await make_world(state, client)
    await start_chat(client, world, "你好")
    customers = await client.get("/api/v1/guides/customers", headers=world.guide_headers)
    customer = customers.json()["items"][0]["id"]
    mine = await client.get(f"/api/v1/guides/customers/{customer}", headers=world.guide_headers)
    assert mine.status_code == 200 and mine.json()["customer"]["name"] == "小红"
    for other in (world.stranger_headers, world.colleague_headers):
        refused = await client.get(f"/api/v1/guides/customers/{customer}", headers=other)
        assert (refused.status_code, refused.json()["code"]) == (404, "customer_not_found")
        tag = await client.post(
            f"/api/v1/guides/customers/{customer}/tags", json={"tag": "VIP"}, headers=other
        )
        assert tag.status_code == 404
    tags = await client.post(
        f"/api/v1/guides/customers/{customer}/tags",
        json={"tag": "喜欢黑色"},
        headers=world.guide_headers,
    )
    assert tags.json() == ["喜欢黑色"]
    owner = await client.get(f"/api/v1/guides/customers/{customer}", headers=world.owner)
    assert owner.json()["customer"]["tags"] == ["喜欢黑色"]


async def test_a_leaving_guide_hands_customers_and_conversations_over(
    state: AppState, client: httpx.AsyncClient, frozen_clock: clock.FrozenClock
) -> None:
    frozen_clock.set(MORNING)
    world = await make_world(state, client)
    conversation = await start_chat(client, world, "你好")
    held = await client.post(
        "/api/v1/guides/holds",
        json={"conversation": conversation, "sku": world.skus["驼/L"], "ttl_seconds": 24 * 3600},
        headers=world.guide_headers,
    )
    booked = await client.post(
        "/api/v1/guides/fittings",
        json={"conversation": conversation, "starts_at": AFTERNOON_SLOT, "hold": held.json()["id"]},
        headers=world.guide_headers,
    )
    assert booked.status_code == 201
    to_cashier = await client.post(
        "/api/v1/guides/hand-over",
        json={"from_guide": world.guide.public_id, "to_guide": world.cashier.public_id},
        headers=world.owner,
    )
    assert (to_cashier.status_code, to_cashier.json()["code"]) == (422, "not_a_guide")
    refused = await client.post(
        "/api/v1/guides/hand-over",
        json={"from_guide": world.guide.public_id, "to_guide": world.colleague.public_id},
        headers=world.guide_headers,
    )
    assert refused.status_code == 403
    done = await client.post(
        "/api/v1/guides/hand-over",
        json={"from_guide": world.guide.public_id, "to_guide": world.colleague.public_id},
        headers=world.owner,
    )
    assert done.json() == {"customers": 1, "conversations": 1, "holds": 1, "fittings": 1}
    assert (await client.get("/api/v1/guides/fittings", headers=world.guide_headers)).json() == []
    theirs_now = await client.get("/api/v1/guides/fittings", headers=world.colleague_headers)
    assert [f["id"] for f in theirs_now.json()] == [booked.json()["id"]]
    theirs = await client.get("/api/v1/guides/conversations", headers=world.colleague_headers)
    assert [c["id"] for c in theirs.json()] == [conversation]
    assert (
        await client.get("/api/v1/guides/conversations", headers=world.guide_headers)
    ).json() == []
    history = await client.get("/api/v1/mall/vero/chat/messages", headers=world.shopper)
    assert history.json()[-1]["body"] == "您的专属导购已更换为 小丽"
    staff = await client.get("/api/v1/guides/staff", headers=world.owner)
    counts = {g["name"]: g["customers"] for g in staff.json()["items"]}
    assert (counts["小美"], counts["小丽"]) == (0, 1)


async def test_the_shopper_needs_a_guide_and_a_real_one(
    state: AppState, client: httpx.AsyncClient
) -> None:
    world = await make_world(state, client)
    none_yet = await client.post("/api/v1/mall/vero/chat", json={}, headers=world.shopper)
    assert (none_yet.status_code, none_yet.json()["code"]) == (422, "guide_required")
    cashier = await client.post(
        "/api/v1/mall/vero/chat", json={"guide": world.cashier.public_id}, headers=world.shopper
    )
    assert (cashier.status_code, cashier.json()["code"]) == (422, "not_a_guide")
    unknown = await client.post(
        "/api/v1/mall/vero/chat", json={"guide": "stf_nobody"}, headers=world.shopper
    )
    assert unknown.status_code == 404
    empty = await client.post(
        "/api/v1/mall/vero/chat/messages", json={"body": "  "}, headers=world.shopper
    )
    assert empty.status_code == 422
    guides = await client.get("/api/v1/mall/vero/chat/guides?limit=2", headers=world.shopper)
    rest = await client.get(
        "/api/v1/mall/vero/chat/guides",
        params={"cursor": guides.json()["next_cursor"]},
        headers=world.shopper,
    )
    assert len(guides.json()["items"]) == 2 and rest.json()["next_cursor"] is None
    shown = guides.json()["items"] + rest.json()["items"]
    assert sorted(g["name"] for g in shown) == ["小丽", "小王", "小美"]
    anonymous = await client.get("/api/v1/mall/vero/chat/messages")
    assert anonymous.status_code == 401


async def test_history_pages_back_from_a_message(
    state: AppState, client: httpx.AsyncClient
) -> None:
    world = await make_world(state, client)
    conversation = await start_chat(client, world, "第1条")
    for n in range(2, 6):
        await client.post(
            "/api/v1/mall/vero/chat/messages", json={"body": f"第{n}条"}, headers=world.shopper
        )
    url = f"/api/v1/guides/conversations/{conversation}/messages"
    state.settings.chat_history_page = 2
    latest = await client.get(url, headers=world.guide_headers)
    assert [m["body"] for m in latest.json()] == ["第4条", "第5条"]
    older = await client.get(f"{url}?before={latest.json()[0]['id']}", headers=world.guide_headers)
    assert [m["body"] for m in older.json()] == ["第2条", "第3条"]
    oldest = await client.get(f"{url}?before={older.json()[0]['id']}", headers=world.guide_headers)
    assert [m["body"] for m in oldest.json()] == ["第1条"]
    unknown = await client.get(f"{url}?before=msg_nope", headers=world.guide_headers)
    assert unknown.status_code == 404
