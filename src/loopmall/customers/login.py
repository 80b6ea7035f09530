"""The two real ways a consumer logs in to a mall: a phone + SMS code, and WeChat web OAuth.

The demo's one-tap login (``sandbox_sign_in``) is a third way, off unless
``settings.sandbox_login`` is on: it signs in only sandbox people — a new one each time, or
the one holding a reserved test number (``100`` and 8 digits, a range no mobile number is
in), never a real customer by their phone number.

SMS: ``request_sms_code`` stores a keyed hash of a six-digit code (one per minute per phone,
ten per hour); ``verify_sms_code`` allows five tries per code. WeChat: ``start_wechat_login``
records a ``state`` bound to the browser and gives the authorize URL; the callback checks
the state (``check_state``), exchanges the code and reads the profile outside any
transaction (``fetch_wechat_identity``), then ``complete_wechat_login`` consumes the state
once and finds the person: by unionid within the app's Open Platform account, else by the
openid in this app, else a new consumer.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.errors import Forbidden, TooManyRequests, Unauthorized, ValidationFailed
from loopmall.core.ids import new_token
from loopmall.core.redirects import is_safe_path
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.text import check_text, is_clean
from loopmall.customers import service as cs
from loopmall.customers.models import Consumer, Customer, OAuthState, SmsCode, WechatApp
from loopmall.identity.throttle import lock_keys
from loopmall.integrations.wechat import WechatApiError, WechatOAClient

CODE_RESEND_SECONDS = 60
CODES_PER_HOUR = 10
TRIES_PER_CODE = 5
STATE_TTL = timedelta(minutes=10)
DEFAULT_WECHAT_NAME = "微信用户"


class SmsCodeTooSoon(TooManyRequests):
    code = "sms_code_too_soon"
    title = "A code was sent a moment ago; wait before asking for another"


class InvalidSmsCode(Unauthorized):
    code = "invalid_sms_code"
    title = "The code is wrong or has expired"


class OAuthStateInvalid(Unauthorized):
    code = "oauth_state_invalid"
    title = "The WeChat login expired or did not start here; try again"


class WechatCodeInvalid(Unauthorized):
    code = "wechat_code_invalid"
    title = "WeChat did not accept the login code; try again"


class WechatLoginUnavailable(ValidationFailed):
    code = "wechat_login_unavailable"
    title = "This mall has no WeChat account set up"


class RedirectUriNotAllowed(ValidationFailed):
    code = "redirect_uri_not_allowed"
    title = "WeChat may only send the login back to this mall's own pages"


class SandboxLoginDisabled(Forbidden):
    code = "sandbox_login_disabled"
    title = "Sandbox login is switched off"


class SandboxPhoneNotReserved(ValidationFailed):
    code = "sandbox_phone_not_reserved"
    title = "The demo login takes only test numbers: 100 followed by 8 digits"


# Mobile numbers in China start 13–19; 100 begins none, so no real person holds one and the
# SMS gateway delivers to none (nobody can prove one by a code either).
SANDBOX_PHONE = re.compile(r"^100\d{8}$")


def is_sandbox_phone(phone: str) -> bool:
    return SANDBOX_PHONE.match(phone) is not None


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _code_hash(secret: str, tenant: Tenant, phone: str, code: str) -> str:
    return hmac.new(secret.encode(), f"{tenant.id}:{phone}:{code}".encode(), "sha256").hexdigest()


# --- SMS -------------------------------------------------------------------------------


async def request_sms_code(
    session: AsyncSession, tenant: Tenant, phone: str, *, secret: str, ttl_seconds: int
) -> tuple[SmsCode, str]:
    """A new login code for ``phone`` in this mall; the caller commits, then texts it."""
    # The resend and hourly limits are counts, then an insert: one step per phone, or
    # parallel requests all read "none sent yet" and each texts a code (issue #11).
    await lock_keys(session, [f"sms-code:{tenant.id}:{phone}"])
    now = clock.now()
    last = await session.scalar(
        select(func.max(SmsCode.created_at)).where(
            SmsCode.merchant_id == tenant.id, SmsCode.phone == phone
        )
    )
    if last is not None and (now - last).total_seconds() < CODE_RESEND_SECONDS:
        wait = CODE_RESEND_SECONDS - int((now - last).total_seconds())
        raise SmsCodeTooSoon(retry_after=wait)
    recent = await session.scalar(
        select(func.count())
        .select_from(SmsCode)
        .where(
            SmsCode.merchant_id == tenant.id,
            SmsCode.phone == phone,
            SmsCode.created_at > now - timedelta(hours=1),
        )
    )
    if (recent or 0) >= CODES_PER_HOUR:
        raise SmsCodeTooSoon("Too many codes for this number; try again later", retry_after=3600)
    code = f"{secrets.randbelow(1_000_000):06d}"
    row = SmsCode(
        merchant_id=tenant.id,
        phone=phone,
        code_hash=_code_hash(secret, tenant, phone, code),
        attempts=0,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    session.add(row)
    await session.flush()
    return row, code


def sms_text(mall_name: str, code: str, ttl_seconds: int) -> str:
    minutes = ttl_seconds // 60
    return f"【{mall_name}】验证码 {code}，{minutes} 分钟内有效。如非本人操作，请忽略本短信。"


async def check_sms_code(
    session: AsyncSession, tenant: Tenant, phone: str, code: str, *, secret: str
) -> None:
    """Spend the latest live code for ``phone`` if ``code`` is it; raises InvalidSmsCode.
    A wrong try counts: the caller commits either way. A guess is compared only after it
    won one of the code's ``TRIES_PER_CODE`` tries, so however many arrive at once, at
    most five are ever checked."""
    now = clock.now()
    code_id = await session.scalar(
        select(SmsCode.id)
        .where(SmsCode.merchant_id == tenant.id, SmsCode.phone == phone, SmsCode.used_at.is_(None))
        .order_by(SmsCode.created_at.desc(), SmsCode.id.desc())
        .limit(1)
    )
    if code_id is None:
        raise InvalidSmsCode()
    # The try is won in the database (CONVENTIONS 12; issue #11 case 10): a conditional
    # increment, not ``attempts += 1`` on a loaded row — on PostgreSQL 30 parallel guesses
    # all read attempts < 5 and 11–12 were checked. Concurrent tries wait on the row and
    # recheck the condition; on SQLite the write transaction (BEGIN IMMEDIATE) serialises them.
    won = (
        await session.execute(
            update(SmsCode)
            .where(
                SmsCode.id == code_id,
                SmsCode.merchant_id == tenant.id,
                SmsCode.used_at.is_(None),
                SmsCode.expires_at > now,
                SmsCode.attempts < TRIES_PER_CODE,
            )
            .values(attempts=SmsCode.attempts + 1)
            .returning(SmsCode.attempts, SmsCode.code_hash)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if won is None:
        raise InvalidSmsCode()
    attempts, code_hash = won
    if not hmac.compare_digest(code_hash, _code_hash(secret, tenant, phone, code.strip())):
        raise InvalidSmsCode(tries_left=TRIES_PER_CODE - attempts)
    spent = await session.execute(
        update(SmsCode)
        .where(SmsCode.id == code_id, SmsCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(spent, "rowcount", 0) != 1:
        raise InvalidSmsCode()


async def verify_sms_code(
    session: AsyncSession, tenant: Tenant, phone: str, code: str, *, secret: str
) -> Customer:
    """Log in by phone: on a right code the person (found or created by phone) becomes this
    mall's customer. A wrong try counts: the caller commits either way."""
    await check_sms_code(session, tenant, phone, code, secret=secret)
    consumer = await cs.consumer_for_phone(session, phone)
    return await cs.customer_for(session, tenant, consumer, phone=phone)


async def bind_phone(
    session: AsyncSession, tenant: Tenant, customer_id: int, phone: str, code: str, *, secret: str
) -> Customer:
    """A customer who came by WeChat proves a phone number (for SMS and to be recognised by
    phone elsewhere). The person gets the number unless another person already has it; the
    merchant's customer record gets it either way."""
    await check_sms_code(session, tenant, phone, code, secret=secret)
    customer = await cs.get_customer(session, tenant, customer_id)
    customer.phone = phone
    consumer = await session.get(Consumer, customer.consumer_id)
    taken = await session.scalar(select(Consumer.id).where(Consumer.phone == phone))
    if consumer is not None and consumer.phone is None and taken is None:
        consumer.phone = phone
        consumer.updated_at = clock.now()
    await session.flush()
    return customer


# --- the demo's one-tap login -----------------------------------------------------------


async def sandbox_sign_in(
    session: AsyncSession,
    tenant: Tenant,
    settings: Settings,
    *,
    name: str,
    phone: str | None,
    kind: str,
    ttl: timedelta,
) -> tuple[Customer, str]:
    """The demo's one-tap login as the public reaches it: a new sandbox person, or the one
    with a reserved test number (:data:`SANDBOX_PHONE`). Raises 403
    ``sandbox_login_disabled`` when ``settings.sandbox_login`` is off and 422
    ``sandbox_phone_not_reserved`` for any other number, so it can never sign in as a real
    customer by their phone. Returns the customer and a session token; the caller commits."""
    if not settings.sandbox_login:
        raise SandboxLoginDisabled()
    if phone and not is_sandbox_phone(phone):
        raise SandboxPhoneNotReserved(field="phone")
    check_text(name, field="name")  # one line, as every name (core.text)
    return await cs.sandbox_login(
        session, tenant, name=name, phone=phone or None, kind=kind, ttl=ttl
    )


# --- WeChat web OAuth ------------------------------------------------------------------


async def primary_app(session: AsyncSession, tenant: Tenant) -> WechatApp | None:
    app: WechatApp | None = await session.scalar(
        scoped(WechatApp, tenant).order_by(WechatApp.is_primary.desc(), WechatApp.id).limit(1)
    )
    return app


def oa_client(settings: Settings, app: WechatApp) -> WechatOAClient:
    return WechatOAClient(
        appid=app.appid,
        secret=app.secret,
        api_base_url=settings.wechat_api_base_url,
        open_base_url=settings.wechat_open_base_url,
        timeout=settings.http_timeout_seconds,
    )


def check_redirect_uri(settings: Settings, tenant: Tenant, redirect_uri: str) -> None:
    """WeChat sends the login's ``code`` to ``redirect_uri``: it must be this deployment's
    own origin (``settings.base_url``: scheme, host and port) and a path inside this mall
    (``/m/{slug}/``, by the rule of ``core.redirects``). Anywhere else, whoever owns that
    page would receive a code for the merchant's account and could log in as the shopper;
    WeChat's own check is only the domain registered for the account, which may be wider
    than this mall. Raises :class:`RedirectUriNotAllowed`."""
    base = urlsplit(settings.base_url)
    try:
        target = urlsplit(redirect_uri)
        port, base_port = target.port, base.port
    except ValueError:
        raise RedirectUriNotAllowed(field="redirect_uri") from None
    path = target.path + (f"?{target.query}" if target.query else "")
    if (
        target.scheme.lower() != base.scheme.lower()
        or (target.hostname or "") != (base.hostname or "").lower()
        or port != base_port
        or target.username is not None
        or target.password is not None
        or target.fragment
        or not is_safe_path(path, within=f"/m/{tenant.slug}/")
    ):
        raise RedirectUriNotAllowed(field="redirect_uri")


async def start_wechat_login(
    session: AsyncSession,
    tenant: Tenant,
    settings: Settings,
    *,
    scope: str,
    redirect_uri: str,
    next_url: str = "",
    browser_key: str = "",
) -> str:
    """Record a fresh ``state`` and return WeChat's authorize URL. Raises 422
    ``redirect_uri_not_allowed`` unless ``redirect_uri`` is a page of this mall on this
    deployment (:func:`check_redirect_uri`), 422 ``wechat_login_unavailable`` without a
    WeChat account."""
    check_redirect_uri(settings, tenant, redirect_uri)
    app = await primary_app(session, tenant)
    if app is None:
        raise WechatLoginUnavailable()
    if scope not in ("snsapi_base", "snsapi_userinfo"):
        raise ValidationFailed("scope must be snsapi_base or snsapi_userinfo")
    state = new_token(18)
    now = clock.now()
    session.add(
        OAuthState(
            merchant_id=tenant.id,
            state_hash=_h(state),
            browser_hash=_h(browser_key),
            appid=app.appid,
            scope=scope,
            next_url=next_url[:500],
            created_at=now,
            expires_at=now + STATE_TTL,
        )
    )
    await session.flush()
    return oa_client(settings, app).authorize_url(redirect_uri, scope=scope, state=state)


async def check_state(
    session: AsyncSession, tenant: Tenant, state: str, browser_key: str = ""
) -> tuple[OAuthState, WechatApp]:
    row = await session.scalar(scoped(OAuthState, tenant, OAuthState.state_hash == _h(state)))
    if (
        row is None
        or row.used_at is not None
        or row.expires_at <= clock.now()
        or not hmac.compare_digest(row.browser_hash, _h(browser_key))
    ):
        raise OAuthStateInvalid()
    app = await session.scalar(scoped(WechatApp, tenant, WechatApp.appid == row.appid))
    if app is None:
        raise OAuthStateInvalid()
    return row, app


@dataclass(frozen=True)
class WechatIdentity:
    appid: str
    openid: str
    unionid: str | None
    nickname: str
    avatar_url: str


async def fetch_wechat_identity(client: WechatOAClient, code: str, scope: str) -> WechatIdentity:
    """Code → token → (for snsapi_userinfo) profile. A snapshot-page user, or a profile
    refusal (``48001``), leaves the openid only."""
    try:
        token = await client.exchange_code(code)
    except WechatApiError as exc:
        if exc.errcode in (40029, 40163):  # invalid code, code been used
            raise WechatCodeInvalid(errcode=exc.errcode) from exc
        raise
    nickname, avatar, unionid = "", "", token.unionid
    if scope == "snsapi_userinfo" and not token.is_snapshotuser:
        try:
            info = await client.userinfo(token.access_token, token.openid)
        except WechatApiError as exc:
            if exc.errcode != 48001:
                raise
        else:
            nickname = str(info.get("nickname") or "")
            avatar = str(info.get("headimgurl") or "")
            # WeChat's words, not the person's: text core.text refuses is not kept (a NUL
            # would fail the login on PostgreSQL); the default name and no picture stand in.
            nickname = nickname if is_clean(nickname) else ""
            avatar = avatar if is_clean(avatar) else ""
            unionid = str(info["unionid"]) if info.get("unionid") else unionid
    return WechatIdentity(client.appid, token.openid, unionid, nickname, avatar)


async def complete_wechat_login(
    session: AsyncSession,
    tenant: Tenant,
    state_row: OAuthState,
    app: WechatApp,
    ident: WechatIdentity,
) -> Customer:
    """Consume the state (once) and log the person in to this mall."""
    consumed = await session.execute(
        update(OAuthState)
        .where(OAuthState.id == state_row.id, OAuthState.used_at.is_(None))
        .values(used_at=clock.now())
    )
    if getattr(consumed, "rowcount", 0) != 1:
        raise OAuthStateInvalid()
    consumer_id = None
    if ident.unionid and app.open_platform_id:
        consumer_id = await cs.consumer_by_wechat(
            session, "unionid", app.open_platform_id, ident.unionid
        )
    if consumer_id is None:
        consumer_id = await cs.consumer_by_wechat(session, "openid", app.appid, ident.openid)
    consumer = await session.get(Consumer, consumer_id) if consumer_id is not None else None
    if consumer is None:
        consumer = await cs.new_consumer(
            session,
            display_name=ident.nickname or DEFAULT_WECHAT_NAME,
            avatar_url=ident.avatar_url,
        )
    await cs.link_wechat_id(session, consumer.id, "openid", app.appid, ident.openid)
    if ident.unionid and app.open_platform_id:
        await cs.link_wechat_id(
            session, consumer.id, "unionid", app.open_platform_id, ident.unionid
        )
    return await cs.customer_for(
        session,
        tenant,
        consumer,
        display_name=ident.nickname or None,
        appid=app.appid,
        openid=ident.openid,
        unionid=ident.unionid,
        avatar_url=ident.avatar_url or None,
    )
