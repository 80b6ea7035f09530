"""Staff refunds of an order (full or partial) and the console's reads of payments."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.errors import NotFound, ValidationFailed
from loopmall.core.pagination import paginate_by_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.valueset import one_of
from loopmall.orders import service as orders
from loopmall.payments import settle
from loopmall.payments.models import Payment, PaymentRefund
from loopmall.payments.rules import PAID_STATES, PaymentState, RefundNotAllowed


async def refund_order(
    session: AsyncSession,
    tenant: Tenant,
    order_public_id: str,
    *,
    amount_fen: int,
    reason: str,
    actor: str,
    store_ids: frozenset[int] | None = None,
) -> tuple[PaymentRefund, Payment]:
    """Refund ``amount_fen`` of what the order's payment took (partial refunds add up).
    The refund is recorded now and sent to the provider by the outbox; the order learns of
    it when the provider confirms. Raises 404 for an unknown order (or another store's, for
    store-scoped staff), 422 for a bad amount, 409 ``refund_not_allowed`` when nothing (or
    less) is left to refund."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise ValidationFailed("amount_fen must be a positive whole number", field="amount_fen")
    order = await orders.get_payable_by_public_id(session, tenant, order_public_id)
    if store_ids is not None and order.store_id not in store_ids:
        raise NotFound("No such order")
    candidates = await session.scalars(
        scoped(
            Payment,
            tenant,
            Payment.order_id == order.id,
            Payment.state.in_(
                [PaymentState.SUCCEEDED.value, PaymentState.PARTIALLY_REFUNDED.value]
            ),
        ).order_by(Payment.id)
    )
    for candidate in candidates.all():
        auto = await session.scalar(
            scoped(
                PaymentRefund,
                tenant,
                PaymentRefund.payment_id == candidate.id,
                PaymentRefund.automatic.is_(True),
            ).limit(1)
        )
        if auto is not None:
            continue  # money the order never took; already on its way back
        payment = await settle.lock_payment(session, tenant, Payment.id == candidate.id)
        assert payment is not None
        if payment.state not in PAID_STATES:
            continue
        refund = await settle.request_refund(
            session,
            tenant,
            payment,
            amount_fen=amount_fen,
            reason=reason or "staff",
            actor=actor,
        )
        return refund, payment
    raise RefundNotAllowed("This order has no payment to refund")


async def list_payments(
    session: AsyncSession,
    tenant: Tenant,
    *,
    state: str | None = None,
    provider: str | None = None,
    store_ids: frozenset[int] | None = None,
    order_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Payment], str | None]:
    """A page of the merchant's payments, oldest first (newest pages come last)."""
    criteria: list[Any] = []
    if state:
        criteria.append(Payment.state == state)
    if provider:
        criteria.append(Payment.provider == provider)
    if store_ids is not None:
        criteria.append(one_of(Payment.store_id, store_ids))
    if order_id is not None:
        criteria.append(Payment.order_id == order_id)
    return await paginate_by_id(
        session, scoped(Payment, tenant, *criteria), Payment.id, cursor=cursor, limit=limit
    )


async def recent_payments(
    session: AsyncSession,
    tenant: Tenant,
    *,
    store_ids: frozenset[int] | None,
    limit: int = 100,
    before: int | None = None,
) -> list[Payment]:
    """The newest payments first (the console list); ``before``: older than that id."""
    stmt = scoped(Payment, tenant, Payment.state != PaymentState.CREATED.value)
    if before is not None:
        stmt = stmt.where(Payment.id < before)
    if store_ids is not None:
        stmt = stmt.where(one_of(Payment.store_id, store_ids))
    rows = await session.scalars(stmt.order_by(Payment.id.desc()).limit(limit))
    return list(rows.all())


async def refunds_of_payments(
    session: AsyncSession, tenant: Tenant, payment_ids: list[int]
) -> list[PaymentRefund]:
    if not payment_ids:
        return []
    rows = await session.scalars(
        scoped(PaymentRefund, tenant, PaymentRefund.payment_id.in_(payment_ids)).order_by(
            PaymentRefund.id
        )
    )
    return list(rows.all())
