"""Console page of the social domain: share chains as trees, with visits, orders and GMV
per share (``/console/shares``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from loopmall.core.http import get_state
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.social import chains
from loopmall.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20


@router.get("/console/shares")
async def shares_page(
    request: Request,
    cursor: str | None = Query(None, max_length=200),
    share: str | None = Query(None, max_length=40, pattern=r"^[a-z0-9_]+$"),
    principal: Principal = Depends(require(Perm.ATTRIBUTION_READ)),
) -> Response:
    """Newest chains first; ``?share=`` shows the one chain a share belongs to."""
    tenant = principal.require_tenant()
    async with UnitOfWork(get_state(request).read_factory) as uow:
        if share:
            trees = [await chains.chain_of(uow.session, tenant, share)]
            next_cursor = None
        else:
            trees, next_cursor = await chains.list_chains(
                uow.session, tenant, cursor=cursor, limit=PAGE_SIZE
            )
    return render(
        request,
        "social/console_shares.html",
        {"chains": trees, "next_cursor": next_cursor, "one": bool(share), "first": not cursor},
    )
