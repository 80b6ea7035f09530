"""A share chain A → B → C, clicked through on three phones: A shares the coat from its
product page; B opens A's link in their own browser, logs in and shares it on; C opens
B's link, logs in and buys it (sandbox payment). In the console the attribution ledger
credits B as the sharer and A as the upstream sharer, the commission ledger pays them what
the merchant's rules give (level 1 10 %, level 2 5 %), and the share chain shows the sale.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.payments import accounts, sandbox
from tests.browser.conftest import DESKTOP_VIEWPORT, LiveServer, console_login
from tests.factories import MadeStaff, make_staff
from tests.storefront.seed import Mall, seed_mall

pytestmark = pytest.mark.browser

PRICE = "599.00"


@dataclass
class World:
    mall: Mall
    owner: MadeStaff


async def seed(state: AppState) -> World:
    mall = await seed_mall(state)
    async with UnitOfWork(state.write_factory) as uow:
        await accounts.configure_account(
            uow.session, mall.tenant, "sandbox", sandbox.new_credentials()
        )
        await uow.commit()
    owner = await make_staff(state, mall.tenant)
    return World(mall, owner)


def log_in_from_share_bar(page: Page, name: str, back_to: str) -> None:
    page.locator("#share-login").click()
    page.locator("#sandbox-name").fill(name)
    page.locator("#sandbox-login").click()
    expect(page).to_have_url(back_to)


def share_link(page: Page) -> str:
    page.locator("#share-button").click()
    link = page.locator("#share-link")
    expect(link).to_have_value(re.compile(r"/m/vero/s/sh_\w+\.[\w-]+$"))
    expect(page.locator("#share-poster")).to_have_attribute(
        "href", re.compile(r"/m/vero/s/sh_\w+\.[\w-]+/poster\.png$")
    )
    return str(link.input_value())


def eventually(page: Page, url: str, locator: Callable[[], Locator], seconds: float = 20) -> None:
    """Reload ``url`` until ``locator()`` finds something: the outbox works after the sale."""
    deadline = time.monotonic() + seconds
    while True:
        page.goto(url)
        if locator().count() > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    expect(locator().first).to_be_visible()


def test_share_chain_credits_the_sharer_and_the_upstream_sharer(
    live_server: LiveServer, new_context: Any
) -> None:
    world = live_server.run(seed)
    coat = world.mall.coat
    product_url = f"{live_server.url}/m/vero/p/{coat}"

    # The merchant pays distributors 10 % (level 1) and 5 % (level 2), every customer may share.
    console = new_context(viewport=DESKTOP_VIEWPORT).new_page()
    console_login(console, world.owner)
    console.goto("/console/commission")
    console.fill("#rate-level1", "10")
    console.fill("#rate-level2", "5")
    console.select_option("#rate-policy", "everyone")
    console.locator("#rules-save").click()
    expect(console.locator("#commission-notice")).to_be_visible()

    # A logs in from the product page's share bar and shares the coat.
    a = new_context().new_page()
    a.goto(f"/m/vero/p/{coat}")
    log_in_from_share_bar(a, "阿花", product_url)
    a_link = share_link(a)

    # B opens A's link on their own phone, lands on the coat, logs in, shares it on.
    b = new_context().new_page()
    b.goto(urlsplit(a_link).path)
    expect(b).to_have_url(product_url)
    log_in_from_share_bar(b, "阿布", product_url)
    b_link = share_link(b)
    assert b_link != a_link

    # C opens B's link, logs in, buys the black coat in M and pays (sandbox).
    c = new_context().new_page()
    c.goto(urlsplit(b_link).path)
    expect(c).to_have_url(product_url)
    log_in_from_share_bar(c, "阿草", product_url)
    c.locator("label.chip", has_text="黑").click()
    c.locator("label.chip", has_text="M").click()
    c.locator("#add-to-cart").click()
    c.wait_for_url(re.compile(r".*/m/vero/cart$"))
    c.locator("#to-checkout").click()
    c.fill("input[name=name]", "阿草")
    c.fill("input[name=phone]", "13900000003")
    c.fill("textarea[name=address]", "北京市西城区西单北大街 120 号")
    c.locator("#place-order").click()
    c.wait_for_url(re.compile(r".*/m/vero/pay/ord_\w+$"))
    expect(c.locator("#pay-amount")).to_have_text(PRICE)
    c.locator("button[data-method=sandbox]").click()
    c.locator("#sandbox-pay").click()
    c.wait_for_url(re.compile(r".*/m/vero/orders/ord_\w+$"), timeout=15_000)
    expect(c.locator("#order-status")).to_have_text("已支付")

    # The attribution ledger: B is the sharer, A the upstream sharer, each for the sale.
    eventually(
        console, "/console/attribution", lambda: console.locator("#ledger tr[data-role=sharer]")
    )
    sharer = console.locator("#ledger tr[data-role=sharer]")
    upstream = console.locator("#ledger tr[data-role=upstream_sharer]")
    expect(sharer).to_have_count(1)
    expect(upstream).to_have_count(1)
    expect(sharer.locator(".beneficiary")).to_have_text("阿布")
    expect(upstream.locator(".beneficiary")).to_have_text("阿花")
    expect(sharer).to_contain_text(f"¥{PRICE}")
    expect(upstream).to_contain_text(f"¥{PRICE}")

    # The commission ledger: 10 % to B, 5 % to A.
    eventually(
        console, "/console/commission", lambda: console.locator("#ledger tr[data-role=sharer]")
    )
    level1 = console.locator("#ledger tr[data-role=sharer]")
    level2 = console.locator("#ledger tr[data-role=upstream_sharer]")
    expect(level1).to_have_count(1)
    expect(level2).to_have_count(1)
    expect(level1.locator(".earner")).to_contain_text("阿布")
    expect(level1.locator(".amount")).to_have_text("¥59.90")
    expect(level2.locator(".earner")).to_contain_text("阿花")
    expect(level2.locator(".amount")).to_have_text("¥29.95")

    # The share chain: A's share with B's under it; the sale is B's share's.
    console.goto("/console/shares")
    chain = console.locator(".share-chain")
    expect(chain).to_have_count(1)
    root = chain.locator(".share-tree > .share-node")
    expect(root.locator("> .share-row .share-sharer")).to_have_text("阿花")
    child = root.locator(".share-children > .share-node")
    expect(child.locator("> .share-row .share-sharer")).to_have_text("阿布")
    expect(child.locator("> .share-row .share-orders")).to_contain_text("1")
    expect(child.locator("> .share-row .share-gmv")).to_contain_text(f"¥{PRICE}")
    expect(root.locator("> .share-row .share-visits")).to_contain_text("1")

    # Issue #14 item 16: "My shares" counts what followed the opens — the order won through
    # B's share, B's 10 % of it, and for A (whose share B's came from) the order and A's 5 %.
    b.goto("/m/vero/me/shares")
    mine = b.locator("#my-shares li")
    expect(mine).to_have_count(1)
    expect(mine.locator(".share-orders")).to_have_text("成交 1 单")
    expect(mine.locator(".share-earned")).to_have_text("赚得 ¥59.90")
    a.goto("/m/vero/me/shares")
    expect(a.locator("#my-shares li .share-orders")).to_have_text("成交 1 单")
    expect(a.locator("#my-shares li .share-earned")).to_have_text("赚得 ¥29.95")
