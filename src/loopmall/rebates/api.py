"""Commission JSON routes (under /api/v1): rules, the ledger with filters and CSV export,
settlements, distributors, a staff member's own earnings, and a shopper's distribution
earnings in the mall."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from loopmall.core.http import get_state, read_uow, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.pagination import paginate_by_id
from loopmall.core.tenancy import Tenant
from loopmall.core.text import PlainText
from loopmall.core.uow import UnitOfWork
from loopmall.customers.deps import Shopper, require_shopper
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.rebates import distributors, export, filters, ledger, service, settlement, views
from loopmall.rebates.models import CommissionEntry, Settlement, SettlementLine
from loopmall.rebates.rules import DECISIONS, DistributorPolicy, DistributorStatus
from loopmall.rebates.schemas import (
    DistributorOut,
    EarningsOut,
    EntryOut,
    EntryPage,
    MyDistributionOut,
    RulesIn,
    RulesOut,
    SettleIn,
    SettlementOut,
    Totals,
)

router = APIRouter(tags=["commission"])


def public_id() -> Any:
    """A public id in the path (one ``Path`` per parameter: FastAPI keeps the first name)."""
    return Path(..., max_length=40, pattern=r"^[a-z0-9_]+$")


EXPORT_LIMIT = 50_000
PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such earner, store, order, settlement or customer"},
    409: {
        "description": "`settlement_out_of_order`, `settlement_in_progress`, "
        "`illegal_distributor_transition`"
    },
    422: {"description": "`commission_rules_over_100`, `settlement_period_open`"},
}


class EntryQuery:
    """The ledger filters, shared by the list and the CSV export."""

    def __init__(
        self,
        role: PlainText | None = Query(None, max_length=20),
        kind: str | None = Query(None, pattern="^(earning|clawback)$"),
        earner: str | None = Query(None, max_length=40, pattern=r"^[a-z0-9_]+$"),
        store: str | None = Query(None, max_length=40, pattern=r"^[a-z0-9_]+$"),
        settled: bool | None = Query(None),
        settlement: str | None = Query(None, max_length=40, pattern=r"^[a-z0-9_]+$"),
        since: date | None = Query(None, description="first day (Asia/Shanghai)"),
        until: date | None = Query(None, description="last day, included"),
    ) -> None:
        self.role, self.kind, self.earner, self.store = role, kind, earner, store
        self.settled, self.settlement, self.since, self.until = settled, settlement, since, until

    async def build(self, uow: UnitOfWork, principal: Principal) -> ledger.EntryFilter:
        return await filters.build_filter(
            uow.session,
            principal.require_tenant(),
            role=self.role,
            kind=self.kind,
            earner=self.earner,
            store=self.store,
            settled=self.settled,
            settlement=self.settlement,
            since=self.since,
            until=self.until,
            store_ids=principal.store_ids,
        )


@router.get("/commission/rules", response_model=RulesOut)
async def get_rules(
    principal: Principal = Depends(require(Perm.COMMISSION_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> RulesOut:
    """The merchant's commission rates and distributor policy."""
    return RulesOut.of(await service.get_rules(uow.session, principal.require_tenant()))


@router.put("/commission/rules", response_model=RulesOut, responses=PROBLEMS)
async def put_rules(
    body: RulesIn,
    principal: Principal = Depends(require(Perm.COMMISSION_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> RulesOut:
    """Replace the rules; rates summing over 10,000 bp are 422 `commission_rules_over_100`
    and nothing is saved. New rates apply to credits booked from now on."""
    rates = await service.update_rules(
        uow.session, principal.require_tenant(), body.rates(), actor=principal.public_id
    )
    await uow.commit()
    return RulesOut.of(rates)


@router.get("/commission/entries", response_model=EntryPage, responses=PROBLEMS)
async def list_entries(
    query: EntryQuery = Depends(),
    cursor: PlainText | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=200),
    principal: Principal = Depends(require(Perm.COMMISSION_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> EntryPage:
    """Ledger lines in booking order, by cursor, with the totals of everything the filters
    match. A store role sees its stores' lines."""
    tenant = principal.require_tenant()
    f = await query.build(uow, principal)
    rows, next_cursor = await paginate_by_id(
        uow.session, ledger.entries_query(tenant, f), CommissionEntry.id, cursor=cursor, limit=limit
    )
    return EntryPage(
        items=await views.entries_out(uow.session, tenant, rows),
        next_cursor=next_cursor,
        totals=Totals(**await ledger.totals(uow.session, tenant, f)),
    )


@router.get("/commission/entries.csv", responses=PROBLEMS)
async def export_entries(
    request: Request,
    query: EntryQuery = Depends(),
    principal: Principal = Depends(require(Perm.COMMISSION_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    """The matching ledger lines as CSV (UTF-8 with BOM, for Excel), in booking order, the
    first ``EXPORT_LIMIT``; streamed a batch of lines at a time."""
    tenant = principal.require_tenant()
    f = await query.build(uow, principal)
    return StreamingResponse(
        entries_csv_chunks(get_state(request).read_factory, tenant, f),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="commission.csv"'},
    )


async def entries_csv_chunks(
    factory: Any, tenant: Tenant, f: ledger.EntryFilter
) -> AsyncIterator[bytes]:
    """The header, then the ledger lines matching ``f`` by id, ``CSV_BATCH`` at a time, up
    to ``EXPORT_LIMIT``, read in a session of its own."""
    yield export.rows_bytes([export.ENTRY_HEADER], header=True)
    after, left = 0, EXPORT_LIMIT
    async with UnitOfWork(factory) as reader:
        while left > 0:
            stmt = ledger.entries_query(tenant, f).where(CommissionEntry.id > after)
            stmt = stmt.order_by(CommissionEntry.id).limit(min(CSV_BATCH, left))
            rows = list((await reader.session.scalars(stmt)).all())
            if not rows:
                return
            after, left = rows[-1].id, left - len(rows)
            shown = await views.entries_out(reader.session, tenant, rows)
            yield export.rows_bytes(export.entry_rows(shown))


@router.get("/commission/orders/{order}", response_model=list[EntryOut], responses=PROBLEMS)
async def order_entries(
    order: str = public_id(),
    principal: Principal = Depends(require(Perm.COMMISSION_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> list[EntryOut]:
    """Every ledger line of one order (earnings and claw-backs)."""
    tenant = principal.require_tenant()
    rows = await ledger.entries_of_order(uow.session, tenant, order, store_ids=principal.store_ids)
    return await views.entries_out(uow.session, tenant, rows)


@router.post(
    "/commission/settlements", status_code=201, response_model=SettlementOut, responses=PROBLEMS
)
async def create_settlement(
    body: SettleIn,
    request: Request,
    principal: Principal = Depends(require(Perm.COMMISSION_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Settle everything booked up to the end of ``through`` (Asia/Shanghai) that no
    settlement took; the same day again returns the same settlement."""
    tenant = principal.require_tenant()
    end = filters.shanghai_day_start(body.through, field="through") + timedelta(days=1)

    async def work() -> SettlementOut:
        made = await settlement.settle(uow.session, tenant, end, actor=principal.public_id)
        _s, lines = await settlement.get_settlement(
            uow.session, tenant, made.public_id, store_ids=None
        )
        return await views.settlement_out(uow.session, tenant, made, lines)

    return await run_idempotent(request, uow, principal.scope, work)


@router.get("/commission/settlements", response_model=list[SettlementOut])
async def list_settlements(
    principal: Principal = Depends(require(Perm.COMMISSION_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> list[SettlementOut]:
    tenant = principal.require_tenant()
    found = await settlement.list_settlements(uow.session, tenant)
    return [await views.settlement_out(uow.session, tenant, s) for s in found]


async def _settlement(uow: UnitOfWork, principal: Principal, public_id: str) -> SettlementOut:
    tenant = principal.require_tenant()
    found, lines = await settlement.get_settlement(
        uow.session, tenant, public_id, store_ids=principal.store_ids
    )
    return await views.settlement_out(uow.session, tenant, found, lines)


@router.get(
    "/commission/settlements/{settlement_id}", response_model=SettlementOut, responses=PROBLEMS
)
async def read_settlement(
    settlement_id: str = public_id(),
    principal: Principal = Depends(require(Perm.COMMISSION_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> SettlementOut:
    """A settlement with its lines per earner and store."""
    return await _settlement(uow, principal, settlement_id)


@router.get("/commission/settlements/{settlement_id}/csv", responses=PROBLEMS)
async def export_settlement(
    request: Request,
    settlement_id: str = public_id(),
    principal: Principal = Depends(require(Perm.COMMISSION_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    """A settlement's lines as CSV (UTF-8 with BOM), streamed a batch of lines at a time:
    a chain's settlement has a line per earner."""
    tenant = principal.require_tenant()
    found = await settlement.find_settlement(uow.session, tenant, settlement_id)
    chunks = settlement_csv_chunks(
        get_state(request).read_factory, tenant, found, store_ids=principal.store_ids
    )
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="settlement-{found.public_id}.csv"'},
    )


CSV_BATCH = 2000


async def settlement_csv_chunks(
    factory: Any,
    tenant: Tenant,
    found: Settlement,
    *,
    store_ids: frozenset[int] | None,
    batch: int | None = None,
) -> AsyncIterator[bytes]:
    """The header, then the lines ``batch`` at a time by id, read in a session of its own
    (the request's may be closed while the body is sent)."""
    public, period_end = found.public_id, found.period_end
    batch = batch or CSV_BATCH
    yield export.rows_bytes([export.LINE_HEADER], header=True)
    after = 0
    async with UnitOfWork(factory) as reader:
        while True:
            stmt = settlement.lines_query(tenant, found, store_ids=store_ids)
            stmt = stmt.where(SettlementLine.id > after).order_by(SettlementLine.id).limit(batch)
            lines = list((await reader.session.scalars(stmt)).all())
            if not lines:
                return
            after = lines[-1].id
            shown = await views.lines_out(reader.session, tenant, lines)
            yield export.rows_bytes(export.settlement_rows(public, period_end, shown))
            if len(lines) < batch:
                return


@router.get("/commission/distributors", response_model=list[DistributorOut])
async def list_distributors(
    status: DistributorStatus | None = Query(None),
    principal: Principal = Depends(require(Perm.COMMISSION_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> list[DistributorOut]:
    """Applications and distributors, newest first."""
    rows = await distributors.list_distributors(
        uow.session, principal.require_tenant(), status=status
    )
    return [_distributor_out(d, c) for d, c in rows]


@router.post(
    "/commission/distributors/{customer}/{action}",
    response_model=DistributorOut,
    responses=PROBLEMS,
)
async def decide_distributor(
    customer: str = public_id(),
    action: str = Path(..., pattern="^(approve|reject|revoke)$"),
    principal: Principal = Depends(require(Perm.COMMISSION_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> DistributorOut:
    """Approve (also a customer who never applied), reject or revoke a distributor."""
    row, found = await distributors.decide(
        uow.session,
        principal.require_tenant(),
        customer,
        DECISIONS[action],
        actor=principal.public_id,
    )
    out = _distributor_out(row, found)
    await uow.commit()
    return out


def _distributor_out(row: Any, customer: Any) -> DistributorOut:
    return DistributorOut(
        customer=customer.public_id,
        name=customer.display_name,
        status=row.status,
        applied_at=row.applied_at,
        decided_at=row.decided_at,
    )


@router.get("/commission/me", response_model=EarningsOut)
async def my_earnings(
    principal: Principal = Depends(require(Perm.GUIDE_WORK)),
    uow: UnitOfWork = Depends(read_uow),
) -> EarningsOut:
    """The calling staff member's own commission (no COMMISSION_READ needed)."""
    tenant = principal.require_tenant()
    earned = await service.earnings_for_staff(uow.session, tenant, principal.staff_id or 0)
    return await views.earnings_out(uow.session, tenant, earned)


# --- the shopper's distribution earnings ---------------------------------------------------


async def my_distribution(uow: UnitOfWork, shopper: Shopper) -> MyDistributionOut:
    tenant = shopper.tenant
    rates = await service.get_rules(uow.session, tenant)
    row = await distributors.get_distributor(uow.session, tenant, shopper.customer_id)
    may = await distributors.who_may_earn(uow.session, tenant, rates, [shopper.customer_id])
    earned = await service.earnings_for_customer(uow.session, tenant, shopper.customer_id)
    return MyDistributionOut(
        policy=rates.distributors.value,
        status=row.status if row else None,
        may_earn=shopper.customer_id in may,
        earnings=await views.earnings_out(uow.session, tenant, earned),
    )


@router.get("/mall/{slug}/me/earnings", response_model=MyDistributionOut, tags=["mall"])
async def mall_my_earnings(
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(read_uow),
) -> MyDistributionOut:
    """The shopper's distribution status and commission in this mall."""
    return await my_distribution(uow, shopper)


@router.post(
    "/mall/{slug}/me/distributor",
    status_code=201,
    response_model=MyDistributionOut,
    tags=["mall"],
    responses=PROBLEMS,
)
async def mall_apply(
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> MyDistributionOut:
    """Ask to become a distributor (when the merchant approves distributors; under the
    policy ``everyone`` there is nothing to ask and the answer says so). Asking again
    changes nothing."""
    rates = await service.get_rules(uow.session, shopper.tenant)
    if rates.distributors is DistributorPolicy.APPROVED:
        await distributors.apply(uow.session, shopper.tenant, shopper.customer_id)
    out = await my_distribution(uow, shopper)
    await uow.commit()
    return out
