"""Outside text that we keep as evidence or quote in an error is stored whatever it holds:
raw bodies as received (core.text.storable), quotes escaped (core.text.escaped) — a NUL
in them used to fail the write on PostgreSQL, losing the record it was part of."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.events import Event, subscribe
from loopmall.core.models import EventDelivery
from loopmall.core.outbox import Dispatcher, publish
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.text import escaped, is_clean, original, storable
from loopmall.core.uow import UnitOfWork


@given(st.binary(max_size=200))
def test_any_bytes_are_kept_exactly_as_clean_text(raw: bytes) -> None:
    kept = storable(raw)
    assert is_clean(kept, multiline=True)
    assert original(kept) == raw


@given(st.text(max_size=200))
def test_clean_text_is_kept_as_it_came(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    if is_clean(text, multiline=True) and not text.startswith("base64:"):
        assert storable(raw) == text


def test_escaped_shows_what_it_replaced() -> None:
    assert escaped("gateway said \x00 bad\u202e") == "gateway said \\u0000 bad\\u202e"
    assert escaped("短信网关") == "短信网关"


class NulFailure(Event):
    topic = "test.nul_failure"
    n: int


@subscribe(NulFailure, "test.fails_with_outside_text")
async def _fails_with_outside_text(
    session: AsyncSession, tenant: Tenant, event: NulFailure
) -> None:
    raise RuntimeError("gateway said E\x00: bad number")


async def test_a_failure_quoting_a_nul_is_recorded_and_retried(state: AppState) -> None:
    async with UnitOfWork(state.write_factory) as uow:
        await publish(uow.session, NulFailure(merchant_id=1, n=1))
        await uow.commit()

    await Dispatcher(state.write_factory).drain()

    async with UnitOfWork(state.read_factory) as uow:
        [delivery] = (await uow.session.scalars(select(EventDelivery))).all()
    assert delivery.status == "pending"
    assert delivery.attempts == 1
    assert delivery.last_error is not None
    assert "RuntimeError: gateway said E\\u0000: bad number" in delivery.last_error
