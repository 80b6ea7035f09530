"""Events the rebates domain handles: attribution's credits become commission earnings,
order refunds claw them back. Both handlers are idempotent (credit ids are unique in the
ledger; claw-backs are computed on the cumulative refund), so replays book nothing twice."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.models import OutboxEvent
from loopmall.core.outbox import subscribe
from loopmall.core.tenancy import Tenant
from loopmall.rebates import ledger


def _tenant(event: OutboxEvent) -> Tenant:
    merchant_id = event.merchant_id or int(event.payload["merchant_id"])
    return Tenant(merchant_id, "")


@subscribe("attribution.credited")
async def on_credited(session: AsyncSession, event: OutboxEvent) -> None:
    await ledger.book_credits(session, _tenant(event), event.payload)


@subscribe("order.refunded")
async def on_refunded(session: AsyncSession, event: OutboxEvent) -> None:
    payload = event.payload
    await ledger.claw_back(
        session,
        _tenant(event),
        int(payload["order_id"]),
        paid_fen=int(payload["paid_fen"]),
        refunded_fen=int(payload["refunded_fen"]),
    )
