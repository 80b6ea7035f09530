"""Issue #11 (chain scale): /console/guides and GET /api/v1/guides/staff show a page of
guides (``GUIDE_PAGE`` on the console, 50 by default on the API) and read only that page's
rows: a chain of 60 guides, then of 600, costs the same statements and the same rows, and
the page links on to the next."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import bindparam, text

from loopmall.core import clock
from loopmall.core.db import UtcDateTime
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.guides.pages import GUIDE_PAGE
from tests.chain_rows import insert_chain, numbers
from tests.factories import make_merchant, make_staff, token_for
from tests.reads import Reads, reading

HTML = {"Accept": "text/html"}
PATHS = ("/console/guides", "/api/v1/guides/staff")


async def more_guides(state: AppState, backend: str, tenant: Tenant, n: int) -> None:
    """``n`` more guides (``stf_more<i>``), each working in the store coded S1."""
    true = "true" if backend == "postgres" else "1"
    async with UnitOfWork(state.write_factory) as uow:
        now = bindparam("now", clock.now(), type_=UtcDateTime)
        await uow.session.execute(
            text(
                "INSERT INTO staff (merchant_id, public_id, phone, name, role, employee_no, "
                "active, created_at, updated_at) "
                "SELECT :m, 'stf_more' || x, '136' || x, '新导购' || x, 'guide', "
                f"'', {true}, :now, :now " + numbers(backend, ":n")
            ).bindparams(now, m=tenant.id, n=n)
        )
        await uow.session.execute(
            text(
                "INSERT INTO staff_stores (merchant_id, staff_id, store_id) "
                "SELECT st.merchant_id, st.id, s.id FROM staff st JOIN stores s "
                "ON s.merchant_id = st.merchant_id AND s.code = 'S1' "
                "WHERE st.merchant_id = :m AND st.public_id LIKE 'stf_more%'"
            ).bindparams(m=tenant.id)
        )
        await uow.commit()


async def _read(
    state: AppState, client: httpx.AsyncClient, owner: dict[str, str]
) -> tuple[dict[str, Reads], str]:
    seen, html = {}, ""
    for path in PATHS:
        with reading(state) as reads:
            page = await client.get(path, headers=owner | HTML)
        assert page.status_code == 200, page.text[:500]
        seen[path] = reads
        html = html or page.text
    return seen, html


async def test_a_page_of_guides_reads_the_same_however_many_guides(
    state: AppState, client: httpx.AsyncClient, backend: str
) -> None:
    # Given a merchant with 60 guides, whose owner reads the guides page and API
    tenant = await make_merchant(state)
    await insert_chain(state, backend, tenant, stores=60, guides=60)
    await make_staff(state, tenant, phone="13700000001")
    owner = await token_for(client, tenant.slug, "13700000001")
    small, _ = await _read(state, client, owner)

    # When the merchant grows to 600 guides and the owner reads them again
    await more_guides(state, backend, tenant, 540)
    large, page = await _read(state, client, owner)

    # Then each (console page and API) sends the same statements and reads the same rows
    for path in PATHS:
        assert len(large[path].statements) == len(small[path].statements), path
        assert large[path].rows == small[path].rows, path
    # and the console page shows GUIDE_PAGE guides and a link to the next ones
    assert GUIDE_PAGE == 50
    assert len(re.findall(r'data-guide="', page)) == GUIDE_PAGE
    assert 'rel="next"' in page
