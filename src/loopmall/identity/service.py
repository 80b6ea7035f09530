"""Staff and operator authentication: logins, sessions, API tokens."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import TooManyRequests, Unauthorized
from loopmall.core.ids import new_token
from loopmall.core.text import is_clean
from loopmall.identity.accounts import StaffAccount, staff_accounts
from loopmall.identity.models import AuthSession, Operator
from loopmall.identity.passwords import verify_password
from loopmall.identity.principal import Principal
from loopmall.identity.throttle import Limit, Taken, Throttle, login_limits


class StaffRef(Protocol):
    """Whom a staff session is for: a ``StaffAccount`` or the staff row itself."""

    @property
    def id(self) -> int: ...

    @property
    def merchant_id(self) -> int: ...


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    title = "Wrong account or password"


class LoginThrottled(TooManyRequests):
    code = "login_throttled"
    title = "Too many failed logins; wait a few minutes and try again"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _take_try(
    session: AsyncSession, throttle: Throttle, limits: Sequence[Limit], window: int
) -> Taken:
    """Win a try for this attempt (counted before the password is checked), or 429."""
    taken = await throttle.take(session, limits)
    if taken is None:
        raise LoginThrottled(retry_after=window)
    return taken


async def authenticate_staff(
    session: AsyncSession,
    *,
    merchant_slug: str,
    phone: str,
    password: str,
    client_ip: str,
    throttle: Throttle,
    max_failures: int,
    window_seconds: int,
) -> StaffAccount:
    """Check a staff login. Raises ``LoginThrottled`` or ``InvalidCredentials``.

    Failures are counted per account and address, per address and per account, with the
    limits of ``throttle.login_limits`` (an attacker failing from one address locks only
    that address out, never the owner elsewhere); the caller commits so that a failure is
    remembered.
    """
    # A login core.text refuses cannot exist (and PostgreSQL refuses NUL).
    if not is_clean(merchant_slug) or not is_clean(phone):
        raise InvalidCredentials()
    limits = login_limits(f"staff:{merchant_slug.lower()}:{phone}", client_ip, max_failures)
    taken = await _take_try(session, throttle, limits, window_seconds)
    staff = await staff_accounts().for_login(session, merchant_slug.lower(), phone)
    ok = await verify_password(staff.password_hash if staff else None, password)
    if staff is None or not ok:
        raise InvalidCredentials()
    await throttle.give_back(session, taken, clear=limits[0].key)
    return staff


async def authenticate_operator(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    client_ip: str,
    throttle: Throttle,
    max_failures: int,
    window_seconds: int,
) -> Operator:
    """Check a platform operator's login. Raises ``LoginThrottled`` or ``InvalidCredentials``."""
    if not is_clean(email):
        raise InvalidCredentials()
    limits = login_limits(f"operator:{email.lower()}", client_ip, max_failures)
    taken = await _take_try(session, throttle, limits, window_seconds)
    operator = await session.scalar(
        select(Operator).where(Operator.email == email.lower(), Operator.active.is_(True))
    )
    ok = await verify_password(operator.password_hash if operator else None, password)
    if operator is None or not ok:
        raise InvalidCredentials()
    await throttle.give_back(session, taken, clear=limits[0].key)
    return operator


async def open_session(
    session: AsyncSession,
    *,
    kind: str,
    ttl_seconds: int,
    staff: StaffRef | None = None,
    operator: Operator | None = None,
    label: str = "",
) -> tuple[str, AuthSession]:
    """Create a cookie session or an API token; returns the secret (shown once) and the row."""
    token = ("lmk_" if kind == "api" else "") + new_token()
    now = clock.now()
    row = AuthSession(
        token_hash=hash_token(token),
        kind=kind,
        staff_id=staff.id if staff else None,
        operator_id=operator.id if operator else None,
        merchant_id=staff.merchant_id if staff else None,
        csrf_token=new_token(24),
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
        label=label,
    )
    session.add(row)
    await session.flush()
    return token, row


async def revoke_session(session: AsyncSession, token: str) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.token_hash == hash_token(token), AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )


async def revoke_staff_sessions(
    session: AsyncSession, staff_id: int, *, keep_session_id: int | None = None
) -> None:
    """End every page session and API token of a staff member (but ``keep_session_id``):
    the staff domain calls this when someone is deactivated or their password changes."""
    stmt = update(AuthSession).where(
        AuthSession.staff_id == staff_id, AuthSession.revoked_at.is_(None)
    )
    if keep_session_id is not None:
        stmt = stmt.where(AuthSession.id != keep_session_id)
    await session.execute(stmt.values(revoked_at=clock.now()))


async def resolve_token(session: AsyncSession, token: str, *, via: str) -> Principal | None:
    """The principal behind a session cookie or bearer token, or None if it is not valid."""
    row = await session.scalar(
        select(AuthSession).where(AuthSession.token_hash == hash_token(token))
    )
    if row is None or row.revoked_at is not None or row.expires_at <= clock.now():
        return None
    if (via == "cookie") != (row.kind == "cookie"):
        return None
    if row.staff_id is not None:
        staff = await staff_accounts().by_id(session, row.staff_id)
        if staff is None:
            return None
        return Principal(
            kind="staff",
            public_id=staff.public_id,
            name=staff.name,
            session_id=row.id,
            csrf_token=row.csrf_token,
            via=via,
            tenant=staff.tenant,
            staff_id=staff.id,
            role=staff.role,
            store_ids=Principal.store_scope_for(staff.role, staff.store_ids),
        )
    if row.operator_id is not None:
        operator = await session.get(Operator, row.operator_id)
        if operator is None or not operator.active:
            return None
        return Principal(
            kind="operator",
            public_id=operator.public_id,
            name=operator.name,
            session_id=row.id,
            csrf_token=row.csrf_token,
            via=via,
            operator_id=operator.id,
        )
    return None
