"""What the rebates domain does when events arrive: attribution's credits become commission
earnings, order refunds claw them back. The backbone applies each event once per handler,
and both are idempotent besides (credit ids are unique in the ledger; claw-backs are
computed on the cumulative refund), so even a replay from elsewhere books nothing twice."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution.events import AttributionCredited
from loopmall.core.events import subscribe
from loopmall.core.tenancy import Tenant
from loopmall.orders.events import OrderRefunded
from loopmall.rebates import ledger


@subscribe(AttributionCredited, "rebates.book_commission")
async def on_credited(session: AsyncSession, tenant: Tenant, event: AttributionCredited) -> None:
    await ledger.book_credits(session, tenant, event)


@subscribe(OrderRefunded, "rebates.claw_back", ordered=True)
async def on_refunded(session: AsyncSession, tenant: Tenant, event: OrderRefunded) -> None:
    await ledger.claw_back(
        session, tenant, event.order_id, paid_fen=event.paid_fen, refunded_fen=event.refunded_fen
    )
