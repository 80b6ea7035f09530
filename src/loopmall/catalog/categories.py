"""Categories: a tree per merchant, created, renamed, moved and listed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog import repository
from loopmall.catalog.errors import CategoryCycle
from loopmall.catalog.events import CategoriesChanged
from loopmall.catalog.models import Category
from loopmall.catalog.schemas import CategoryIn, CategoryPatch
from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.ids import new_public_id
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant


@dataclass(slots=True)
class CategoryNode:
    category: Category
    parent_public_id: str | None
    children: list[CategoryNode] = field(default_factory=list)


async def create_category(session: AsyncSession, tenant: Tenant, data: CategoryIn) -> Category:
    """Add a category, at the top or under ``data.parent`` (a category of the same
    merchant; another merchant's or an unknown id is NotFound)."""
    parent_id = None
    if data.parent is not None:
        parent_id = (await repository.category_by_public_id(session, tenant, data.parent)).id
    category = Category(
        merchant_id=tenant.id,
        public_id=new_public_id("cat"),
        name=data.name,
        parent_id=parent_id,
        sort_order=data.sort_order,
        created_at=clock.now(),
    )
    session.add(category)
    await session.flush()
    await _announce(session, tenant, category)
    return category


async def _announce(session: AsyncSession, tenant: Tenant, category: Category) -> None:
    await publish(session, CategoriesChanged(merchant_id=tenant.id, category=category.public_id))


async def update_category(
    session: AsyncSession, tenant: Tenant, public_id: str, patch: CategoryPatch
) -> CategoryNode:
    """Rename, reorder or move a category; returns it with its parent's public id (no
    children). Moving it under itself or one of its own descendants raises
    :class:`CategoryCycle`; unknown ids are NotFound."""
    category = await repository.category_by_public_id(session, tenant, public_id)
    sent = patch.model_fields_set
    if patch.name is not None:
        category.name = patch.name
    if patch.sort_order is not None:
        category.sort_order = patch.sort_order
    if "parent" in sent:
        if patch.parent is None:
            category.parent_id = None
        else:
            parent = await repository.category_by_public_id(session, tenant, patch.parent)
            everything = await repository.all_categories(session, tenant)
            if parent.id in repository.descendants(everything, category.id):
                raise CategoryCycle(
                    "A category cannot be moved under itself or its own subcategory",
                    field="parent",
                )
            category.parent_id = parent.id
    await session.flush()
    await _announce(session, tenant, category)
    parent_public_id = None
    if category.parent_id is not None:
        parent_public_id = await session.scalar(
            select(Category.public_id).where(
                Category.merchant_id == tenant.id, Category.id == category.parent_id
            )
        )
    return CategoryNode(category, parent_public_id)


async def category_tree(session: AsyncSession, tenant: Tenant) -> list[CategoryNode]:
    """The merchant's categories as a tree, siblings by (sort order, creation), one query."""
    categories = await repository.all_categories(session, tenant)
    by_id = {c.id: c for c in categories}
    nodes = {
        c.id: CategoryNode(c, by_id[c.parent_id].public_id if c.parent_id in by_id else None)
        for c in categories
    }
    roots: list[CategoryNode] = []
    for c in categories:
        parent = nodes.get(c.parent_id) if c.parent_id is not None else None
        (parent.children if parent else roots).append(nodes[c.id])
    return roots


def flatten(tree: list[CategoryNode], depth: int = 0) -> list[tuple[int, Category]]:
    """(depth, category) in tree order, for indented pickers."""
    out: list[tuple[int, Category]] = []
    for node in tree:
        out.append((depth, node.category))
        out.extend(flatten(node.children, depth + 1))
    return out


# ---------------------------------------------------------------------------- the mall's reads


class CategoryBranch(TypedDict):
    """A category as the mall shows it, with the ones below it: plain JSON, one read
    whatever the number of categories (issue #13)."""

    id: str  # public id
    name: str
    children: list[CategoryBranch]


class CategoryTitle(TypedDict):
    id: str  # public id
    name: str


async def mall_tree(session: AsyncSession, tenant: Tenant) -> list[CategoryBranch]:
    """The merchant's categories as a tree of plain branches, siblings by (sort order,
    creation): one statement of four columns."""
    rows = (
        await session.execute(
            select(Category.id, Category.parent_id, Category.public_id, Category.name)
            .where(Category.merchant_id == tenant.id)
            .order_by(Category.sort_order, Category.id)
        )
    ).all()
    branches = {r.id: CategoryBranch(id=r.public_id, name=r.name, children=[]) for r in rows}
    roots: list[CategoryBranch] = []
    for r in rows:
        parent = branches.get(r.parent_id) if r.parent_id is not None else None
        (parent["children"] if parent is not None else roots).append(branches[r.id])
    return roots


async def mall_category(session: AsyncSession, tenant: Tenant, public_id: str) -> CategoryTitle:
    """The merchant's category ``public_id`` (its id and name). Raises NotFound for an
    unknown one or another merchant's."""
    row = (
        await session.execute(
            select(Category.public_id, Category.name).where(
                Category.merchant_id == tenant.id, Category.public_id == public_id
            )
        )
    ).first()
    if row is None:
        raise NotFound("No such category", category=public_id)
    return CategoryTitle(id=row.public_id, name=row.name)
