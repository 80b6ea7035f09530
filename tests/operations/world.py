"""A subscriber that fails until told otherwise, and dead deliveries made the real way:
published, failed by the dispatcher on every attempt, given up."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import outbox
from loopmall.core.events import Event, subscribe, subscribers_of
from loopmall.core.models import EventDelivery, OutboxEvent
from loopmall.core.outbox import publish
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.identity.operators import create_operator
from tests.factories import PASSWORD

OPERATOR_EMAIL = "ops@loopmall.dev"
FLAKY = "test.ops_flaky"
STEADY = "test.ops_steady"


class OpsPing(Event):
    topic = "test.ops_ping"
    summary = "A test event for the dead-letter console."
    n: int


class OpsPong(Event):
    topic = "test.ops_pong"
    summary = "A second test topic for the dead-letter console's filter."
    n: int


# The gateway behind the flaky subscriber: down until a test brings it back.
gateway = {"down": True}
delivered: list[tuple[str, int]] = []


@subscribe(OpsPing, FLAKY)
async def _flaky(session: AsyncSession, tenant: Tenant, event: OpsPing) -> None:
    if gateway["down"]:
        raise RuntimeError(f"gateway refused ping {event.n}")
    delivered.append((tenant.slug, event.n))


@subscribe(OpsPong, "test.ops_flaky_pong")
async def _flaky_pong(session: AsyncSession, tenant: Tenant, event: OpsPong) -> None:
    if gateway["down"]:
        raise RuntimeError(f"gateway refused pong {event.n}")
    delivered.append((tenant.slug, -event.n))


@subscribe(OpsPing, STEADY)
async def _steady(session: AsyncSession, tenant: Tenant, event: OpsPing) -> None:
    return None


def reset() -> None:
    gateway["down"] = True
    delivered.clear()


async def publish_events(state: AppState, *events: Event) -> None:
    async with UnitOfWork(state.write_factory) as uow:
        await publish(uow.session, *events)
        await uow.commit()


async def make_dead(state: AppState, *events: Event) -> list[EventDelivery]:
    """Publish ``events`` and deliver them as the dispatcher's last attempt would: the
    flaky subscribers fail and the backbone gives them up (``dead``, with the traceback),
    the steady one is done. The outbox rows are marked relayed in the publishing
    transaction, so a running dispatcher (the browser tests' server) leaves them alone.
    Returns the dead deliveries, oldest first."""
    async with UnitOfWork(state.write_factory) as uow:
        before = await uow.session.scalar(select(func.coalesce(func.max(OutboxEvent.id), 0)))
        await publish(uow.session, *events)
        new = OutboxEvent.id > before
        await uow.session.execute(update(OutboxEvent).where(new).values(status="done"))
        rows = list((await uow.session.scalars(select(OutboxEvent).where(new))).all())
        await uow.commit()
    for row in rows:
        env = outbox.envelope_of(row)
        for sub in subscribers_of(env.topic):
            attempt = 1 if sub.name == STEADY else outbox.MAX_ATTEMPTS
            await outbox.apply(state.write_factory, sub, env, attempt=attempt)
    return await deliveries(state, status="dead")


async def deliveries(state: AppState, *, status: str | None = None) -> list[EventDelivery]:
    async with UnitOfWork(state.read_factory) as uow:
        stmt = select(EventDelivery).order_by(EventDelivery.id)
        if status is not None:
            stmt = stmt.where(EventDelivery.status == status)
        return list((await uow.session.scalars(stmt)).all())


async def make_operator(state: AppState, email: str = OPERATOR_EMAIL) -> None:
    async with UnitOfWork(state.write_factory) as uow:
        await create_operator(uow.session, email=email, name="Ops", password=PASSWORD)
        await uow.commit()
