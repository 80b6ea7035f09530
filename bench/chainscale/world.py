"""The chain-scale world: one merchant the size of a national chain, and a few small ones.

The demo world is loaded first through the domains' services (``loopmall.demo.world``): the
fashion chain ``vero`` (3 stores, 6 guides, 40 products in ~400 SKUs, stock, QR codes,
posters, commission rules, a share chain, a conversation, a flash sale) and three small
merchants (the pancake stand, the duck seller, the fruit stall) — the "other tenants".
Then ``vero`` is grown in bulk to ``Size``: stores (each with its stock location, stock of
some SKUs with the ledger line that put it there, and a 收款码), guides (staff with the
guide role, each in one store, each with a 收款码), consumers and customers (one in two
bound to a store and a guide), and orders with their lines, timeline steps, payments,
refunds, attribution credits and commission entries. Every row has its merchant id, an id
from ``bulk.Ids`` and, where the table has one, a public id in the app's shape.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text

from bench.chainscale.bulk import Ids, PublicIds, fix_sequences, load
from bench.harness import CONSOLE, Progress
from loopmall.attribution import totals as attribution_totals
from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.demo import world as demo
from loopmall.identity.service import open_session
from loopmall.inventory.locations import default_warehouse
from loopmall.merchants.models import Merchant, Store
from loopmall.payments import sandbox
from loopmall.payments.accounts import configure_account
from loopmall.rebates import balances
from loopmall.rebates.settlement import settle
from loopmall.staff.models import Staff

BIG = "vero"
SMALL_TENANTS = ("pancake", "duck", "fruit")
SEED = 11
# The tables the loader writes: their PostgreSQL identities move past its ids at the end.
TABLES = (
    "stores",
    "stock_locations",
    "stock_levels",
    "stock_movements",
    "staff",
    "staff_stores",
    "payment_codes",
    "consumers",
    "customers",
    "attribution_bindings",
    "orders",
    "order_lines",
    "order_steps",
    "payments",
    "payment_refunds",
    "order_refunds",
    "attribution_credits",
    "commission_entries",
)


@dataclass(frozen=True)
class Size:
    stores: int
    guides: int
    customers: int
    orders: int
    skus_per_store: int = 40

    @classmethod
    def of(cls, full: bool, scale: int | None = None) -> Size:
        """Full: 1,800 stores, 20,000 guides, 1 M customers, 1 M orders; small: 1/50."""
        divisor = scale or (1 if full else 50)
        return cls(1_800 // divisor, 20_000 // divisor, 1_000_000 // divisor, 1_000_000 // divisor)


@dataclass
class World:
    """What the route walker needs from the loaded world."""

    tenant: Tenant
    owner_cookie: str
    owner_token: str
    cookie_name: str
    small_slug: str
    size: Size
    samples: dict[str, str] = field(default_factory=dict)  # {"store": public id, …}
    load_seconds: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


class Chunks:
    """Rows of each table gathered for one chunk of the load, then written in one go."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {}
        self.loaded: dict[str, int] = {}

    def add(self, name: str, row: tuple[Any, ...]) -> None:
        self.rows.setdefault(name, []).append(row)

    async def flush(self, state: AppState) -> None:
        async with UnitOfWork(state.write_factory) as uow:
            for name, rows in self.rows.items():
                await load(uow.session, name, COLUMNS[name], rows)
                self.loaded[name] = self.loaded.get(name, 0) + len(rows)
            await uow.commit()
        self.rows = {}


COLUMNS: dict[str, tuple[str, ...]] = {
    "stores": (
        "id", "merchant_id", "public_id", "code", "name", "city", "district", "address",
        "phone", "latitude", "longitude", "opening_hours", "pickup_enabled", "status", "note",
        "created_at", "updated_at",
    ),
    "stock_locations": (
        "id", "merchant_id", "public_id", "kind", "store_id", "is_default", "code", "name",
        "created_at",
    ),
    "stock_levels": ("id", "merchant_id", "sku_id", "location_id", "on_hand", "held", "updated_at"),
    "stock_movements": (
        "id", "merchant_id", "stock_level_id", "sku_id", "location_id", "kind", "delta_on_hand",
        "delta_held", "reason", "actor", "created_at",
    ),
    "staff": (
        "id", "merchant_id", "public_id", "phone", "name", "role", "employee_no",
        "password_hash", "active", "created_at", "updated_at",
    ),
    "staff_stores": ("id", "merchant_id", "staff_id", "store_id"),
    "payment_codes": (
        "id", "merchant_id", "public_id", "code", "store_id", "guide_staff_id", "active",
        "created_at",
    ),
    "consumers": (
        "id", "public_id", "phone", "display_name", "avatar_url", "created_at", "updated_at",
    ),
    "customers": (
        "id", "merchant_id", "public_id", "consumer_id", "display_name", "avatar_url", "phone",
        "followed", "first_paid_at", "first_seen_at", "last_seen_at",
    ),
    "attribution_bindings": (
        "id", "merchant_id", "customer_id", "store_id", "guide_staff_id", "source", "bound_at",
        "last_contact_at", "history",
    ),
    "orders": (
        "id", "merchant_id", "public_id", "number", "kind", "status", "fulfilment",
        "payment_method", "customer_id", "store_id", "guide_staff_id", "location_id",
        "items_fen", "shipping_fen", "total_fen", "paid_fen", "refunded_fen", "payment_id",
        "recipient_name", "recipient_phone", "address", "note", "description", "pickup_code",
        "carrier", "tracking_no", "refund_from", "cancel_reason", "expires_at", "created_at",
        "updated_at", "paid_at", "completed_at", "cancelled_at",
    ),
    "order_lines": (
        "id", "merchant_id", "order_id", "sku_id", "hold_id", "sku_public_id", "title",
        "options_text", "unit_fen", "list_fen", "price_rule", "quantity", "line_fen",
    ),
    "order_steps": (
        "id", "merchant_id", "order_id", "from_status", "to_status", "actor", "note",
        "amount_fen", "at",
    ),
    "payments": (
        "id", "merchant_id", "public_id", "account_id", "provider", "method", "order_id",
        "order_kind", "store_id", "out_trade_no", "amount_fen", "refunded_fen", "state",
        "provider_trade_no", "payer_ref", "start", "error", "anomaly", "created_at",
        "updated_at", "expires_at", "paid_at", "queried_at", "closed_at",
    ),
    "payment_refunds": (
        "id", "merchant_id", "public_id", "payment_id", "order_id", "out_refund_no",
        "amount_fen", "reason", "automatic", "actor", "state", "provider_refund_no", "error",
        "created_at", "updated_at", "succeeded_at",
    ),
    "order_refunds": ("id", "merchant_id", "order_id", "refund_id", "amount_fen", "at"),
    "attribution_credits": (
        "id", "merchant_id", "public_id", "order_id", "customer_id", "role", "store_id",
        "guide_staff_id", "sharer_customer_id", "channel_id", "share_id", "placement",
        "amount_fen", "rule", "touch_id", "at",
    ),
    "commission_entries": (
        "id", "merchant_id", "public_id", "kind", "credit_id", "earning_id", "order_id", "role",
        "rule", "earner_kind", "earner_id", "store_id", "base_fen", "rate_bp", "amount_fen",
        "at", "settlement_id",
    ),
}  # fmt: skip

CITIES = [
    ("上海", "静安区"), ("北京", "朝阳区"), ("广州", "天河区"), ("深圳", "南山区"),
    ("杭州", "西湖区"), ("南京", "秦淮区"), ("成都", "锦江区"), ("武汉", "江汉区"),
    ("西安", "雁塔区"), ("重庆", "渝中区"),
]  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "丽静敏娜洋悦婷芳磊强伟军杰涛明超秀英华慧"


@dataclass
class Seed:
    """What the demo world left for the bulk load to hang rows on."""

    tenant: Tenant
    owner: Staff
    account_id: int
    warehouse_id: int
    skus: list[tuple[int, str, str, str, int]]  # id, public id, title, options text, price
    stores: list[int] = field(default_factory=list)
    store_locations: list[int] = field(default_factory=list)
    guides: list[int] = field(default_factory=list)
    guide_store: dict[int, int] = field(default_factory=dict)
    customers: list[int] = field(default_factory=list)


async def _seed(state: AppState) -> Seed:
    await demo.load(state)
    async with UnitOfWork(state.write_factory) as uow:
        s = uow.session
        merchant = await s.scalar(select(Merchant).where(Merchant.slug == BIG))
        assert merchant is not None
        tenant = Tenant(merchant.id, merchant.slug)
        owner = await s.scalar(
            select(Staff).where(Staff.merchant_id == tenant.id, Staff.role == "owner")
        )
        assert owner is not None
        account = await configure_account(s, tenant, "sandbox", sandbox.new_credentials())
        warehouse = await default_warehouse(s, tenant)
        rows = await s.execute(
            text(
                "SELECT s.id, s.public_id, p.title, s.options_key, s.price FROM skus s "
                "JOIN products p ON p.id = s.product_id "
                "WHERE s.merchant_id = :m AND p.status = 'active' ORDER BY s.id"
            ),
            {"m": tenant.id},
        )
        skus = [(int(a), str(b), str(c), str(d or "")[:200], int(e)) for a, b, c, d, e in rows]
        seed = Seed(tenant, owner, account.id, warehouse.id, skus)
        for (store_id,) in await s.execute(
            select(Store.id).where(Store.merchant_id == tenant.id).order_by(Store.id)
        ):
            seed.stores.append(int(store_id))
        await uow.commit()
    return seed


def _name(rnd: random.Random) -> str:
    return rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN)


async def _stores_and_guides(
    state: AppState, seed: Seed, size: Size, ids: Ids, pid: PublicIds, rnd: random.Random
) -> Chunks:
    now = clock.now()
    m = seed.tenant.id
    chunks = Chunks()
    new_stores = max(0, size.stores - len(seed.stores))
    progress = Progress("stores (locations, stock, 收款码)", new_stores, lines=4)
    hours = {d: [["10:00", "22:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    for i in range(new_stores):
        store_id = ids.take("stores")
        city, district = CITIES[i % len(CITIES)]
        chunks.add(
            "stores",
            (
                store_id, m, pid("st", store_id), f"C{i:05d}", f"{city}{district}第{i + 1}店",
                city, district, f"{district}中山路{i + 1}号", "021-60000000",
                30 + rnd.random() * 10, 110 + rnd.random() * 10, hours, True, "open", "",
                now, now,
            ),
        )  # fmt: skip
        seed.stores.append(store_id)
        location_id = ids.take("stock_locations")
        chunks.add(
            "stock_locations",
            (location_id, m, pid("loc", location_id), "store", store_id, False,
             pid("st", store_id), f"{city}{district}第{i + 1}店", now),
        )  # fmt: skip
        seed.store_locations.append(location_id)
        for sku_id, *_rest in rnd.sample(seed.skus, min(size.skus_per_store, len(seed.skus))):
            level_id = ids.take("stock_levels")
            units = rnd.randint(1, 12)
            chunks.add("stock_levels", (level_id, m, sku_id, location_id, units, 0, now))
            chunks.add(
                "stock_movements",
                (ids.take("stock_movements"), m, level_id, sku_id, location_id, "receive",
                 units, 0, "门店铺货", "bench", now),
            )  # fmt: skip
        code_id = ids.take("payment_codes")
        chunks.add(
            "payment_codes",
            (code_id, m, pid("pc", code_id), pid("qr", code_id)[3:] + "s", store_id, None,
             True, now),
        )  # fmt: skip
        if (i + 1) % 500 == 0:
            await chunks.flush(state)
        progress.update(i + 1)
    await chunks.flush(state)

    async with UnitOfWork(state.read_factory) as uow:
        for staff_id, store_id in await uow.session.execute(
            text(
                "SELECT ss.staff_id, ss.store_id FROM staff_stores ss JOIN staff s "
                "ON s.id = ss.staff_id WHERE s.merchant_id = :m AND s.role = 'guide'"
            ),
            {"m": m},
        ):
            seed.guides.append(int(staff_id))
            seed.guide_store[int(staff_id)] = int(store_id)
    new_guides = max(0, size.guides - len(seed.guides))
    progress = Progress("guides (staff, store, 收款码)", new_guides, lines=4)
    for i in range(new_guides):
        staff_id = ids.take("staff")
        store_id = seed.stores[i % len(seed.stores)]
        chunks.add(
            "staff",
            (staff_id, m, pid("stf", staff_id), f"159{i:08d}", _name(rnd), "guide",
             f"G{i:06d}", None, True, now, now),
        )  # fmt: skip
        chunks.add("staff_stores", (ids.take("staff_stores"), m, staff_id, store_id))
        code_id = ids.take("payment_codes")
        chunks.add(
            "payment_codes",
            (code_id, m, pid("pc", code_id), pid("qr", code_id)[3:] + "g", store_id, staff_id,
             True, now),
        )  # fmt: skip
        seed.guides.append(staff_id)
        seed.guide_store[staff_id] = store_id
        if (i + 1) % 20_000 == 0:
            await chunks.flush(state)
        progress.update(i + 1)
    await chunks.flush(state)
    return chunks


async def _customers(
    state: AppState,
    seed: Seed,
    size: Size,
    ids: Ids,
    pid: PublicIds,
    rnd: random.Random,
    chunks: Chunks,
    chunk: int,
) -> None:
    now = clock.now()
    m = seed.tenant.id
    progress = Progress("consumers, customers, bindings", size.customers)
    for i in range(size.customers):
        consumer_id = ids.take("consumers")
        customer_id = ids.take("customers")
        seen = now - timedelta(seconds=rnd.randrange(365 * 86400))
        name = _name(rnd)
        chunks.add("consumers", (consumer_id, pid("con", consumer_id), None, name, "", seen, seen))
        chunks.add(
            "customers",
            (customer_id, m, pid("cus", customer_id), consumer_id, name, "", None,
             rnd.random() < 0.3, None, seen, seen),
        )  # fmt: skip
        seed.customers.append(customer_id)
        if i % 2 == 0:
            guide = rnd.choice(seed.guides)
            chunks.add(
                "attribution_bindings",
                (ids.take("attribution_bindings"), m, customer_id, seed.guide_store[guide],
                 guide, "scan", seen, seen, []),
            )  # fmt: skip
        if (i + 1) % chunk == 0:
            await chunks.flush(state)
            progress.update(i + 1)
    await chunks.flush(state)
    progress.update(size.customers)


# (kind, fulfilment, payment method, final status, share): the order mix.
MIX: list[tuple[str, str, str, str, float]] = [
    ("mall", "delivery", "online", "completed", 0.26),
    ("mall", "delivery", "online", "shipped", 0.06),
    ("mall", "delivery", "online", "paid", 0.06),
    ("mall", "pickup", "online", "ready_for_pickup", 0.03),
    ("mall", "pickup", "online", "completed", 0.06),
    ("mall", "delivery", "online", "created", 0.04),
    ("mall", "delivery", "online", "cancelled", 0.05),
    ("mall", "delivery", "online", "refunded", 0.04),
    ("face_to_face", "none", "online", "paid", 0.25),
    ("store_sale", "none", "cod", "completed", 0.15),
]
PAID = {"paid", "shipped", "ready_for_pickup", "completed", "refunded"}


def _pick_mix(rnd: random.Random) -> tuple[str, str, str, str, float]:
    r = rnd.random()
    for entry in MIX:
        r -= entry[4]
        if r < 0:
            return entry
    return MIX[0]


class OrderMaker:
    """One order and everything that hangs on it, as rows in ``chunks``."""

    def __init__(
        self, seed: Seed, ids: Ids, pid: PublicIds, rnd: random.Random, chunks: Chunks
    ) -> None:
        self.seed, self.ids, self.pid, self.rnd, self.c = seed, ids, pid, rnd, chunks
        self.m = seed.tenant.id
        self.end = clock.now()
        # The bulk-loaded stores are the last ones, each with its location.
        grown = seed.stores[len(seed.stores) - len(seed.store_locations) :]
        self.location_of = dict(zip(grown, seed.store_locations, strict=True))

    def make(self, i: int) -> None:
        rnd, m, ids, pid, add = self.rnd, self.m, self.ids, self.pid, self.c.add
        kind, fulfilment, method, status, _ = _pick_mix(rnd)
        order_id = ids.take("orders")
        at = self.end - timedelta(seconds=rnd.randrange(365 * 86400))
        customer = rnd.choice(self.seed.customers)
        guide = rnd.choice(self.seed.guides) if kind != "mall" or rnd.random() < 0.3 else None
        store = (
            self.seed.guide_store[guide]
            if guide is not None
            else (rnd.choice(self.seed.stores) if fulfilment == "pickup" else None)
        )
        lines: list[tuple[Any, ...]] = []
        items = 0
        if kind != "face_to_face":
            for _ in range(1 if kind == "store_sale" else rnd.randint(1, 3)):
                sku_id, sku_pid, title, options, price = rnd.choice(self.seed.skus)
                quantity = rnd.randint(1, 2)
                lines.append(
                    (ids.take("order_lines"), m, order_id, sku_id, None, sku_pid, title[:120],
                     options, price, price, "store_sale" if kind == "store_sale" else "list",
                     quantity, price * quantity)
                )  # fmt: skip
                items += price * quantity
        else:
            items = rnd.randrange(1_000, 100_000)
        shipping = 1_000 if fulfilment == "delivery" and items < 9_900 else 0
        total = items + shipping
        paid = total if status in PAID and method == "online" else 0
        refunded = paid if status == "refunded" else 0
        paid_at = at + timedelta(minutes=2) if paid else None
        done_at = at + timedelta(days=3) if status == "completed" else None
        payment_id = ids.take("payments") if paid else None
        delivery = fulfilment == "delivery"
        sent = delivery and status in ("shipped", "completed")
        add(
            "orders",
            (order_id, m, pid("ord", order_id),
             clock.local(at).strftime("%Y%m%d") + f"{i:08d}", kind, status, fulfilment, method,
             customer, store, guide,
             self.location_of.get(store) if store is not None and kind != "mall" else None,
             items, shipping, total, paid, refunded, payment_id,
             "收货人" if delivery else "", "13700000000" if delivery else "",
             "上海市静安区南京西路1号" if delivery else "", "", "",
             f"{(i * 7919) % 10**8:08d}" if fulfilment == "pickup" else None,
             "顺丰" if sent else "", f"SF{i:012d}" if sent else "",
             "paid" if status == "refunded" else None,
             "超时未付款" if status == "cancelled" else "",
             at + timedelta(minutes=15) if kind == "mall" and method == "online" else None,
             at, done_at or paid_at or at, paid_at, done_at,
             at + timedelta(minutes=15) if status == "cancelled" else None),
        )  # fmt: skip
        for line in lines:
            add("order_lines", line)
        add(
            "order_steps",
            (ids.take("order_steps"), m, order_id, None, "created", "customer", "", None, at),
        )
        if status != "created":
            add(
                "order_steps",
                (ids.take("order_steps"), m, order_id, "created", status, "system", "",
                 refunded or None, done_at or paid_at or at),
            )  # fmt: skip
        if payment_id is not None:
            assert paid_at is not None
            add(
                "payments",
                (payment_id, m, pid("pay", payment_id), self.seed.account_id, "sandbox",
                 "sandbox", order_id, kind, store, pid("T", payment_id)[2:],
                 paid, refunded, "refunded" if refunded else "succeeded",
                 f"SBX{payment_id:012d}", None, {}, "", "", at, paid_at,
                 at + timedelta(minutes=15), paid_at, None, None),
            )  # fmt: skip
            if refunded:
                refund_id = ids.take("payment_refunds")
                back = paid_at + timedelta(days=2)
                add(
                    "payment_refunds",
                    (refund_id, m, pid("rf", refund_id), payment_id, order_id,
                     pid("R", refund_id)[2:], refunded, "不想要了", False, "owner", "succeeded",
                     f"SBXR{refund_id:012d}", "", back, back, back),
                )  # fmt: skip
                add(
                    "order_refunds",
                    (ids.take("order_refunds"), m, order_id, refund_id, refunded, back),
                )
        if guide is not None and status in ("completed", "paid") and total > 0:
            for role, who, bp in (("store", store, 300), ("guide", guide, 500)):
                credit_id = ids.take("attribution_credits")
                credited_at = done_at or paid_at or at
                add(
                    "attribution_credits",
                    (credit_id, m, pid("cr", credit_id), order_id, customer, role, store,
                     guide if role == "guide" else None, None, None, None, "", total,
                     "last_touch", None, credited_at),
                )  # fmt: skip
                amount = total * bp // 10_000
                if amount > 0:
                    entry_id = ids.take("commission_entries")
                    add(
                        "commission_entries",
                        (entry_id, m, pid("ce", entry_id), "earning", credit_id, None, order_id,
                         role, "last_touch", "store" if role == "store" else "staff", who,
                         store, total, bp, amount, credited_at, None),
                    )  # fmt: skip


async def _orders(
    state: AppState,
    seed: Seed,
    size: Size,
    ids: Ids,
    pid: PublicIds,
    rnd: random.Random,
    chunks: Chunks,
    chunk: int,
) -> None:
    maker = OrderMaker(seed, ids, pid, rnd, chunks)
    progress = Progress(
        "orders (lines, steps, payments, refunds, credits, commission)", size.orders
    )
    for i in range(size.orders):
        maker.make(i)
        if (i + 1) % chunk == 0:
            await chunks.flush(state)
            progress.update(i + 1)
    await chunks.flush(state)
    progress.update(size.orders)


async def _settle_first_month(state: AppState, seed: Seed) -> None:
    """One commission settlement (through ``rebates``), of the orders' first month: the
    settlement pages have one to show, and most entries stay unsettled. The ledger was
    loaded around ``rebates.ledger``, so its running balances are rebuilt from it first."""
    async with UnitOfWork(state.write_factory) as uow:
        await balances.rebuild(uow.session, seed.tenant)
        await settle(
            uow.session, seed.tenant, clock.now() - timedelta(days=335), actor="chainscale"
        )
        await uow.commit()


async def _attribution_totals(state: AppState, seed: Seed) -> None:
    """The credits were loaded around ``attribution.ledger``: its running totals are rebuilt
    from them (the ledger's per-role totals read them)."""
    async with UnitOfWork(state.write_factory) as uow:
        await attribution_totals.rebuild(uow.session, seed.tenant)
        await uow.commit()


async def _sessions(state: AppState, seed: Seed) -> tuple[str, str]:
    async with UnitOfWork(state.write_factory) as uow:
        ttl = 7 * 86400
        cookie, _ = await open_session(
            uow.session, kind="cookie", ttl_seconds=ttl, staff=seed.owner
        )
        token, _ = await open_session(
            uow.session, kind="api", ttl_seconds=ttl, staff=seed.owner, label="chainscale"
        )
        await uow.commit()
    return cookie, token


async def _analyze(state: AppState) -> None:
    """Statistics for the planner after the bulk load (this machine's PostgreSQL runs
    without autovacuum; SQLite's planner uses ``sqlite_stat1`` too)."""
    async with UnitOfWork(state.write_factory) as uow:
        await uow.session.execute(text("ANALYZE"))
        await uow.commit()


async def build_world(state: AppState, size: Size) -> World:
    """Load the demo world, grow ``vero`` to ``size`` in bulk, ANALYZE; the walker's world."""
    rnd = random.Random(SEED)
    pid = PublicIds(rnd.getrandbits(30))
    timings: dict[str, float] = {}

    def timed(label: str, began: float) -> float:
        timings[label] = time.perf_counter() - began
        CONSOLE.print(f"  {label}: {timings[label]:.1f} s", markup=False)
        return time.perf_counter()

    t = began = time.perf_counter()
    seed = await _seed(state)
    t = timed("demo world (services)", t)
    ids = Ids()
    async with UnitOfWork(state.read_factory) as uow:
        for name in TABLES:
            await ids.start(uow.session, name)
    chunk = 50_000 if not state.is_sqlite else 20_000
    chunks = await _stores_and_guides(state, seed, size, ids, pid, rnd)
    t = timed("stores and guides", t)
    await _customers(state, seed, size, ids, pid, rnd, chunks, chunk)
    t = timed("customers", t)
    await _orders(state, seed, size, ids, pid, rnd, chunks, chunk // 2)
    async with UnitOfWork(state.write_factory) as uow:
        await fix_sequences(uow.session, TABLES)
        await uow.commit()
    t = timed("orders", t)
    await _settle_first_month(state, seed)
    t = timed("a settlement (the first month)", t)
    await _attribution_totals(state, seed)
    t = timed("attribution totals", t)
    await _analyze(state)
    t = timed("analyze", t)
    timings["total"] = time.perf_counter() - began
    cookie, token = await _sessions(state, seed)
    world = World(
        tenant=seed.tenant,
        owner_cookie=cookie,
        owner_token=token,
        cookie_name=state.settings.session_cookie,
        small_slug="duck",
        size=size,
        load_seconds=timings,
        rows=dict(chunks.loaded),
    )
    world.samples = await samples(state, seed.tenant)
    return world


async def reopen_world(state: AppState) -> World:
    """The world already loaded in ``state``'s database (``--reuse``): its size counted,
    fresh owner sessions, the samples again; no load times (the load's own JSON has them)."""
    async with UnitOfWork(state.read_factory) as uow:
        s = uow.session
        merchant = await s.scalar(select(Merchant).where(Merchant.slug == BIG))
        if merchant is None:
            raise RuntimeError(f"no merchant {BIG!r} in this database: load a world first")
        tenant = Tenant(merchant.id, merchant.slug)
        owner = await s.scalar(
            select(Staff).where(Staff.merchant_id == tenant.id, Staff.role == "owner")
        )
        assert owner is not None
        counts = {}
        for name, sql in {
            "stores": "SELECT count(*) FROM stores WHERE merchant_id = :m",
            "guides": "SELECT count(*) FROM staff WHERE merchant_id = :m AND role = 'guide'",
            "customers": "SELECT count(*) FROM customers WHERE merchant_id = :m",
            "orders": "SELECT count(*) FROM orders WHERE merchant_id = :m",
        }.items():
            counts[name] = int(await s.scalar(text(sql), {"m": tenant.id}) or 0)
    seed = Seed(tenant, owner, 0, 0, [])
    cookie, token = await _sessions(state, seed)
    world = World(
        tenant=tenant,
        owner_cookie=cookie,
        owner_token=token,
        cookie_name=state.settings.session_cookie,
        small_slug="duck",
        size=Size(**counts),
    )
    world.samples = await samples(state, tenant)
    return world


# One of each thing a path parameter may name, from the big merchant (the busiest rows:
# the store with the most orders, its busiest guide, a recent paid order, …).
SAMPLES: dict[str, str] = {
    "store": "SELECT s.public_id FROM stores s WHERE s.merchant_id = :m AND s.id = "
    "(SELECT o.store_id FROM orders o WHERE o.merchant_id = :m AND o.store_id IS NOT NULL "
    "ORDER BY o.id DESC LIMIT 1)",
    "guide": "SELECT public_id FROM staff WHERE merchant_id = :m AND role = 'guide' "
    "ORDER BY id LIMIT 1",
    "staff": "SELECT public_id FROM staff WHERE merchant_id = :m AND role = 'guide' "
    "ORDER BY id DESC LIMIT 1",
    "order": "SELECT public_id FROM orders WHERE merchant_id = :m AND status = 'refunded' "
    "ORDER BY id DESC LIMIT 1",
    "pickup_code": "SELECT pickup_code FROM orders WHERE merchant_id = :m "
    "AND status = 'ready_for_pickup' ORDER BY id DESC LIMIT 1",
    "product": "SELECT public_id FROM products WHERE merchant_id = :m ORDER BY id LIMIT 1",
    "sku": "SELECT public_id FROM skus WHERE merchant_id = :m ORDER BY id LIMIT 1",
    "customer": "SELECT c.public_id FROM customers c JOIN attribution_bindings b "
    "ON b.customer_id = c.id WHERE c.merchant_id = :m ORDER BY c.id DESC LIMIT 1",
    "chat_customer": "SELECT c.public_id FROM customers c JOIN guide_conversations g "
    "ON g.customer_id = c.id WHERE c.merchant_id = :m ORDER BY c.id LIMIT 1",
    "channel": "SELECT public_id FROM qr_channels WHERE merchant_id = :m "
    "AND kind = 'placement' ORDER BY id LIMIT 1",
    "share": "SELECT public_id FROM shares WHERE merchant_id = :m ORDER BY id LIMIT 1",
    "conversation": "SELECT public_id FROM guide_conversations WHERE merchant_id = :m "
    "ORDER BY id LIMIT 1",
    "sale": "SELECT public_id FROM flash_sales WHERE merchant_id = :m ORDER BY id LIMIT 1",
    "payment_code": "SELECT public_id FROM payment_codes WHERE merchant_id = :m "
    "ORDER BY id LIMIT 1",
    "settlement": "SELECT public_id FROM commission_settlements WHERE merchant_id = :m "
    "ORDER BY id LIMIT 1",
    "import_job": "SELECT public_id FROM import_jobs WHERE merchant_id = :m ORDER BY id LIMIT 1",
}


async def samples(state: AppState, tenant: Tenant) -> dict[str, str]:
    """The sample of each kind the walker fills path parameters with (missing: none exists)."""
    found: dict[str, str] = {}
    async with UnitOfWork(state.read_factory) as uow:
        for kind, sql in SAMPLES.items():
            try:
                value = await uow.session.scalar(text(sql), {"m": tenant.id})
            except Exception as exc:  # a table or column named wrong here: say so, go on
                CONSOLE.print(f"  [yellow]sample {kind}: {exc.__class__.__name__}[/yellow]")
                await uow.session.rollback()
                continue
            if value is not None:
                found[kind] = str(value)
    return found


def load_line(world: World) -> str:
    s = world.size
    return (
        f"{s.stores:,} stores, {s.guides:,} guides, {s.customers:,} customers, "
        f"{s.orders:,} orders in {world.load_seconds.get('total', 0):.0f} s"
    )
