"""A chain's worth of rows for scale tests, made by the database (INSERT … SELECT over a
generated series), not one parameter per row, so tens of thousands take a moment."""

from __future__ import annotations

from sqlalchemy import bindparam, text

from loopmall.core import clock
from loopmall.core.db import UtcDateTime
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork


def numbers(backend: str, n: str) -> str:
    """A row source of x = 1..n, server-side (no parameter per row)."""
    if backend == "postgres":
        return f"FROM generate_series(1, {n}) AS g(x)"
    return (
        f"FROM (WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {n}) "
        "SELECT x FROM g)"
    )


async def insert_chain(
    state: AppState, backend: str, tenant: Tenant, *, stores: int, guides: int
) -> None:
    """``stores`` stores (public id ``st_scale<i>``, code ``S<i>``, name ``门店<i>``) and
    ``guides`` guides (``stf_scale<i>``, phone ``139<i>``, name ``导购<i>``; guide i works in
    store i), in three INSERT … SELECTs."""
    true = "true" if backend == "postgres" else "1"
    async with UnitOfWork(state.write_factory) as uow:
        now = bindparam("now", clock.now(), type_=UtcDateTime)
        await uow.session.execute(
            text(
                "INSERT INTO stores (merchant_id, public_id, code, name, city, district, address, "
                "phone, opening_hours, pickup_enabled, status, note, created_at, updated_at) "
                "SELECT :m, 'st_scale' || x, 'S' || x, '门店' || x, '', '', '', "
                f"'', '{{}}', {true}, 'open', '', :now, :now " + numbers(backend, ":n")
            ).bindparams(now, m=tenant.id, n=stores)
        )
        await uow.session.execute(
            text(
                "INSERT INTO staff (merchant_id, public_id, phone, name, role, employee_no, "
                "active, created_at, updated_at) "
                "SELECT :m, 'stf_scale' || x, '139' || x, '导购' || x, 'guide', "
                f"'', {true}, :now, :now " + numbers(backend, ":n")
            ).bindparams(now, m=tenant.id, n=guides)
        )
        await uow.session.execute(
            text(
                "INSERT INTO staff_stores (merchant_id, staff_id, store_id) "
                "SELECT st.merchant_id, st.id, s.id FROM staff st JOIN stores s "
                "ON s.merchant_id = st.merchant_id AND s.code = 'S' || substr(st.phone, 4) "
                "WHERE st.merchant_id = :m AND st.role = 'guide'"
            ).bindparams(m=tenant.id)
        )
        await uow.commit()
