"""/console/commission shows the largest unsettled amounts, not one row per earner of the
chain (issue #11, case 2): a chain has an earner per guide and distributor, and naming
them all bound one parameter each."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest

from loopmall.core.clock import FrozenClock
from loopmall.core.state import AppState
from loopmall.rebates.pages import console as commission_page
from tests.catalog.conftest import console_login
from tests.rebates.fixtures import make_world

HTML = {"Accept": "text/html"}


async def test_the_unsettled_table_shows_the_largest_amounts_only(
    state: AppState,
    client: httpx.AsyncClient,
    frozen_clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an order credited to three earners, and a page that shows two
    frozen_clock.set(datetime(2026, 4, 1, 4, tzinfo=UTC))
    w = await make_world(state, client)
    csrf = await console_login(client, "shop", "13800000001")
    saved = await client.post(
        "/console/commission/rules",
        data={"store": "1", "guide": "2.5", "level1": "5", "level2": "0", "cap": "",
              "distributors": "everyone", "csrf_token": csrf},
    )  # fmt: skip
    assert saved.status_code == 303, saved.text
    order = await w.order()
    await w.credit(order, w.credits("store", "guide", "sharer"))
    monkeypatch.setattr(commission_page, "UNSETTLED_SHOWN", 2)

    # When the owner opens the commission page
    page = await client.get("/console/commission", headers=HTML)

    # Then the unsettled table has the two largest amounts, and says there are more
    assert page.status_code == 200, page.text
    unsettled = re.search(r'<table id="unsettled">(.*?)</table>', page.text, re.S)
    assert unsettled is not None
    nets = re.findall(r'<td class="num net">¥(.*?)</td>', unsettled[1])
    assert len(nets) == 2 and nets == sorted(nets, key=float, reverse=True)
    assert 'id="unsettled-more"' in page.text and "仅显示金额最大的 2 项" in page.text
