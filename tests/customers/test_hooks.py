"""What customers asks of the domains above it without importing them (``customers.hooks``),
and the customer's follow / first-payment columns, written only by ``customers.service``.

The login and "me" page flows through the hooks are tested where their effects show:
tests/o2o/test_scans.py (a login claims the device's scans) and
tests/notifications/test_inbox_and_follow.py (the unread badge on the "me" page)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.errors import NotFound
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers import hooks
from loopmall.customers import service as cs
from loopmall.customers.models import Customer
from tests.factories import make_merchant

ACME = Tenant(1, "acme")


@pytest.fixture
def clean_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty registries for the test; the app's entries come back after it."""
    monkeypatch.setattr(hooks, "_signed_in", {})
    monkeypatch.setattr(hooks, "_me_counters", {})


@pytest.mark.usefixtures("clean_hooks")
async def test_signed_in_runs_every_hook_in_order_and_a_name_registers_once() -> None:
    calls: list[tuple[str, str | None, int]] = []

    def hook(label: str):  # type: ignore[no-untyped-def]
        async def run(_s: AsyncSession, _t: Tenant, visitor: str | None, customer: int) -> None:
            calls.append((label, visitor, customer))

        return run

    hooks.on_signed_in("first", hook("a"))
    hooks.on_signed_in("second", hook("b"))
    hooks.on_signed_in("first", hook("c"))  # the same name again replaces, never doubles

    await hooks.signed_in(None, ACME, "v_1", 7)  # type: ignore[arg-type]

    assert calls == [("c", "v_1", 7), ("b", "v_1", 7)]


@pytest.mark.usefixtures("clean_hooks")
async def test_me_counts_asks_each_counter_and_is_empty_without_any() -> None:
    assert await hooks.me_counts(None, ACME, 7) == {}  # type: ignore[arg-type]

    async def unread(_s: AsyncSession, tenant: Tenant, customer: int) -> int:
        return tenant.id * 10 + customer

    hooks.use_me_counter("unread", unread)

    assert await hooks.me_counts(None, ACME, 7) == {"unread": 17}  # type: ignore[arg-type]


def _registered_after(program: str) -> str:
    """What the registries hold in a fresh interpreter after ``program`` ran."""
    program += (
        "\nfrom loopmall.customers import hooks\n"
        "print(sorted(hooks._signed_in), sorted(hooks._me_counters))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()


def test_importing_a_package_registers_its_hooks() -> None:
    assert _registered_after("import loopmall.o2o.models") == "['o2o.claim_scans'] []"
    assert _registered_after("import loopmall.notifications.models") == "[] ['unread']"


def test_the_apps_routes_bring_both_hooks() -> None:
    # create_app imports its routers by name (API_MODULES, PAGE_MODULES): as a new app
    # process does before it answers the first request.
    program = (
        "import importlib\n"
        "from loopmall.app import API_MODULES, PAGE_MODULES\n"
        "for name in API_MODULES + PAGE_MODULES:\n"
        "    importlib.import_module(name)\n"
    )
    assert _registered_after(program) == "['o2o.claim_scans'] ['unread']"


async def _customer(state: AppState, slug: str) -> tuple[Tenant, Customer]:
    tenant = await make_merchant(state, slug, slug.title())
    async with UnitOfWork(state.write_factory) as uow:
        customer, _token = await cs.sandbox_login(uow.session, tenant, name="小王", phone=None)
        await uow.commit()
    return tenant, customer


async def _reload(state: AppState, tenant: Tenant, customer_id: int) -> Customer:
    async with UnitOfWork(state.read_factory) as uow:
        return await cs.get_customer(uow.session, tenant, customer_id)


async def test_the_first_payment_is_kept_and_later_ones_change_nothing(state: AppState) -> None:
    tenant, customer = await _customer(state, "acme")
    first, later = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)
    for at in (first, later):
        async with UnitOfWork(state.write_factory) as uow:
            row = await cs.get_customer(uow.session, tenant, customer.id)
            await cs.mark_first_paid(uow.session, tenant, row, at)
            await uow.commit()

    assert (await _reload(state, tenant, customer.id)).first_paid_at == first


async def test_following_keeps_its_time_and_unfollowing_clears_it(state: AppState) -> None:
    tenant, customer = await _customer(state, "acme")

    async with UnitOfWork(state.write_factory) as uow:
        row = await cs.get_customer(uow.session, tenant, customer.id)
        await cs.set_followed(uow.session, tenant, row, True)
        await uow.commit()
    followed = await _reload(state, tenant, customer.id)
    assert followed.followed and followed.followed_at is not None

    async with UnitOfWork(state.write_factory) as uow:
        row = await cs.get_customer(uow.session, tenant, customer.id)
        await cs.set_followed(uow.session, tenant, row, True)  # again: the time stays
        await uow.commit()
    assert (await _reload(state, tenant, customer.id)).followed_at == followed.followed_at

    async with UnitOfWork(state.write_factory) as uow:
        row = await cs.get_customer(uow.session, tenant, customer.id)
        await cs.set_followed(uow.session, tenant, row, False)
        await uow.commit()
    gone = await _reload(state, tenant, customer.id)
    assert not gone.followed and gone.followed_at is None


async def test_the_follow_invitation_is_marked_once(state: AppState) -> None:
    tenant, customer = await _customer(state, "acme")
    seen = []
    for _ in range(2):
        async with UnitOfWork(state.write_factory) as uow:
            row = await cs.get_customer(uow.session, tenant, customer.id)
            await cs.mark_follow_invited(uow.session, tenant, row)
            await uow.commit()
        seen.append((await _reload(state, tenant, customer.id)).follow_invited_at)

    assert seen[0] is not None and seen[1] == seen[0]


async def test_another_merchants_customer_is_refused(state: AppState) -> None:
    _acme, customer = await _customer(state, "acme")
    other = await make_merchant(state, "other", "Other")

    async with UnitOfWork(state.write_factory) as uow:
        row = await uow.session.get(Customer, customer.id)
        assert row is not None
        with pytest.raises(NotFound):
            await cs.set_followed(uow.session, other, row, True)
        with pytest.raises(NotFound):
            await cs.mark_first_paid(uow.session, other, row, datetime(2024, 5, 1, tzinfo=UTC))
        with pytest.raises(NotFound):
            await cs.mark_follow_invited(uow.session, other, row)
        assert not row.followed and row.first_paid_at is None and row.follow_invited_at is None
