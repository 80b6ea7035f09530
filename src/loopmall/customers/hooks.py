"""What the customers domain asks of the domains above it, without importing them.

Two domains sit above customers (they import it) and still have a word to say in its
pages:

- o2o, at sign-in: the QR scans the device made before logging in (the visitor cookie)
  become the customer's. It registers a *signed-in hook*.
- notifications, on the "me" page: the badge with the number of unread messages. It
  registers a *me-page counter* named ``unread``.

Each registers when its package is imported (``o2o/__init__.py``,
``notifications/__init__.py``); the app imports both for their routes, so every process that
serves the login and "me" pages has them. Registering again under the same name replaces
the earlier entry, so importing twice (or a test registering its own) never doubles a hook.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.tenancy import Tenant

# (session, tenant, visitor id from the cookie or None, customer id) -> anything
SignedInHook = Callable[[AsyncSession, Tenant, str | None, int], Awaitable[object]]
# (session, tenant, customer id) -> the number to show
MePageCounter = Callable[[AsyncSession, Tenant, int], Awaitable[int]]

_signed_in: dict[str, SignedInHook] = {}
_me_counters: dict[str, MePageCounter] = {}


def on_signed_in(name: str, hook: SignedInHook) -> None:
    """Run ``hook`` in the login's transaction each time a customer signs in."""
    _signed_in[name] = hook


def use_me_counter(name: str, counter: MePageCounter) -> None:
    """Show ``counter``'s number as ``name`` on the customer's "me" page."""
    _me_counters[name] = counter


async def signed_in(
    session: AsyncSession, tenant: Tenant, visitor_id: str | None, customer_id: int
) -> None:
    """Tell the registered domains that ``customer_id`` just signed in from this device.
    Runs in the caller's unit of work, before its commit, in the order of registration."""
    for hook in list(_signed_in.values()):
        await hook(session, tenant, visitor_id, customer_id)


async def me_counts(session: AsyncSession, tenant: Tenant, customer_id: int) -> dict[str, int]:
    """Each registered counter's number for this customer, by name."""
    return {
        name: await counter(session, tenant, customer_id)
        for name, counter in list(_me_counters.items())
    }
