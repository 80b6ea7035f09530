"""Issue #11 (chain scale): /console/commission shows what a person reads at once — the 50
newest ledger lines with a link to older ones, the 20 newest distributor applications with a
link to their own paged page, and the store filter through the console's store picker — where
it rendered 100 lines, up to 500 distributors and 200 stores a request. With the ledger, the
distributors and the stores each past those sizes, then several times more, the page sends
the same statements, reads the same rows and renders the same number of rows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, insert, select

from loopmall.core.clock import FrozenClock
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import Consumer, Customer
from loopmall.merchants.store_picker import PICKER_LIMIT
from loopmall.rebates.models import CommissionEntry, Distributor
from loopmall.rebates.pages import console as commission_pages
from tests.catalog.conftest import console_login
from tests.guides.test_cards_at_scale import stock_everywhere
from tests.reads import reading
from tests.rebates.fixtures import make_world
from tests.rebates.test_pages_at_scale import _rows, _settle_with_lines, _world, grow_ledger

HTML = {"Accept": "text/html"}
_next = iter(range(1, 10**6))


async def more_distributors(state: AppState, tenant_id: int, count: int) -> None:
    """``count`` more customers, each a pending distributor (rows written in bulk)."""
    at = datetime(2026, 3, 1, tzinfo=UTC)
    async with UnitOfWork(state.write_factory) as uow:
        numbers = [next(_next) for _ in range(count)]
        await uow.session.execute(
            insert(Consumer),
            [{"public_id": f"con_d{n:010d}", "created_at": at, "updated_at": at} for n in numbers],
        )
        consumers = dict(
            (
                await uow.session.execute(
                    select(Consumer.public_id, Consumer.id).where(
                        Consumer.public_id.in_([f"con_d{n:010d}" for n in numbers])
                    )
                )
            ).all()
        )
        await uow.session.execute(
            insert(Customer),
            [
                {
                    "merchant_id": tenant_id,
                    "public_id": f"cus_d{n:010d}",
                    "consumer_id": consumers[f"con_d{n:010d}"],
                    "display_name": f"分销{n}",
                    "first_seen_at": at,
                    "last_seen_at": at,
                }
                for n in numbers
            ],
        )
        customers = dict(
            (
                await uow.session.execute(
                    select(Customer.public_id, Customer.id).where(
                        Customer.public_id.in_([f"cus_d{n:010d}" for n in numbers])
                    )
                )
            ).all()
        )
        await uow.session.execute(
            insert(Distributor),
            [
                {
                    "merchant_id": tenant_id,
                    "customer_id": customers[f"cus_d{n:010d}"],
                    "status": "pending",
                    "applied_at": at + timedelta(minutes=n),
                }
                for n in numbers
            ],
        )
        await uow.commit()


def _rendered(page: str) -> tuple[int, int, int]:
    """Ledger lines, distributor rows and stores offered in the filter."""
    return (
        page.count("data-entry="),
        page.count("data-customer="),
        len(re.findall(r"<option value=\"st_[a-z0-9_]+\" data-store", page)),
    )


async def test_the_commission_page_shows_and_reads_the_same_however_large_the_chain(
    state: AppState, client: httpx.AsyncClient, backend: str, frozen_clock: FrozenClock
) -> None:
    w = await _world(state, client, frozen_clock)
    await console_login(client, "shop", "13800000001")
    await grow_ledger(w, 60)
    await more_distributors(state, w.tenant.id, 25)
    await stock_everywhere(state, backend, w.tenant.id, 35)
    with reading(state) as small:
        first = await client.get("/console/commission", headers=HTML)
    assert first.status_code == 200, first.text[:500]

    await grow_ledger(w, 300)
    await more_distributors(state, w.tenant.id, 150)
    await stock_everywhere(state, backend, w.tenant.id, 200, first=36)
    with reading(state) as large:
        page = await client.get("/console/commission", headers=HTML)
    assert page.status_code == 200, page.text[:500]

    assert len(large.statements) == len(small.statements)
    assert large.rows == small.rows
    shown = (
        commission_pages.LEDGER_SHOWN,
        commission_pages.DISTRIBUTORS_SHOWN,
        PICKER_LIMIT,
    )
    assert _rendered(first.text) == _rendered(page.text) == shown
    assert 'id="ledger-older"' in page.text and 'id="distributors-more"' in page.text
    assert "更早的明细" in page.text and "全部分销员" in page.text

    # The older lines follow on, none twice, the filters kept.
    older = re.search(r'id="ledger-older"><a href="([^"]+)"', page.text)
    assert older is not None
    newest = set(re.findall(r'data-entry="([^"]+)"', page.text))
    more = await client.get(older.group(1).replace("&amp;", "&"), headers=HTML)
    assert more.status_code == 200
    next_lines = set(re.findall(r'data-entry="([^"]+)"', more.text))
    assert len(next_lines) == commission_pages.LEDGER_SHOWN and not newest & next_lines

    # Every distributor is a page or a few away, each once.
    seen: list[str] = []
    url: str | None = "/console/commission/distributors"
    while url:
        r = await client.get(url, headers=HTML)
        assert r.status_code == 200, r.text[:500]
        rows = re.findall(r'data-customer="([^"]+)"', r.text)
        assert 0 < len(rows) <= commission_pages.DISTRIBUTORS_PAGE
        seen += rows
        found = re.search(r'id="distributors-next" href="([^"]+)"', r.text)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert len(seen) == len(set(seen)) == 175


async def test_a_forged_cursor_is_refused_and_changes_nothing(
    state: AppState, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(datetime(2026, 3, 10, 4, tzinfo=UTC))
    await make_world(state, client)
    await console_login(client, "shop", "13800000001")
    for url in (
        "/console/commission?before=bm90IGpzb24",
        "/console/commission?before=Ii0xIg",  # "-1" as a string
        "/console/commission?before=LTE",  # -1
        "/console/commission/distributors?before=WzEsMl0",  # [1,2]
        "/console/commission/distributors?before=WyIyMDI2LTAzLTAxIiwxXQ",  # naive time
        "/console/commission/distributors?before=bm90IGpzb24",
    ):
        r = await client.get(url, headers=HTML)
        assert r.status_code == 422, (url, r.status_code)


async def test_the_settlement_page_shows_a_screenful_of_lines(
    state: AppState, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    w = await _world(state, client, frozen_clock)
    frozen_clock.set(datetime(2026, 3, 11, 4, tzinfo=UTC))
    await console_login(client, "shop", "13800000001")
    settlement_id = await _settle_with_lines(w, client, extra=120)
    page = await client.get(f"/console/commission/settlements/{settlement_id}", headers=HTML)
    assert page.status_code == 200, page.text[:500]
    assert len(_rows(page.text)) == commission_pages.SETTLEMENT_PAGE == 50
    assert 'id="settlement-next"' in page.text


async def test_a_guides_earnings_page_shows_a_screenful_and_links_the_older_lines(
    state: AppState, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    w = await _world(state, client, frozen_clock)
    async with UnitOfWork(state.write_factory) as uow:
        order_id = await uow.session.scalar(
            select(CommissionEntry.order_id).where(CommissionEntry.merchant_id == w.tenant.id)
        )
        theirs = await uow.session.scalar(
            select(func.count()).where(
                CommissionEntry.merchant_id == w.tenant.id,
                CommissionEntry.earner_kind == "staff",
                CommissionEntry.earner_id == w.guide_id,
            )
        )
        assert theirs
        await uow.session.execute(
            insert(CommissionEntry),
            [
                {
                    "merchant_id": w.tenant.id,
                    "public_id": f"ce_guide{n:012d}",
                    "kind": "earning",
                    "credit_id": 7_000_000_000 + n,
                    "order_id": order_id,
                    "role": "guide",
                    "rule": "bulk",
                    "earner_kind": "staff",
                    "earner_id": w.guide_id,
                    "store_id": w.store_id,
                    "base_fen": 10_000,
                    "rate_bp": 100,
                    "amount_fen": 100,
                    "at": datetime(2026, 3, 10, 3, tzinfo=UTC),
                }
                for n in range(120)
            ],
        )
        await uow.commit()
    await console_login(client, "shop", w.guide_phone)
    page = await client.get("/console/earnings", headers=HTML)
    assert page.status_code == 200, page.text[:500]
    first = re.findall(r'data-entry="([^"]+)"', page.text)
    assert len(first) == commission_pages.LEDGER_SHOWN == 50
    seen = list(first)
    while True:
        older = re.search(r'id="earnings-older"><a href="([^"]+)"', page.text)
        if older is None:
            break
        page = await client.get(older.group(1).replace("&amp;", "&"), headers=HTML)
        assert page.status_code == 200, page.text[:500]
        seen += re.findall(r'data-entry="([^"]+)"', page.text)
    # every line of the guide's once: the 120 and those the world credited them
    assert len(seen) == len(set(seen)) == 120 + theirs
    assert (await client.get("/console/earnings?before=LTE", headers=HTML)).status_code == 422
