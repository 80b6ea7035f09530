"""The flash-sale gate on the database (the embedded default, no Redis).

Same answers as the Redis script: rate limits, the sale is live, the buyer reserved, has
not bought yet, the one-time token is fresh, a unit is left. An accepted attempt takes a
unit from a random stock bucket and writes the ticket (``accepted``) in the caller's
transaction; :mod:`loopmall.flashsale.pending` turns accepted tickets into orders in
batches, as the Redis gate's stream consumer does. A refusal raises, so the caller's
transaction (the bucket, the token) rolls back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.errors import LoopmallError, ValidationFailed
from loopmall.core.state import settings_of
from loopmall.core.tenancy import Tenant
from loopmall.flashsale.buckets import give_units, take_one_bucket, take_units
from loopmall.flashsale.models import (
    FlashBucket,
    FlashReservation,
    FlashSale,
    FlashTicket,
    FlashUsedToken,
)
from loopmall.flashsale.ratelimit import GateLimits
from loopmall.flashsale.repository import insert_ignoring
from loopmall.flashsale.rules import (
    AlreadyBought,
    NotReserved,
    Phase,
    RateLimited,
    SaleNotLive,
    SoldOut,
    TicketStatus,
    TokenUsed,
)
from loopmall.flashsale.service import phase

log = logging.getLogger(__name__)

# Attempts seen by this process per sale id (the console shows attempts/s from it).
ATTEMPTS: Counter[int] = Counter()
_limits: dict[int, tuple[Settings, GateLimits]] = {}


@dataclass(frozen=True, slots=True)
class GateAnswer:
    status: str  # "accepted" (refusals raise)
    request_id: str
    ticket_id: int


def request_id_for(sale_id: int, customer_id: int) -> str:
    """One request per customer per sale — the same id the Redis gate gives it."""
    return f"fs{sale_id}-{customer_id}"


def limits_for(settings: Settings) -> GateLimits:
    found = _limits.get(id(settings))
    if found is None or found[0] is not settings:
        limits = GateLimits(settings.flashsale_rate_per_consumer, settings.flashsale_rate_per_ip)
        _limits[id(settings)] = found = (settings, limits)
    return found[1]


async def try_buy(
    session: AsyncSession,
    tenant: Tenant,
    sale: FlashSale,
    customer_id: int,
    *,
    nonce: str | None = None,
    ip: str = "",
    quantity: int = 1,
) -> GateAnswer:
    """One attempt to buy ``quantity`` units. Raises 429 ``flash_rate_limited``, 409
    ``flash_not_live``, 422 for a quantity over the limit, 403 ``flash_not_reserved``,
    409 ``flash_already_bought`` (with ``request``), 403 ``flash_token_used``, 409
    ``flash_sold_out``."""
    ATTEMPTS[sale.id] += 1
    if not limits_for(settings_of(session)).allow(customer_id, ip):
        raise RateLimited()
    now = clock.now()
    current = phase(sale, now)
    if current is not Phase.LIVE:
        raise SaleNotLive(phase=current.value, starts_at=sale.starts_at.isoformat())
    if isinstance(quantity, bool) or not 1 <= quantity <= sale.per_person_limit:
        raise ValidationFailed(
            f"Buy 1 to {sale.per_person_limit} units", field="quantity", limit=sale.per_person_limit
        )
    # The three reads of the gate in one round trip (measured on SQLite: the gate's
    # statements cost ~1.8 ms of CPU each, mostly in the driver and the ORM around it).
    reserved, bought, left = (
        await session.execute(
            select(
                select(FlashReservation.customer_id)
                .where(
                    FlashReservation.sale_id == sale.id,
                    FlashReservation.customer_id == customer_id,
                )
                .scalar_subquery(),
                select(FlashTicket.id)
                .where(FlashTicket.sale_id == sale.id, FlashTicket.customer_id == customer_id)
                .scalar_subquery(),
                select(func.coalesce(func.sum(FlashBucket.remaining), 0))
                .where(FlashBucket.sale_id == sale.id)
                .scalar_subquery(),
            )
        )
    ).one()
    rid = request_id_for(sale.id, customer_id)
    if reserved is None:
        raise NotReserved()
    if bought is not None:
        raise AlreadyBought(request=rid)
    if int(left or 0) < quantity:  # sold out: refuse before any write
        raise SoldOut()
    if nonce is not None:
        spent = await session.execute(
            insert_ignoring(session, FlashUsedToken).values(
                merchant_id=tenant.id, nonce=nonce[:32], sale_id=sale.id, at=now
            )
        )
        if not getattr(spent, "rowcount", 0):
            raise TokenUsed()
    inserted = await session.execute(
        insert_ignoring(session, FlashTicket)
        .values(
            merchant_id=tenant.id,
            sale_id=sale.id,
            customer_id=customer_id,
            request_id=rid,
            quantity=quantity,
            status=TicketStatus.ACCEPTED.value,
            accepted_at=now,
            updated_at=now,
        )
        .returning(FlashTicket.id)
    )
    ticket_id = inserted.scalar()
    if ticket_id is None:  # a double click won the race: this one takes nothing
        raise AlreadyBought(request=rid)
    # The unit last, right before the commit: the bucket's row lock is held for one
    # statement and the commit, not for the writes before it (a refusal rolls them back).
    if not await take_one_bucket(session, sale.id, sale.buckets, quantity):
        raise SoldOut()
    return GateAnswer("accepted", rid, int(ticket_id))


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt waiting for the next batch (see :func:`try_buy_many`)."""

    customer_id: int
    nonce: str | None
    ip: str = ""
    quantity: int = 1


Outcome = GateAnswer | LoopmallError


async def try_buy_many(
    session: AsyncSession, tenant: Tenant, sale: FlashSale, attempts: Sequence[Attempt]
) -> list[Outcome]:
    """The attempts of one batch, in one transaction, each answered as :func:`try_buy`
    would have answered it had they come one after the other in this order (a refusal
    writes nothing). The reads are one statement each for the whole batch and the writes
    one multi-row insert each, so the write lock (SQLite's one writer) is held for a few
    statements per batch instead of per attempt.

    A concurrent writer (another process on PostgreSQL) can still spend a nonce, make a
    ticket or take the units between the reads and the writes: the inserts skip
    conflicts and the units are taken before them, so an attempt that loses such a race
    is refused (token used, already bought, sold out) and its unit goes back."""
    outcomes: list[Outcome | None] = [None] * len(attempts)
    limits = limits_for(settings_of(session))
    now = clock.now()
    current = phase(sale, now)
    live: list[int] = []
    for i, a in enumerate(attempts):
        ATTEMPTS[sale.id] += 1
        if not limits.allow(a.customer_id, a.ip):
            outcomes[i] = RateLimited()
        elif current is not Phase.LIVE:
            outcomes[i] = SaleNotLive(phase=current.value, starts_at=sale.starts_at.isoformat())
        elif isinstance(a.quantity, bool) or not 1 <= a.quantity <= sale.per_person_limit:
            outcomes[i] = ValidationFailed(
                f"Buy 1 to {sale.per_person_limit} units",
                field="quantity",
                limit=sale.per_person_limit,
            )
        else:
            live.append(i)
    if live:
        await _decide(session, tenant, sale, attempts, live, outcomes, now)
    return [o if o is not None else SoldOut() for o in outcomes]


async def _decide(  # noqa: C901, PLR0912 (the gate's hot path, kept in one piece (measured by the flash bench))
    session: AsyncSession,
    tenant: Tenant,
    sale: FlashSale,
    attempts: Sequence[Attempt],
    live: list[int],
    outcomes: list[Outcome | None],
    now: datetime,
) -> None:
    customers = sorted({attempts[i].customer_id for i in live})
    nonces = sorted({nonce[:32] for i in live if (nonce := attempts[i].nonce) is not None})
    reserved = set(
        await session.scalars(
            select(FlashReservation.customer_id).where(
                FlashReservation.sale_id == sale.id, FlashReservation.customer_id.in_(customers)
            )
        )
    )
    bought = set(
        await session.scalars(
            select(FlashTicket.customer_id).where(
                FlashTicket.sale_id == sale.id, FlashTicket.customer_id.in_(customers)
            )
        )
    )
    used: set[str] = set()
    if nonces:
        used = set(
            await session.scalars(
                select(FlashUsedToken.nonce).where(
                    FlashUsedToken.merchant_id == tenant.id, FlashUsedToken.nonce.in_(nonces)
                )
            )
        )
    left = int(
        await session.scalar(
            select(func.coalesce(func.sum(FlashBucket.remaining), 0)).where(
                FlashBucket.sale_id == sale.id
            )
        )
        or 0
    )
    taken: list[int] = []
    units = 0
    for i in live:
        a = attempts[i]
        rid = request_id_for(sale.id, a.customer_id)
        if a.customer_id not in reserved:
            outcomes[i] = NotReserved()
        elif a.customer_id in bought:
            outcomes[i] = AlreadyBought(request=rid)
        elif left - units < a.quantity:
            outcomes[i] = SoldOut()
        elif a.nonce is not None and a.nonce[:32] in used:
            outcomes[i] = TokenUsed()
        else:
            if a.nonce is not None:
                used.add(a.nonce[:32])
            bought.add(a.customer_id)
            units += a.quantity
            taken.append(i)
    if not taken:
        return
    # The units first: another writer may have taken some since the sum was read.
    got = await take_units(session, sale.id, units)
    while units > got:
        i = taken.pop()
        units -= attempts[i].quantity
        outcomes[i] = SoldOut()
    spare = got - units
    kept = await _insert_tokens(session, tenant, sale, attempts, taken, outcomes, now)
    tickets = await _insert_tickets(session, tenant, sale, attempts, kept, outcomes, now)
    for i in taken:
        if i not in tickets:
            spare += attempts[i].quantity
        else:
            a = attempts[i]
            outcomes[i] = GateAnswer("accepted", request_id_for(sale.id, a.customer_id), tickets[i])
    if spare:
        await give_units(session, tenant, sale.id, spare)


async def _insert_tokens(
    session: AsyncSession,
    tenant: Tenant,
    sale: FlashSale,
    attempts: Sequence[Attempt],
    taken: list[int],
    outcomes: list[Outcome | None],
    now: datetime,
) -> list[int]:
    """Spend the nonces of the taken attempts; those whose nonce another writer spent
    first are refused. The attempts that go on."""
    with_nonce = [i for i in taken if attempts[i].nonce is not None]
    if not with_nonce:
        return list(taken)
    rows = [
        {"merchant_id": tenant.id, "nonce": attempts[i].nonce[:32], "sale_id": sale.id, "at": now}  # type: ignore[index]
        for i in with_nonce
    ]
    spent = set(
        await session.scalars(
            insert_ignoring(session, FlashUsedToken).values(rows).returning(FlashUsedToken.nonce)
        )
    )
    kept = []
    for i in taken:
        nonce = attempts[i].nonce
        if nonce is not None and nonce[:32] not in spent:
            outcomes[i] = TokenUsed()
        else:
            kept.append(i)
    return kept


async def _insert_tickets(
    session: AsyncSession,
    tenant: Tenant,
    sale: FlashSale,
    attempts: Sequence[Attempt],
    kept: list[int],
    outcomes: list[Outcome | None],
    now: datetime,
) -> dict[int, int]:
    """The accepted tickets; an attempt whose customer another writer gave a ticket first
    is told "already bought". Attempt index → ticket id."""
    if not kept:
        return {}
    rows = [
        {
            "merchant_id": tenant.id,
            "sale_id": sale.id,
            "customer_id": attempts[i].customer_id,
            "request_id": request_id_for(sale.id, attempts[i].customer_id),
            "quantity": attempts[i].quantity,
            "status": TicketStatus.ACCEPTED.value,
            "accepted_at": now,
            "updated_at": now,
        }
        for i in kept
    ]
    made = dict(
        (
            await session.execute(
                insert_ignoring(session, FlashTicket)
                .values(rows)
                .returning(FlashTicket.customer_id, FlashTicket.id)
            )
        ).all()
    )
    tickets: dict[int, int] = {}
    for i in kept:
        customer = attempts[i].customer_id
        if customer in made:
            tickets[i] = int(made[customer])
        else:
            outcomes[i] = AlreadyBought(request=request_id_for(sale.id, customer))
    return tickets


# The batchers of this process, for :func:`gate_quiet` (weak: one goes with its app).
_batchers: weakref.WeakSet[Batcher] = weakref.WeakSet()


async def gate_quiet(write_factory: Any, seconds: float) -> None:
    """Wait until the batchers writing through ``write_factory`` have no attempt left to
    answer, ``seconds`` at most; at once when they have none. The flash sale's order maker
    asks first (``pending.drain``): on SQLite the gate and the order maker take turns on
    the one write connection, and the gate's answers are the ones shoppers wait for."""
    busy = [b for b in _batchers if b.write_factory is write_factory and not b.quiet.is_set()]
    if not busy:
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            for batcher in busy:
                await batcher.quiet.wait()


class Batcher:
    """The database gate's attempts of one process, answered in batches: while one
    batch's transaction runs, the attempts arriving queue for the next (group commit, no
    timer). At most ``MAX`` attempts a batch."""

    MAX = 256

    def __init__(self, write_factory: Any) -> None:
        self.write_factory = write_factory
        self._queue: list[tuple[Tenant, int, Attempt, asyncio.Future[Outcome]]] = []
        self._task: asyncio.Task[None] | None = None
        # Set while no attempt is queued or being answered (:func:`gate_quiet`).
        self.quiet = asyncio.Event()
        self.quiet.set()
        _batchers.add(self)

    async def submit(self, tenant: Tenant, sale_id: int, attempt: Attempt) -> GateAnswer:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append((tenant, sale_id, attempt, future))
        if self._task is None or self._task.done():
            self.quiet.clear()
            self._task = asyncio.ensure_future(self._run())
        outcome = await future
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def _run(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.MAX], self._queue[self.MAX :]
                groups: dict[tuple[int, int], list[tuple[Tenant, int, Attempt, Any]]] = {}
                for item in batch:
                    groups.setdefault((item[0].id, item[1]), []).append(item)
                for (_merchant, sale_id), items in groups.items():
                    await self._answer(items[0][0], sale_id, items)
        finally:
            self.quiet.set()

    async def _answer(
        self, tenant: Tenant, sale_id: int, items: list[tuple[Tenant, int, Attempt, Any]]
    ) -> None:
        from loopmall.core.uow import UnitOfWork
        from loopmall.flashsale.repository import get_sale_by_id

        outcomes: list[Any]
        try:
            async with UnitOfWork(self.write_factory) as uow:
                sale = await get_sale_by_id(uow.session, tenant, sale_id)
                outcomes = await try_buy_many(uow.session, tenant, sale, [i[2] for i in items])
                await uow.commit()
        except Exception as exc:  # every attempt of the batch fails the same way
            log.warning("flash-sale database gate batch failed on sale %s", sale_id, exc_info=True)
            outcomes = [exc] * len(items)
        for (_t, _s, _a, future), outcome in zip(items, outcomes, strict=True):
            if not future.done():  # the buyer may have gone away
                future.set_result(outcome)
