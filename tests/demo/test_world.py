"""The demo world: what SPEC promises is there, and loading twice duplicates nothing."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from loopmall.catalog.models import Product, Sku
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.demo.world import DEMO_PASSWORD, load
from loopmall.inventory.models import StockLevel as Level
from loopmall.merchants.models import Merchant, Store
from loopmall.staff.models import Staff


async def _count(state: AppState, model: type, *criteria: object) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        stmt = select(func.count()).select_from(model).where(*criteria)  # type: ignore[arg-type]
        return int(await uow.session.scalar(stmt) or 0)


async def _merchant_id(state: AppState, slug: str) -> int:
    async with UnitOfWork(state.read_factory) as uow:
        return int(await uow.session.scalar(select(Merchant.id).where(Merchant.slug == slug)))


async def test_demo_world_is_complete_and_loads_idempotently(
    state: AppState, client: httpx.AsyncClient
) -> None:
    first = await load(state)
    assert first.created == ["vero", "pancake", "duck", "fruit"]
    vero = await _merchant_id(state, "vero")
    fruit = await _merchant_id(state, "fruit")
    assert await _count(state, Store, Store.merchant_id == vero) == 3
    assert await _count(state, Staff, Staff.merchant_id == vero, Staff.role == "guide") == 6
    assert await _count(state, Product, Product.merchant_id == vero) == 40
    assert await _count(state, Store, Store.merchant_id == fruit) == 0
    await _has_the_o2o_and_social_parts(state, vero)
    await _each_mall_has_its_own_look_and_the_duck_seller_its_community(state, client)
    await _opens_a_flash_sale_soon_on_every_run(state, client)
    skus = await _count(state, Sku)
    levels = await _count(state, Level)
    assert skus > 40 * 4

    second = await load(state)
    assert second.created == []
    assert second.kept == ["vero", "pancake", "duck", "fruit"]
    assert await _count(state, Merchant) == 4
    assert await _count(state, Sku) == skus
    assert await _count(state, Level) == levels

    # The printed logins work.
    r = await client.post(
        "/api/v1/auth/token",
        json={"merchant": "vero", "phone": "13900000011", "password": DEMO_PASSWORD},
    )
    assert r.status_code == 201
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    stores = (await client.get("/api/v1/stores", headers=headers)).json()["items"]
    assert [s["code"] for s in stores] == ["SH001"]  # a guide sees only their own store


async def _has_the_o2o_and_social_parts(state: AppState, vero: int) -> None:
    """Issue #4 and #5's part of the demo: QR codes and posters, a share chain, a guide in
    conversation, commission rules and a flash sale open for reservations (checked on the
    first load of the test above: loading the world is the slow part of both)."""
    from loopmall.flashsale.models import FlashSale
    from loopmall.guides.models import ChatMessage, Conversation
    from loopmall.o2o.models import QrChannel
    from loopmall.rebates.models import CommissionRules
    from loopmall.social.models import Share

    mine = QrChannel.merchant_id == vero
    assert await _count(state, QrChannel, mine, QrChannel.kind == "store") == 3
    assert await _count(state, QrChannel, mine, QrChannel.kind == "guide") == 6
    assert await _count(state, QrChannel, mine, QrChannel.kind == "placement") == 2
    assert await _count(state, QrChannel, mine, QrChannel.kind == "join") == 1
    mine_shares = Share.merchant_id == vero
    assert await _count(state, Share, mine_shares) == 2
    assert await _count(state, Share, mine_shares, Share.parent_share_id.is_not(None)) == 1
    assert await _count(state, Conversation, Conversation.merchant_id == vero) == 1
    assert await _count(state, ChatMessage, ChatMessage.merchant_id == vero) == 4
    assert await _count(state, CommissionRules, CommissionRules.merchant_id == vero) == 1
    assert await _count(state, FlashSale, FlashSale.merchant_id == vero) == 0  # opened per run


async def _each_mall_has_its_own_look_and_the_duck_seller_its_community(
    state: AppState, client: httpx.AsyncClient
) -> None:
    """Issue #14 item 5: four malls, four colour schemes and four home pages (the duck and
    fruit malls looked identical, in the default colours); the duck seller has its club."""
    import re

    from loopmall.members.models import Membership
    from loopmall.o2o.models import QrChannel
    from loopmall.social.models import Share

    looks, homes = set(), set()
    for slug in ("vero", "pancake", "duck", "fruit"):
        html = (await client.get(f"/m/{slug}/")).text
        look = re.search(r"--brand: (#[0-9a-f]{6}); --accent: (#[0-9a-f]{6});", html)
        assert look is not None, slug
        assert look.group(1) != "#e4393c", slug  # not the default red
        looks.add(look.groups())
        headings = re.findall(r"<h[12][^>]*>([^<]+)<", html)
        homes.add(tuple(headings))
    assert len(looks) == 4
    assert len(homes) == 4
    duck = await _merchant_id(state, "duck")
    club = (QrChannel.merchant_id == duck, QrChannel.kind == "join")
    assert await _count(state, QrChannel, *club) == 1
    assert await _count(state, Membership, Membership.merchant_id == duck) == 11
    assert await _count(state, Share, Share.merchant_id == duck) == 2
    duck_home = (await client.get("/m/duck/")).text
    assert "鸭友会" in duck_home
    assert "招牌盐水鸭（整只）" in duck_home


async def _opens_a_flash_sale_soon_on_every_run(state: AppState, client: httpx.AsyncClient) -> None:
    """Issue #14 item 4: every run of the demo opens a flash sale for buying within a few
    minutes, reservations open now, and the fashion mall's home page leads to it."""
    from loopmall.core import clock
    from loopmall.demo.flash_sale import open_demo_sale
    from loopmall.flashsale.models import FlashSale

    for run in (1, 2):
        opened = await open_demo_sale(state)
        assert opened is not None
        async with UnitOfWork(state.read_factory) as uow:
            sale = await uow.session.scalar(
                select(FlashSale).where(FlashSale.public_id == opened.public_id)
            )
        assert sale is not None
        now = clock.now()
        assert sale.reserve_from.replace(tzinfo=None) <= now.replace(tzinfo=None)
        opens_in = sale.starts_at.replace(tzinfo=None) - now.replace(tzinfo=None)
        assert 0 < opens_in.total_seconds() <= 5 * 60
        assert sale.ends_at > sale.starts_at
        home = (await client.get("/m/vero/")).text
        assert home.count('href="/m/vero/flash/') == 1, run  # one banner, this run's sale
        assert f'href="{opened.path}"' in home
        page = await client.get(opened.path)
        assert page.status_code == 200
        assert "微信专享秒杀" in page.text
    assert await _count(state, FlashSale) == 2
