"""In-process order hooks: code that runs before and after an order is created, paid,
shipped (or made ready for pickup), completed or cancelled, inside the same transaction.

Later capabilities (promotions, attribution, points…) register here instead of editing the
order service::

    from loopmall.orders import hooks

    @hooks.after("pay")
    async def credit_points(session, tenant, order): ...

A ``before`` hook may refuse the step by raising a ``LoopmallError``; the step and
everything it wrote roll back with the transaction. ``after`` hooks see the order in its
new status. Hooks must not commit. Side effects on the outside world belong in outbox
handlers of the order events, not here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.tenancy import Tenant

if TYPE_CHECKING:
    from loopmall.orders.models import Order

Step = Literal["create", "pay", "ship", "complete", "cancel"]
STEPS: tuple[Step, ...] = ("create", "pay", "ship", "complete", "cancel")
Hook = Callable[[AsyncSession, Tenant, "Order"], Awaitable[None]]

_before: dict[str, list[Hook]] = defaultdict(list)
_after: dict[str, list[Hook]] = defaultdict(list)


def _register(table: dict[str, list[Hook]], step: Step) -> Callable[[Hook], Hook]:
    if step not in STEPS:
        raise ValueError(f"unknown order step {step!r}; one of {STEPS}")

    def register(fn: Hook) -> Hook:
        if fn not in table[step]:
            table[step].append(fn)
        return fn

    return register


def before(step: Step) -> Callable[[Hook], Hook]:
    """Decorator: run ``fn(session, tenant, order)`` before ``step`` (may raise to refuse)."""
    return _register(_before, step)


def after(step: Step) -> Callable[[Hook], Hook]:
    """Decorator: run ``fn(session, tenant, order)`` after ``step``, in its transaction."""
    return _register(_after, step)


def remove(step: Step, fn: Hook) -> None:
    """Unregister ``fn`` from both lists of ``step`` (tests use this to clean up)."""
    for table in (_before, _after):
        if fn in table[step]:
            table[step].remove(fn)


async def run_before(step: Step, session: AsyncSession, tenant: Tenant, order: Order) -> None:
    for fn in list(_before[step]):
        await fn(session, tenant, order)


async def run_after(step: Step, session: AsyncSession, tenant: Tenant, order: Order) -> None:
    for fn in list(_after[step]):
        await fn(session, tenant, order)
