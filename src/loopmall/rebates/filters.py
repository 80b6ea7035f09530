"""The ledger's filters as the API and the console take them (public ids, Shanghai days)
turned into a ``ledger.EntryFilter`` — another merchant's ids are 404, as everywhere."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution.rules import Role
from loopmall.core import clock
from loopmall.core.errors import NotFound, OutOfRange, ValidationFailed
from loopmall.core.tenancy import Tenant
from loopmall.rebates import earners
from loopmall.rebates.ledger import EntryFilter
from loopmall.rebates.models import Settlement
from loopmall.rebates.rules import EarnerKind

ROLES = tuple(r.value for r in Role)
KINDS = ("earning", "clawback")


FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2999, 12, 31)


def shanghai_day_start(day: date, *, field: str = "date") -> datetime:
    """Midnight of ``day`` in Asia/Shanghai; 422 outside 2000–2999 (no overflow games)."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise OutOfRange(f"{field} must be between 2000 and 2999", field=field, low=2000, high=2999)
    return datetime.combine(day, time(), tzinfo=clock.SHANGHAI)


async def build_filter(  # noqa: PLR0913 (one keyword per filter of the ledger page)
    session: AsyncSession,
    tenant: Tenant,
    *,
    role: str | None = None,
    kind: str | None = None,
    earner: str | None = None,
    store: str | None = None,
    settled: bool | None = None,
    settlement: str | None = None,
    since: date | None = None,
    until: date | None = None,
    store_ids: frozenset[int] | None = None,
) -> EntryFilter:
    """Raises NotFound for an unknown earner, store or settlement; 422 for an unknown role
    or kind, or a date range that ends before it starts."""
    if role and role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", field="role")
    if kind and kind not in KINDS:
        raise ValidationFailed("kind must be earning or clawback", field="kind")
    if since and until and until < since:
        raise ValidationFailed("until is before since", field="until")
    earner_kind = earner_id = None
    if earner:
        earner_kind = earners.kind_of_public_id(earner)
        if earner_kind is None:
            raise NotFound("No such earner", field="earner")
        earner_id = await earners.resolve(session, tenant, earner_kind, earner)
    store_id = None
    if store:
        store_id = await earners.resolve(session, tenant, EarnerKind.STORE, store, field="store")
    if store_id is not None and store_ids is not None and store_id not in store_ids:
        # Exactly what an unknown store answers: another store's id is not confirmed (#11).
        raise NotFound("No such store", field="store")
    settlement_id = None
    if settlement:
        settlement_id = await session.scalar(
            select(Settlement.id).where(
                Settlement.merchant_id == tenant.id, Settlement.public_id == settlement
            )
        )
        if settlement_id is None:
            raise NotFound("No such settlement", field="settlement")
    return EntryFilter(
        role=role or None,
        kind=kind or None,
        earner_kind=earner_kind,
        earner_id=earner_id,
        store_id=store_id,
        settled=settled,
        settlement_id=settlement_id,
        since=shanghai_day_start(since, field="since") if since else None,
        until=shanghai_day_start(until, field="until") + timedelta(days=1) if until else None,
        store_ids=store_ids,
    )
