"""Consumers and customers: finding the person, the merchant's customer row, sessions.

How a test (or the demo) gets a logged-in shopper::

    from loopmall.customers.service import sandbox_login, cookie_name

    async with UnitOfWork(state.write_factory) as uow:
        customer, token = await sandbox_login(uow.session, tenant, name="Alice", phone=None)
        await uow.commit()
    # API: send the token as a bearer token
    await client.get(f"/api/v1/mall/{tenant.slug}/auth/me",
                     headers={"Authorization": f"Bearer {token}"})
    # Pages: the same token as the mall's cookie (unsafe requests then need the CSRF token,
    # see ``csrf_for`` / the ``X-CSRF-Token`` header or a ``csrf_token`` form field)
    client.cookies.set(cookie_name(state.settings, tenant.slug), token)

The token works both ways; a cookie-authenticated POST must carry the session's CSRF token
(``await csrf_for(session, tenant, token)``; pages render it from ``shopper.csrf_token``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.errors import NotFound, Unauthorized
from loopmall.core.ids import new_public_id, new_token
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.text import check_text
from loopmall.customers.models import (
    Consumer,
    ConsumerSession,
    ConsumerWechatId,
    Customer,
    WechatApp,
)
from loopmall.identity.service import hash_token
from loopmall.merchants.models import Merchant

DEFAULT_TTL = timedelta(days=30)


class ShopperUnauthorized(Unauthorized):
    code = "shopper_unauthorized"
    title = "Log in to this mall first"


@dataclass(frozen=True)
class ResolvedSession:
    session_id: int
    consumer_id: int
    customer_id: int
    customer_public_id: str
    display_name: str
    csrf_token: str
    openid: str | None


def cookie_name(settings: Settings, slug: str) -> str:
    """The page-session cookie of one mall (a person may be logged in to several malls)."""
    return f"{settings.consumer_cookie}_{slug.lower()}"


async def tenant_for_slug(session: AsyncSession, slug: str) -> Tenant:
    """The active merchant behind ``/m/{slug}``; ``NotFound`` otherwise."""
    row = (
        await session.execute(
            select(Merchant.id, Merchant.slug, Merchant.status).where(
                Merchant.slug == slug.strip().lower()
            )
        )
    ).first()
    if row is None or row.status != "active":
        raise NotFound("No such mall")
    return Tenant(row.id, row.slug)


async def consumer_by_wechat(
    session: AsyncSession, kind: str, namespace: str, value: str
) -> int | None:
    found: int | None = await session.scalar(
        select(ConsumerWechatId.consumer_id).where(
            ConsumerWechatId.kind == kind,
            ConsumerWechatId.namespace == namespace,
            ConsumerWechatId.value == value,
        )
    )
    return found


async def link_wechat_id(
    session: AsyncSession, consumer_id: int, kind: str, namespace: str, value: str
) -> None:
    """Remember that ``value`` (an openid in an app, a unionid in an Open Platform account)
    is this consumer; an existing link to the same consumer is left alone."""
    if await consumer_by_wechat(session, kind, namespace, value) is not None:
        return
    session.add(
        ConsumerWechatId(
            consumer_id=consumer_id,
            kind=kind,
            namespace=namespace,
            value=value,
            created_at=clock.now(),
        )
    )
    await session.flush()


async def new_consumer(
    session: AsyncSession, *, display_name: str = "", phone: str | None = None, avatar_url: str = ""
) -> Consumer:
    now = clock.now()
    consumer = Consumer(
        public_id=new_public_id("csm"),
        phone=phone,
        display_name=display_name[:64],
        avatar_url=avatar_url[:500],
        created_at=now,
        updated_at=now,
    )
    session.add(consumer)
    await session.flush()
    return consumer


async def consumer_for_phone(
    session: AsyncSession, phone: str, *, display_name: str = ""
) -> Consumer:
    """The person with this phone number, created if new (phone is unique across merchants)."""
    consumer = await session.scalar(select(Consumer).where(Consumer.phone == phone))
    if consumer is not None:
        return consumer
    try:
        async with session.begin_nested():
            return await new_consumer(session, display_name=display_name, phone=phone)
    except IntegrityError:  # a concurrent login created it first
        found = await session.scalar(select(Consumer).where(Consumer.phone == phone))
        if found is None:
            raise
        return found


async def customer_for(
    session: AsyncSession,
    tenant: Tenant,
    consumer: Consumer,
    *,
    display_name: str | None = None,
    phone: str | None = None,
    appid: str | None = None,
    openid: str | None = None,
    unionid: str | None = None,
    avatar_url: str | None = None,
) -> Customer:
    """The merchant's customer row for this person: created at the first login to the mall,
    updated with what this login told us."""
    now = clock.now()
    customer = await session.scalar(scoped(Customer, tenant, Customer.consumer_id == consumer.id))
    if customer is None:
        customer = Customer(
            merchant_id=tenant.id,
            public_id=new_public_id("cus"),
            consumer_id=consumer.id,
            display_name=(display_name or consumer.display_name or "")[:64],
            avatar_url=(avatar_url or consumer.avatar_url or "")[:500],
            phone=phone,
            followed=False,
            first_seen_at=now,
            last_seen_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(customer)
                await session.flush()
        except IntegrityError:
            found = await session.scalar(
                scoped(Customer, tenant, Customer.consumer_id == consumer.id)
            )
            if found is None:
                raise
            customer = found
    if display_name:
        customer.display_name = display_name[:64]
    if avatar_url:
        customer.avatar_url = avatar_url[:500]
    if phone:
        customer.phone = phone
    if openid and appid:
        customer.appid, customer.openid = appid, openid
    if unionid:
        customer.unionid = unionid
    customer.last_seen_at = now
    await session.flush()
    return customer


async def open_session(
    session: AsyncSession,
    tenant: Tenant,
    customer: Customer,
    *,
    method: str,
    kind: str = "cookie",
    ttl: timedelta = DEFAULT_TTL,
) -> str:
    """Start a session for ``customer`` in this mall; returns the token (stored hashed)."""
    token = new_token()
    now = clock.now()
    session.add(
        ConsumerSession(
            merchant_id=tenant.id,
            token_hash=hash_token(token),
            kind=kind,
            consumer_id=customer.consumer_id,
            customer_id=customer.id,
            method=method,
            csrf_token=new_token(24),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return token


async def resolve_token(
    session: AsyncSession, tenant: Tenant, token: str
) -> ResolvedSession | None:
    """The live session behind ``token`` in this mall, or None."""
    if not token or len(token) > 200:
        return None
    row = (
        await session.execute(
            select(
                ConsumerSession.id,
                ConsumerSession.consumer_id,
                ConsumerSession.customer_id,
                ConsumerSession.csrf_token,
                Customer.public_id,
                Customer.display_name,
                Customer.openid,
            )
            .join(Customer, Customer.id == ConsumerSession.customer_id)
            .where(
                ConsumerSession.token_hash == hash_token(token),
                ConsumerSession.merchant_id == tenant.id,
                Customer.merchant_id == tenant.id,
                ConsumerSession.revoked_at.is_(None),
                ConsumerSession.expires_at > clock.now(),
            )
        )
    ).first()
    if row is None:
        return None
    return ResolvedSession(
        session_id=row.id,
        consumer_id=row.consumer_id,
        customer_id=row.customer_id,
        customer_public_id=row.public_id,
        display_name=row.display_name,
        csrf_token=row.csrf_token,
        openid=row.openid,
    )


async def csrf_for(session: AsyncSession, tenant: Tenant, token: str) -> str:
    """The CSRF token of a session (tests posting forms with the cookie need it)."""
    resolved = await resolve_token(session, tenant, token)
    if resolved is None:
        raise ShopperUnauthorized()
    return resolved.csrf_token


async def revoke(session: AsyncSession, tenant: Tenant, token: str) -> None:
    await session.execute(
        update(ConsumerSession)
        .where(
            ConsumerSession.merchant_id == tenant.id,
            ConsumerSession.token_hash == hash_token(token),
            ConsumerSession.revoked_at.is_(None),
        )
        .values(revoked_at=clock.now())
    )


async def get_customer(session: AsyncSession, tenant: Tenant, customer_id: int) -> Customer:
    customer = await session.scalar(scoped(Customer, tenant, Customer.id == customer_id))
    if customer is None:
        raise NotFound("No such customer")
    return customer


def _own(tenant: Tenant, customer: Customer) -> None:
    if customer.merchant_id != tenant.id:
        raise NotFound("No such customer")


# The service-account follow and the first payment are the customer's columns, kept here;
# notifications decides when they change (its order events and WeChat's follow events).


async def mark_first_paid(
    session: AsyncSession, tenant: Tenant, customer: Customer, at: datetime
) -> None:
    """Remember the customer's first payment (``at``); later payments change nothing."""
    _own(tenant, customer)
    if customer.first_paid_at is None:
        customer.first_paid_at = at
        await session.flush()


async def set_followed(
    session: AsyncSession, tenant: Tenant, customer: Customer, followed: bool
) -> None:
    """Record that the customer follows (or stopped following) the service account; the
    time they followed is kept while they follow."""
    _own(tenant, customer)
    if customer.followed != followed:
        customer.followed = followed
        customer.followed_at = clock.now() if followed else None
        await session.flush()


async def mark_follow_invited(session: AsyncSession, tenant: Tenant, customer: Customer) -> None:
    """Remember that the invitation to follow was shown and dismissed, once."""
    _own(tenant, customer)
    if customer.follow_invited_at is None:
        customer.follow_invited_at = clock.now()
        await session.flush()


async def sandbox_login(
    session: AsyncSession,
    tenant: Tenant,
    *,
    name: str,
    phone: str | None = None,
    kind: str = "api",
    ttl: timedelta = DEFAULT_TTL,
) -> tuple[Customer, str]:
    """The demo's one-tap login (and the way tests get a shopper): a person with this phone
    (or a new person when no phone is given) logs in to the mall. Returns the customer and a
    token valid as a bearer token and as the mall's cookie; the caller commits. Any phone:
    this is how tests and seeds make a shopper. The public reaches it only through
    ``consumer_login.sandbox_sign_in`` (the setting, and reserved test numbers only)."""
    if phone:
        consumer = await consumer_for_phone(session, phone, display_name=name)
    else:
        consumer = await new_consumer(session, display_name=name)
    customer = await customer_for(session, tenant, consumer, display_name=name, phone=phone)
    token = await open_session(session, tenant, customer, method="sandbox", kind=kind, ttl=ttl)
    return customer, token


async def add_wechat_app(
    session: AsyncSession,
    tenant: Tenant,
    *,
    appid: str,
    secret: str,
    open_platform_id: str | None = None,
    name: str = "",
    primary: bool = True,
) -> WechatApp:
    """Connect a WeChat service account to the merchant (login, messages, JS-SDK).
    Raises 422 ``invalid_text`` for text core.text refuses (every field is one line)."""
    for field, value in (("appid", appid), ("secret", secret), ("name", name)):
        check_text(value, field=field)
    check_text(open_platform_id or "", field="open_platform_id")
    app = WechatApp(
        merchant_id=tenant.id,
        public_id=new_public_id("wxa"),
        appid=appid,
        secret=secret,
        open_platform_id=open_platform_id,
        name=name,
        is_primary=primary,
        created_at=clock.now(),
    )
    session.add(app)
    await session.flush()
    return app
