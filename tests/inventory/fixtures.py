"""Rows inventory tests stand on, inserted directly (catalog and store services are built
elsewhere; these tests must not depend on them), and the invariants every test checks."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import func, select

from loopmall.catalog.models import Product, Sku
from loopmall.core import clock
from loopmall.core.ids import new_public_id
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.inventory.models import Hold, StockLevel, StockMovement
from loopmall.merchants.models import Store


@dataclass(frozen=True)
class MadeSku:
    id: int
    public_id: str
    code: str


async def make_skus(
    state: AppState, tenant: Tenant, count: int = 1, title: str = "T恤"
) -> list[MadeSku]:
    """One product with ``count`` SKUs (sizes S, M, L…)."""
    async with UnitOfWork(state.write_factory) as uow:
        now = clock.now()
        product = Product(
            merchant_id=tenant.id,
            public_id=new_public_id("prd"),
            title=title,
            subtitle="",
            description="",
            status="active",
            sales_scope="all",
            tags=[],
            option_names=["尺码"],
            created_at=now,
            updated_at=now,
        )
        uow.session.add(product)
        await uow.session.flush()
        made = []
        for i in range(count):
            sku = Sku(
                merchant_id=tenant.id,
                public_id=new_public_id("sku"),
                product_id=product.id,
                code=f"{tenant.slug}-{product.id}-{i}",
                options={"尺码": f"S{i}"},
                options_key=json.dumps([f"S{i}"], ensure_ascii=False),
                barcode="",
                price=9900,
                status="active",
                created_at=now,
                updated_at=now,
            )
            uow.session.add(sku)
            await uow.session.flush()
            made.append(MadeSku(sku.id, sku.public_id, sku.code))
        await uow.commit()
        return made


async def make_store(state: AppState, tenant: Tenant, code: str = "S001") -> Store:
    async with UnitOfWork(state.write_factory) as uow:
        now = clock.now()
        store = Store(
            merchant_id=tenant.id,
            public_id=new_public_id("st"),
            code=code,
            name=f"门店 {code}",
            opening_hours={},
            created_at=now,
            updated_at=now,
        )
        uow.session.add(store)
        await uow.commit()
        return store


@dataclass(frozen=True)
class LevelState:
    on_hand: int
    held: int
    ledger_on_hand: int
    ledger_held: int
    active_hold_units: int


async def level_state(state: AppState, tenant: Tenant, sku_id: int) -> list[LevelState]:
    """Every level of a SKU as stored, beside its ledger sums and its active holds."""
    async with UnitOfWork(state.read_factory) as uow:
        s = uow.session
        levels = (
            await s.scalars(
                select(StockLevel)
                .where(StockLevel.merchant_id == tenant.id, StockLevel.sku_id == sku_id)
                .order_by(StockLevel.id)
            )
        ).all()
        out = []
        for lv in levels:
            ledger = (
                await s.execute(
                    select(
                        func.coalesce(func.sum(StockMovement.delta_on_hand), 0),
                        func.coalesce(func.sum(StockMovement.delta_held), 0),
                    ).where(StockMovement.stock_level_id == lv.id)
                )
            ).one()
            active = await s.scalar(
                select(func.coalesce(func.sum(Hold.quantity), 0)).where(
                    Hold.stock_level_id == lv.id, Hold.status == "active"
                )
            )
            out.append(LevelState(lv.on_hand, lv.held, ledger[0], ledger[1], int(active or 0)))
        return out


async def assert_consistent(state: AppState, tenant: Tenant, sku_id: int) -> None:
    """Counts never negative, held within on hand, the ledger equal to the counts."""
    for lv in await level_state(state, tenant, sku_id):
        assert lv.on_hand >= 0
        assert 0 <= lv.held <= lv.on_hand
        assert (lv.ledger_on_hand, lv.ledger_held) == (lv.on_hand, lv.held)
        assert lv.active_hold_units == lv.held
