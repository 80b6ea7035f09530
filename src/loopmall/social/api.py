"""social: JSON routes (mounted under /api/v1).

Shopper (``/api/v1/mall/{slug}/...``): create a share of a page (its signed link and
poster), list my shares, the JS-SDK ``wx.config`` for sharing a page inside WeChat.
Staff: share chains with visits, orders and GMV per share.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.errors import NotFound, ValidationFailed
from loopmall.core.http import get_state, read_uow, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.pagination import Page
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers.deps import Shopper, optional_shopper, require_shopper
from loopmall.customers.login import oa_client, primary_app
from loopmall.customers.service import tenant_for_slug
from loopmall.identity.deps import require
from loopmall.identity.guards import MALL
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.social import chains, links, service
from loopmall.social.models import Share
from loopmall.social.schemas import (
    ShareChainOut,
    ShareIn,
    ShareNodeOut,
    ShareOut,
    WechatShareConfig,
)

router = APIRouter(tags=["social"])

SHARE_API = ["updateAppMessageShareData", "updateTimelineShareData"]
ShareId = Path(..., max_length=40, pattern=r"^[a-z0-9_]+$")
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "`share_link_invalid` (a malformed or tampered `via` token)"},
    401: {"description": "Not logged in to this mall"},
    404: {"description": "No such product, store or share in this mall"},
    422: {"description": "`share_target_unsupported`, `share_target_invalid`"},
}


def _parents(shares: list[Share]) -> set[int]:
    return {s.parent_share_id for s in shares if s.parent_share_id is not None}


def share_out(
    session: AsyncSession,
    tenant: Tenant,
    share: Share,
    *,
    parent: str | None,
    title: str = "",
    visits: int = 0,
) -> ShareOut:
    token = service.token_for(session, share)
    return ShareOut(
        id=share.public_id,
        token=token,
        url=service.share_url(session, tenant, share),
        poster_url=links.landing_path(tenant.slug, token) + "/poster.png",
        target_kind=share.target_kind,
        target=share.target_ref,
        title=title,
        parent=parent,
        depth=share.depth,
        visits=visits,
        created_at=share.created_at,
    )


async def create_for_shopper(
    session: AsyncSession,
    shopper: Shopper,
    *,
    target_kind: str,
    target: str,
    via: str | None,
    cookie: str | None,
) -> ShareOut:
    """The shopper's share of a page, its parent being the share they arrived by: ``via``
    (checked: a bad token is refused) or the share cookie (a stale one is ignored)."""
    tenant = shopper.tenant
    parent: Share | None = None
    if via:
        parent = await service.verify_link(session, tenant, via)
    elif cookie:
        parent = await service.share_from_token(session, tenant, cookie)
    share = await service.create_share(
        session,
        tenant,
        sharer_customer_id=shopper.customer_id,
        target_kind=target_kind,
        target_ref=target,
        parent_share_id=parent.id if parent is not None else None,
    )
    view = await service.describe_target(session, tenant, share.target_kind, share.target_ref)
    visits = await service.visit_counts(session, tenant, [share.id])
    parents = await service.public_ids(session, tenant, _parents([share]))
    return share_out(
        session,
        tenant,
        share,
        parent=parents.get(share.parent_share_id or 0),
        title=view.title,
        visits=visits.get(share.id, (0, 0))[0],
    )


@router.post("/mall/{slug}/shares", response_model=ShareOut, status_code=201, responses=PROBLEMS)
async def create_share(
    slug: str,
    body: ShareIn,
    request: Request,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Share a page: the shopper's signed link (the same link each time for the same
    page) and its poster. Idempotent with `Idempotency-Key`."""
    cookie = request.cookies.get(links.share_cookie(slug))

    async def work() -> ShareOut:
        return await create_for_shopper(
            uow.session,
            shopper,
            target_kind=body.target_kind,
            target=body.target,
            via=body.via,
            cookie=cookie,
        )

    return await run_idempotent(request, uow, shopper.scope, work)


@router.get("/mall/{slug}/shares", response_model=list[ShareOut], responses=PROBLEMS)
async def my_shares(
    slug: str,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(read_uow),
) -> list[ShareOut]:
    """My shares, newest first, with their visits."""
    tenant = shopper.tenant
    shares = await service.shares_of_customer(uow.session, tenant, shopper.customer_id)
    visits = await service.visit_counts(uow.session, tenant, [s.id for s in shares])
    parents = await service.public_ids(uow.session, tenant, _parents(shares))
    return [
        share_out(
            uow.session,
            tenant,
            s,
            parent=parents.get(s.parent_share_id or 0),
            visits=visits.get(s.id, (0, 0))[0],
        )
        for s in shares
    ]


@router.get(
    "/mall/{slug}/wechat/share-config",
    response_model=WechatShareConfig,
    responses={404: {"description": "No such mall, or it has no WeChat account"}},
    dependencies=[MALL],
)
async def wechat_share_config(
    slug: str,
    request: Request,
    url: str = Query(..., max_length=2000),
    uow: UnitOfWork = Depends(read_uow),
) -> WechatShareConfig:
    """``wx.config`` arguments to share the page at ``url`` (a page of this site) inside
    WeChat, signed with the service account's jsapi_ticket."""
    settings = get_state(request).settings
    if not url.startswith(settings.base_url.rstrip("/") + "/"):
        raise ValidationFailed("url must be a page of this site", field="url")
    tenant = await tenant_for_slug(uow.session, slug)
    await optional_shopper(request, slug)
    app = await primary_app(uow.session, tenant)
    if app is None:
        raise NotFound("This mall has no WeChat account")
    config = await oa_client(settings, app).jssdk_config(
        url, noncestr=secrets.token_hex(8), timestamp=service.unix_now()
    )
    return WechatShareConfig(**config, jsApiList=SHARE_API)


# --- staff ------------------------------------------------------------------------------


def node_out(node: chains.ShareNode) -> ShareNodeOut:
    return ShareNodeOut(
        id=node.public_id,
        sharer=node.sharer_public_id,
        sharer_name=node.sharer_name,
        target_kind=node.target_kind,
        target=node.target_ref,
        title=node.target_title,
        depth=node.depth,
        created_at=node.created_at,
        visits=node.visits,
        visitors=node.visitors,
        orders=node.orders,
        gmv_fen=node.gmv_fen,
        children=[node_out(child) for child in node.children],
    )


def chain_out(node: chains.ShareNode) -> ShareChainOut:
    return ShareChainOut(
        **node_out(node).model_dump(),
        chain_size=node.chain_size,
        chain_visits=node.chain_visits,
        chain_orders=node.chain_orders,
        chain_gmv_fen=node.chain_gmv_fen,
    )


@router.get("/shares", response_model=Page[ShareChainOut])
async def list_chains(
    cursor: str | None = Query(None, max_length=200),
    limit: int = Query(20, ge=1, le=100),
    principal: Principal = Depends(require(Perm.ATTRIBUTION_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Page[ShareChainOut]:
    """Share chains, newest first: each first share with the re-shares that grew from it,
    and per share its visits and the orders and GMV credited to it."""
    trees, next_cursor = await chains.list_chains(
        uow.session, principal.require_tenant(), cursor=cursor, limit=limit
    )
    return Page[ShareChainOut](items=[chain_out(t) for t in trees], next_cursor=next_cursor)


@router.get(
    "/shares/{share_id}",
    response_model=ShareChainOut,
    responses={404: {"description": "`share_not_found`"}},
)
async def get_chain(
    share_id: str = ShareId,
    principal: Principal = Depends(require(Perm.ATTRIBUTION_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> ShareChainOut:
    """The whole chain this share belongs to, from its first share."""
    return chain_out(await chains.chain_of(uow.session, principal.require_tenant(), share_id))
