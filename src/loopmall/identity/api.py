"""Staff and operator authentication over the API: bearer tokens."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from loopmall.core.http import client_ip, get_state, write_uow
from loopmall.core.uow import UnitOfWork
from loopmall.identity import service
from loopmall.identity.deps import current_principal
from loopmall.identity.guards import PUBLIC
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.identity.schemas import MeOut, OperatorTokenRequest, TokenOut, TokenRequest
from loopmall.identity.throttle import DatabaseThrottle, RedisThrottle, Throttle

router = APIRouter(tags=["auth"])


def get_throttle(request: Request) -> Throttle:
    state = get_state(request)
    window = state.settings.login_window_seconds
    if state.redis is not None:
        return RedisThrottle(state.redis, window, state.settings.redis_prefix)
    return DatabaseThrottle(window)


@router.post("/auth/token", response_model=TokenOut, status_code=201, dependencies=[PUBLIC])
async def create_token(
    body: TokenRequest,
    request: Request,
    uow: UnitOfWork = Depends(write_uow),
    throttle: Throttle = Depends(get_throttle),
) -> TokenOut:
    """Exchange a staff member's phone and password for an API bearer token."""
    settings = get_state(request).settings
    try:
        staff = await service.authenticate_staff(
            uow.session,
            merchant_slug=body.merchant,
            phone=body.phone,
            password=body.password,
            client_ip=client_ip(request),
            throttle=throttle,
            max_failures=settings.login_max_failures,
            window_seconds=settings.login_window_seconds,
        )
    except service.InvalidCredentials:
        await uow.commit()  # remember the failure for throttling
        raise
    token, row = await service.open_session(
        uow.session,
        kind="api",
        ttl_seconds=settings.api_token_ttl_seconds,
        staff=staff,
        label=body.label,
    )
    await uow.commit()
    return TokenOut(access_token=token, expires_at=row.expires_at)


@router.post(
    "/platform/auth/token", response_model=TokenOut, status_code=201, dependencies=[PUBLIC]
)
async def create_operator_token(
    body: OperatorTokenRequest,
    request: Request,
    uow: UnitOfWork = Depends(write_uow),
    throttle: Throttle = Depends(get_throttle),
) -> TokenOut:
    """Exchange a platform operator's email and password for an API bearer token."""
    settings = get_state(request).settings
    try:
        operator = await service.authenticate_operator(
            uow.session,
            email=body.email,
            password=body.password,
            client_ip=client_ip(request),
            throttle=throttle,
            max_failures=settings.login_max_failures,
            window_seconds=settings.login_window_seconds,
        )
    except service.InvalidCredentials:
        await uow.commit()
        raise
    token, row = await service.open_session(
        uow.session, kind="api", ttl_seconds=settings.api_token_ttl_seconds, operator=operator
    )
    await uow.commit()
    return TokenOut(access_token=token, expires_at=row.expires_at)


@router.delete("/auth/token", status_code=204)
async def revoke_token(
    request: Request,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    """Revoke the bearer token used for this request."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        await service.revoke_session(uow.session, auth[7:].strip())
        await uow.commit()
    return Response(status_code=204)


@router.get("/me", response_model=MeOut)
async def me(principal: Principal = Depends(current_principal)) -> MeOut:
    """Who this token belongs to and what it may do."""
    return MeOut(
        kind=principal.kind,
        id=principal.public_id,
        name=principal.name,
        role=principal.role.value if principal.role else None,
        merchant=principal.tenant.slug if principal.tenant else None,
        permissions=sorted(p.value for p in Perm if principal.can(p)),
    )
