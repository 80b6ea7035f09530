"""Share chains for the console: each first share (a root) with the re-shares that grew
from it as a tree, and per share its visits and the orders and GMV attribution credited to
it (``attribution.repository.totals_by_share``). A page of chains costs at most seven
statements, whatever their size (tests/social/test_query_counts.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution.repository import sharer_credits, totals_by_share
from loopmall.catalog.models import Product
from loopmall.core.errors import OutOfRange, ValidationFailed
from loopmall.core.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.valueset import one_of
from loopmall.customers.models import Customer
from loopmall.merchants.models import Store
from loopmall.rebates.service import earned_on_credits
from loopmall.social.models import Share, ShareTarget
from loopmall.social.service import get_share, visit_counts


@dataclass
class ShareNode:
    id: int
    public_id: str
    sharer_customer_id: int
    sharer_public_id: str
    sharer_name: str
    target_kind: str
    target_ref: str
    target_title: str
    depth: int
    created_at: datetime
    visits: int = 0
    visitors: int = 0
    orders: int = 0
    gmv_fen: int = 0
    children: list[ShareNode] = field(default_factory=list)

    @property
    def chain_size(self) -> int:
        return 1 + sum(child.chain_size for child in self.children)

    @property
    def chain_visits(self) -> int:
        return self.visits + sum(child.chain_visits for child in self.children)

    @property
    def chain_orders(self) -> int:
        return self.orders + sum(child.chain_orders for child in self.children)

    @property
    def chain_gmv_fen(self) -> int:
        return self.gmv_fen + sum(child.chain_gmv_fen for child in self.children)


async def target_titles(
    session: AsyncSession, tenant: Tenant, shares: list[Share]
) -> dict[str, str]:
    """``"kind:ref" → title`` for the products and stores these shares point at."""
    titles: dict[str, str] = {}
    products = {s.target_ref for s in shares if s.target_kind == ShareTarget.PRODUCT}
    if products:
        # Name lookups only: catalog and merchants have no "titles by public id" reads.
        rows = await session.execute(
            select(Product.public_id, Product.title).where(
                Product.merchant_id == tenant.id, Product.public_id.in_(products)
            )
        )
        titles.update({f"product:{pid}": title for pid, title in rows})
    stores = {s.target_ref for s in shares if s.target_kind == ShareTarget.STORE}
    if stores:
        rows = await session.execute(
            select(Store.public_id, Store.name).where(
                Store.merchant_id == tenant.id, Store.public_id.in_(stores)
            )
        )
        titles.update({f"store:{pid}": name for pid, name in rows})
    return titles


async def build_trees(
    session: AsyncSession, tenant: Tenant, shares: list[Share]
) -> list[ShareNode]:
    """The trees these shares form (each share's parent is among them or it is a root)."""
    if not shares:
        return []
    ids = [s.id for s in shares]
    customers = {
        c.id: c
        for c in await session.scalars(
            scoped(Customer, tenant, Customer.id.in_({s.sharer_customer_id for s in shares}))
        )
    }
    visits = await visit_counts(session, tenant, ids)
    totals = await totals_by_share(session, tenant, ids)
    titles = await target_titles(session, tenant, shares)
    nodes: dict[int, ShareNode] = {}
    for s in sorted(shares, key=lambda x: x.id):
        customer = customers.get(s.sharer_customer_id)
        seen, distinct = visits.get(s.id, (0, 0))
        total = totals.get(s.id)
        nodes[s.id] = ShareNode(
            id=s.id,
            public_id=s.public_id,
            sharer_customer_id=s.sharer_customer_id,
            sharer_public_id=customer.public_id if customer else "",
            sharer_name=customer.display_name if customer else "",
            target_kind=s.target_kind,
            target_ref=s.target_ref,
            target_title=titles.get(f"{s.target_kind}:{s.target_ref}", s.target_ref),
            depth=s.depth,
            created_at=s.created_at,
            visits=seen,
            visitors=distinct,
            orders=total.orders if total else 0,
            gmv_fen=total.gmv_fen if total else 0,
        )
    roots: list[ShareNode] = []
    for s in sorted(shares, key=lambda x: x.id):
        parent = nodes.get(s.parent_share_id) if s.parent_share_id is not None else None
        if parent is None:
            roots.append(nodes[s.id])
        else:
            parent.children.append(nodes[s.id])
    return roots


async def _members(session: AsyncSession, tenant: Tenant, root_ids: list[int]) -> list[Share]:
    rows = await session.scalars(
        scoped(Share, tenant).where(Share.id.in_(root_ids) | Share.root_share_id.in_(root_ids))
    )
    return list(rows.all())


async def list_chains(
    session: AsyncSession, tenant: Tenant, *, cursor: str | None = None, limit: int = 20
) -> tuple[list[ShareNode], str | None]:
    """A page of chains, newest first root first. Raises ``ValidationFailed`` for a bad
    cursor or limit."""
    if limit < 1 or limit > MAX_LIMIT:
        raise OutOfRange(
            f"limit must be between 1 and {MAX_LIMIT}", field="limit", low=1, high=MAX_LIMIT
        )
    stmt = scoped(Share, tenant, Share.root_share_id.is_(None))
    if cursor:
        before = decode_cursor(cursor)
        if not isinstance(before, int) or isinstance(before, bool) or not 0 < before < 2**63:
            raise ValidationFailed("The cursor is not valid", field="cursor")
        stmt = stmt.where(Share.id < before)
    root_ids = list(
        (
            await session.scalars(
                stmt.with_only_columns(Share.id).order_by(Share.id.desc()).limit(limit + 1)
            )
        ).all()
    )
    next_cursor = None
    if len(root_ids) > limit:
        root_ids = root_ids[:limit]
        next_cursor = encode_cursor(root_ids[-1])
    trees = await build_trees(session, tenant, await _members(session, tenant, root_ids))
    trees.sort(key=lambda node: node.id, reverse=True)
    return trees, next_cursor


async def chain_of(session: AsyncSession, tenant: Tenant, public_id: str) -> ShareNode:
    """The whole chain a share belongs to (from its root). Raises ``ShareNotFound``."""
    share = await get_share(session, tenant, public_id)
    root_id = share.root_share_id or share.id
    trees = await build_trees(session, tenant, await _members(session, tenant, [root_id]))
    return trees[0]


@dataclass(frozen=True, slots=True)
class ShareResult:
    orders: int  # won through the share or a share made from it
    earned_fen: int  # the sharer's commission on them (level 1 and 2), less claw-backs


async def results_for_sharer(
    session: AsyncSession, tenant: Tenant, customer_id: int, shares: list[Share]
) -> dict[int, ShareResult]:
    """Share id → what followed each of the customer's ``shares``: the orders won through it
    or through a share made from it (the commission's two levels), and what the customer
    kept of the commission on them."""
    ids = [s.id for s in shares]
    if not ids:
        return {}
    children = (
        await session.execute(
            select(Share.id, Share.parent_share_id).where(
                Share.merchant_id == tenant.id, one_of(Share.parent_share_id, ids)
            )
        )
    ).all()
    mine = set(ids)
    # Each share counted once, under the customer's share it is (or came from).
    owner = {i: i for i in ids} | {c: p for c, p in children if c not in mine and p is not None}
    totals = await totals_by_share(session, tenant, list(owner))
    credits = await sharer_credits(session, tenant, list(owner))
    kept = await earned_on_credits(session, tenant, customer_id, list(credits))
    orders = dict.fromkeys(ids, 0)
    earned = dict.fromkeys(ids, 0)
    for share_id, total in totals.items():
        orders[owner[share_id]] += total.orders
    for credit_id, fen in kept.items():
        earned[owner[credits[credit_id]]] += fen
    return {i: ShareResult(orders[i], earned[i]) for i in ids}
