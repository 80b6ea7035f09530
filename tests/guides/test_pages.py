"""The guide's pages, the mall chat page and the console guides page (rendered HTML)."""

from __future__ import annotations

import httpx

from loopmall.core.state import AppState
from tests.guides.fixtures import make_world, start_chat


async def test_the_workbench_shows_conversations_codes_and_customers(
    state: AppState, client: httpx.AsyncClient
) -> None:
    world = await make_world(state, client)
    conversation = await start_chat(client, world, "想要黑色连衣裙")
    page = await client.get("/guide", headers=world.guide_headers)
    assert page.status_code == 200, page.text
    assert "导购工作台" in page.text
    assert f'href="/guide/c/{conversation}"' in page.text
    assert "小红" in page.text
    assert 'src="data:image/png;base64,' in page.text  # the guide's own QR code

    chat = await client.get(f"/guide/c/{conversation}", headers=world.guide_headers)
    assert chat.status_code == 200
    assert "想要黑色连衣裙" in chat.text and 'id="hold-form"' in chat.text
    hidden = await client.get(f"/guide/c/{conversation}", headers=world.stranger_headers)
    assert hidden.status_code == 404

    listed = await client.get("/api/v1/guides/customers", headers=world.guide_headers)
    customer = listed.json()["items"]
    profile = await client.get(f"/guide/customers/{customer[0]['id']}", headers=world.guide_headers)
    assert profile.status_code == 200 and "小红" in profile.text
    other = await client.get(
        f"/guide/customers/{customer[0]['id']}", headers=world.stranger_headers
    )
    assert other.status_code == 404

    cashier = await client.post(
        "/api/v1/auth/token",
        json={"merchant": "vero", "phone": world.cashier.phone, "password": "correct-horse-42"},
    )
    headers = {"Authorization": f"Bearer {cashier.json()['access_token']}"}
    assert (await client.get("/guide", headers=headers)).status_code == 403


async def test_the_mall_chat_page_offers_guides_then_the_conversation(
    state: AppState, client: httpx.AsyncClient
) -> None:
    world = await make_world(state, client)
    pick = await client.get("/m/vero/chat", headers=world.shopper)
    assert pick.status_code == 200
    assert "选择导购" in pick.text and f"guide={world.guide.public_id}" in pick.text
    await start_chat(client, world, "你好")
    page = await client.get("/m/vero/chat", headers=world.shopper)
    assert page.status_code == 200
    assert 'id="guide-name">小美<' in page.text and "你好" in page.text
    anonymous = await client.get("/m/vero/chat", follow_redirects=False)
    assert anonymous.status_code == 303 and "/m/vero/login" in anonymous.headers["location"]


async def test_the_console_lists_guides_and_hands_customers_over(
    state: AppState, client: httpx.AsyncClient
) -> None:
    world = await make_world(state, client)
    await start_chat(client, world, "你好")
    page = await client.get("/console/guides", headers=world.owner)
    assert page.status_code == 200
    assert f'data-guide="{world.guide.public_id}"' in page.text
    one = await client.get(f"/console/guides?guide={world.guide.public_id}", headers=world.owner)
    assert 'id="hand-over-form"' in one.text and "小红" in one.text
    moved = await client.post(
        "/console/guides/hand-over",
        data={"from_guide": world.guide.public_id, "to_guide": world.colleague.public_id},
        headers=world.owner,
        follow_redirects=False,
    )
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/console/guides?guide={world.colleague.public_id}&done=1"
    after = await client.get(moved.headers["location"], headers=world.owner)
    assert "交接完成：已转移 1 位顾客" in after.text and "小红" in after.text
