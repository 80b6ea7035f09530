"""What the countdown's token step reads: the sale, cached a second per process, and one
probe of the shopper's reservation.

At a flash sale's countdown every holder asks for a sale token at once (``POST
…/flash/{sale}/token``). The sale is the same for all of them; read per request it cost a
query each, beside the units-left sum, the ticket and the reservation the sale page's view
reads (issue #21: with three app processes the burst ran PostgreSQL out of connections).
The token needs only the sale's times and the holder's reservation bit: the sale comes
from this cache (one lookup per sale a second, shared by the attempts waiting for it), the
reservation from Redis's bitmap on a Redis sale, else one primary-key probe.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loopmall.core.errors import NotFound
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.flashsale.repository import get_sale, has_reserved
from loopmall.flashsale.rules import Phase, phase_at

EXTRAS_KEY = "flashsale.sale_cache"
TTL_SECONDS = 1.0  # a cancelled or moved sale reaches the token step within a second
MAX_SALES = 10_000  # forgotten all at once past this (made-up sale ids)


@dataclass(frozen=True, slots=True)
class CachedSale:
    id: int
    public_id: str
    gate: str
    status: str
    reserve_from: datetime
    reserve_until: datetime
    starts_at: datetime
    ends_at: datetime

    def phase(self, now: datetime) -> Phase:
        return phase_at(
            now,
            status=self.status,
            reserve_from=self.reserve_from,
            reserve_until=self.reserve_until,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
        )


Entry = tuple[float, CachedSale | None]  # (good until, the sale or None for no such sale)


class SaleCache:
    """Sales by (merchant, public id), each read at most once a second by this process."""

    def __init__(self, read_factory: Any) -> None:
        self._read_factory = read_factory
        self._sales: dict[tuple[int, str], Entry] = {}
        self._loading: dict[tuple[int, str], asyncio.Future[Entry]] = {}

    async def get(self, tenant: Tenant, public_id: str) -> CachedSale:
        """The merchant's sale; NotFound for none (remembered a second too)."""
        key = (tenant.id, public_id)
        cached = self._sales.get(key)
        if cached is None or cached[0] < time.monotonic():
            # The requests that find the entry stale wait for one lookup, not one each.
            loading = self._loading.get(key)
            if loading is None:
                loading = self._loading[key] = asyncio.ensure_future(self._load(tenant, key))
                loading.add_done_callback(lambda _f: self._loading.pop(key, None))
            cached = await asyncio.shield(loading)
        if cached[1] is None:
            raise NotFound("No such flash sale")
        return cached[1]

    async def _load(self, tenant: Tenant, key: tuple[int, str]) -> Entry:
        async with UnitOfWork(self._read_factory) as uow:
            try:
                sale = await get_sale(uow.session, tenant, key[1])
                found: CachedSale | None = CachedSale(
                    sale.id,
                    sale.public_id,
                    sale.gate,
                    sale.status,
                    sale.reserve_from,
                    sale.reserve_until,
                    sale.starts_at,
                    sale.ends_at,
                )
            except NotFound:
                found = None
        if len(self._sales) > MAX_SALES:
            self._sales.clear()
        entry = self._sales[key] = (time.monotonic() + TTL_SECONDS, found)
        return entry


def sale_cache(state: Any) -> SaleCache:
    """This app's cache (made on first use)."""
    cache: SaleCache | None = state.extras.get(EXTRAS_KEY)
    if cache is None:
        cache = state.extras[EXTRAS_KEY] = SaleCache(state.read_factory)
    return cache


async def holds_reservation(state: Any, uow: UnitOfWork, sale: CachedSale, customer: int) -> bool:
    """Whether the customer reserved the sale: the gate's own bitmap on a loaded Redis
    sale (no database work), else one primary-key probe (a reservation made after the sale
    was loaded is in the database only)."""
    if sale.gate == "redis" and state.redis is not None:
        from loopmall.flashsale.gate_redis import SaleKeys

        keys = SaleKeys(state.settings.redis_prefix, sale.id)
        if await state.redis.getbit(keys.reservations, customer):
            return True
    return await has_reserved(uow.session, sale.id, customer)
