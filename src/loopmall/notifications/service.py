"""Notifying customers of order steps, through the transactional outbox.

An order event (published by orders in the transaction of the step) is handled in the
dispatcher's unit of work: :func:`plan_for_event` writes the inbox entry and, when the
customer can be reached outside the app, one :class:`Notification` plus a
``notification.queued`` event, all committed together with the order event being marked
done. :func:`send` then makes the outside call in a later unit of work. So a step that
did not commit is never announced, and a crash at any point leaves a pending event that is
delivered again (SMS ``out_id`` and template ``client_msg_id`` make resends no-ops).

Channel per step: a WeChat subscribe message when the customer consented to the merchant's
template for that step (one-time consents are counted down here); else a template
message when the merchant has one and the customer follows the account; else an SMS when
the customer has a phone; the inbox always.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.errors import IllegalTransition
from loopmall.core.ids import new_public_id
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.text import escaped
from loopmall.core.transitions import Transitions
from loopmall.customers import service as customers
from loopmall.customers.login import oa_client, primary_app
from loopmall.customers.models import Customer
from loopmall.guides.events import FittingEvent
from loopmall.integrations.sms import SmsFailed, sender_for
from loopmall.integrations.wechat import WechatApiError
from loopmall.merchants.models import Merchant
from loopmall.notifications import compose
from loopmall.notifications.events import NotificationQueued
from loopmall.notifications.models import (
    InboxMessage,
    MessageTemplate,
    Notification,
    SubscribeConsent,
)
from loopmall.orders.events import OrderEvent

SUBSCRIBE, TEMPLATE, SMS = "wechat_subscribe", "wechat_template", "sms"
CHANNELS = (SUBSCRIBE, TEMPLATE, SMS)


def _refuse_move(current: str, target: str) -> IllegalTransition:
    return IllegalTransition(f"notification {current} → {target}")


# The state machine of a notification: the allowed moves.
MOVES: Transitions[str] = Transitions(
    "notification", {"pending": {"sent", "failed"}}, error=_refuse_move
)

# WeChat errors worth retrying later: system busy, rate limited.
TRANSIENT_ERRCODES = frozenset({-1, 45009, 45011})
NO_CONSENT, NOT_FOLLOWING = 43101, 43004


def move(notification: Notification, to: str) -> None:
    MOVES.check(notification.status, to)
    notification.status = to


async def _merchant(session: AsyncSession, merchant_id: int) -> tuple[Tenant, str]:
    row = (
        await session.execute(
            select(Merchant.slug, Merchant.name).where(Merchant.id == merchant_id)
        )
    ).one()
    return Tenant(merchant_id, row.slug), row.name


async def _take_consent(
    session: AsyncSession, tenant: Tenant, customer_id: int, template_id: str
) -> bool:
    """Use one send of the customer's consent to ``template_id`` (atomic countdown)."""
    consent = await session.scalar(
        scoped(
            SubscribeConsent,
            tenant,
            SubscribeConsent.customer_id == customer_id,
            SubscribeConsent.template_id == template_id,
        )
    )
    if consent is None:
        return False
    if consent.long_term:
        consent.used += 1
        return True
    taken = await session.execute(
        update(SubscribeConsent)
        .where(SubscribeConsent.id == consent.id, SubscribeConsent.remaining > 0)
        .values(
            remaining=SubscribeConsent.remaining - 1,
            used=SubscribeConsent.used + 1,
            updated_at=clock.now(),
        )
        .execution_options(synchronize_session=False)
    )
    return getattr(taken, "rowcount", 0) == 1


async def _choose(
    session: AsyncSession, tenant: Tenant, customer: Customer, topic: str
) -> tuple[str, str, MessageTemplate | None] | None:
    templates = {
        t.channel: t
        for t in (
            await session.scalars(
                scoped(
                    MessageTemplate,
                    tenant,
                    MessageTemplate.topic == topic,
                    MessageTemplate.enabled.is_(True),
                )
            )
        ).all()
    }
    if customer.openid:
        sub = templates.get(SUBSCRIBE)
        if sub is not None and await _take_consent(session, tenant, customer.id, sub.template_id):
            return SUBSCRIBE, customer.openid, sub
        tpl = templates.get(TEMPLATE)
        if tpl is not None and customer.followed:
            return TEMPLATE, customer.openid, tpl
    if customer.phone:
        return SMS, customer.phone, None
    return None


async def _queue(
    session: AsyncSession,
    tenant: Tenant,
    *,
    customer_id: int,
    event_id: int,
    topic: str,
    channel: str,
    target: str,
    template_id: str,
    content: dict[str, Any],
) -> Notification:
    notification = Notification(
        merchant_id=tenant.id,
        public_id=new_public_id("ntf"),
        customer_id=customer_id,
        event_id=event_id,
        topic=topic,
        channel=channel,
        status="pending",
        target=target,
        template_id=template_id,
        content=content,
        created_at=clock.now(),
    )
    session.add(notification)
    await session.flush()
    await publish(
        session, NotificationQueued(merchant_id=tenant.id, notification_id=notification.id)
    )
    return notification


async def plan_for_event(
    session: AsyncSession, settings: Settings, event: OrderEvent | FittingEvent, event_id: int
) -> None:
    """Handle one order or fitting event (``event_id`` is its outbox id): the inbox entry
    and the outside message, once per event."""
    payload = event.data()
    if event.topic not in compose.TOPICS or not payload.get("customer_id"):
        return  # an anonymous face-to-face payment has nobody to tell
    tenant, mall_name = await _merchant(session, event.merchant_id)
    customer = await session.scalar(
        scoped(Customer, tenant, Customer.id == int(payload["customer_id"]))
    )
    if customer is None:
        return
    done = await session.scalar(
        select(InboxMessage.id).where(
            InboxMessage.merchant_id == tenant.id,
            InboxMessage.customer_id == customer.id,
            InboxMessage.event_id == event_id,
        )
    )
    if done is not None:
        return  # this event was handled (a replay)
    data = compose.data_for(event.topic, payload)
    link = f"/m/{tenant.slug}/orders/{data['order']}" if data["order"] else f"/m/{tenant.slug}/"
    if event.topic in compose.FITTING_TOPICS:
        link = f"/m/{tenant.slug}/chat"
    now = clock.now()
    session.add(
        InboxMessage(
            merchant_id=tenant.id,
            public_id=new_public_id("inb"),
            customer_id=customer.id,
            event_id=event_id,
            topic=event.topic,
            data=data,
            link=link,
            created_at=now,
        )
    )
    if event.topic == "order.paid":  # the follow invitation waits for a first payment
        await customers.mark_first_paid(session, tenant, customer, now)
    plan = await _choose(session, tenant, customer, event.topic)
    if plan is not None:
        channel, target, template = plan
        url = f"{settings.base_url.rstrip('/')}{link}"
        if channel == SMS:
            content: dict[str, Any] = {"text": compose.sms_text(mall_name, event.topic, data)}
        else:
            assert template is not None
            values = compose.template_values(template.fields, event.topic, data, mall_name)
            content = {"data": values, "url": url}
        await _queue(
            session,
            tenant,
            customer_id=customer.id,
            event_id=event_id,
            topic=event.topic,
            channel=channel,
            target=target,
            template_id=template.template_id if template else "",
            content=content,
        )
    await session.flush()


async def send(
    session: AsyncSession, settings: Settings, tenant: Tenant, notification_id: int, *, replay: bool
) -> None:
    """Make the outside call for one pending notification. Transient failures raise (the
    outbox retries with backoff); refusals mark it failed and may fall back to SMS."""
    n = await session.scalar(scoped(Notification, tenant, Notification.id == notification_id))
    if n is None or n.status != "pending":
        return
    try:
        if n.channel == SMS:
            msg_id = await sender_for(settings).send(
                n.target, str(n.content["text"]), out_id=n.public_id
            )
        else:
            app = await primary_app(session, tenant)
            if app is None:
                await _failed(session, tenant, n, "the merchant has no WeChat account")
                return
            client = oa_client(settings, app)
            if n.channel == SUBSCRIBE:
                msg_id = await client.send_subscribe(
                    openid=n.target,
                    template_id=n.template_id,
                    data=n.content["data"],
                    page=n.content.get("url"),
                )
            else:
                msg_id = await client.send_template(
                    openid=n.target,
                    template_id=n.template_id,
                    data=n.content["data"],
                    url=n.content.get("url"),
                    client_msg_id=n.public_id,
                )
    except WechatApiError as exc:
        if exc.errcode in TRANSIENT_ERRCODES:
            raise
        await _refused(session, tenant, n, exc, replay=replay)
        return
    except SmsFailed as exc:
        if not exc.permanent:
            raise
        await _failed(session, tenant, n, exc.detail)
        return
    move(n, "sent")
    n.provider_msg_id = escaped(msg_id)[:64]
    n.sent_at = clock.now()
    await session.flush()


async def _failed(session: AsyncSession, tenant: Tenant, n: Notification, why: str) -> None:
    move(n, "failed")
    n.last_error = escaped(why)[:2000]  # the provider's words, NUL and all
    await session.flush()


async def _refused(
    session: AsyncSession, tenant: Tenant, n: Notification, exc: WechatApiError, *, replay: bool
) -> None:
    """WeChat said no: our view of consent / follow was wrong. Correct it and fall back to
    SMS — unless this is a resend after a crash, when the first try may have arrived."""
    await _failed(session, tenant, n, f"{exc.errcode}: {exc.errmsg}")
    customer = await session.scalar(scoped(Customer, tenant, Customer.id == n.customer_id))
    if customer is None:
        return
    if exc.errcode == NO_CONSENT:
        await session.execute(
            update(SubscribeConsent)
            .where(
                SubscribeConsent.merchant_id == tenant.id,
                SubscribeConsent.customer_id == customer.id,
                SubscribeConsent.template_id == n.template_id,
                SubscribeConsent.long_term.is_(False),
            )
            .values(remaining=0, updated_at=clock.now())
            .execution_options(synchronize_session=False)
        )
        if replay:
            return
    if exc.errcode == NOT_FOLLOWING:
        await customers.set_followed(session, tenant, customer, False)
    if customer.phone:
        _same, mall_name = await _merchant(session, tenant.id)
        data = await session.scalar(
            select(InboxMessage.data).where(
                InboxMessage.merchant_id == tenant.id,
                InboxMessage.customer_id == customer.id,
                InboxMessage.event_id == n.event_id,
            )
        )
        if data:
            await _queue(
                session,
                tenant,
                customer_id=customer.id,
                event_id=n.event_id,
                topic=n.topic,
                channel=SMS,
                target=customer.phone,
                template_id="",
                content={"text": compose.sms_text(mall_name, n.topic, data)},
            )


async def give_up(session: AsyncSession, tenant: Tenant, notification_id: int, why: str) -> bool:
    """The outbox stopped retrying a send (the channel was down for hours): record the
    failure, and text the customer instead when it was a WeChat message."""
    n = await session.scalar(scoped(Notification, tenant, Notification.id == notification_id))
    if n is None or n.status != "pending":
        return False
    await _failed(session, tenant, n, f"gave up: {why}")
    if n.channel == SMS:
        return True
    customer = await session.scalar(scoped(Customer, tenant, Customer.id == n.customer_id))
    data = await session.scalar(
        select(InboxMessage.data).where(
            InboxMessage.merchant_id == tenant.id,
            InboxMessage.customer_id == n.customer_id,
            InboxMessage.event_id == n.event_id,
        )
    )
    if customer is not None and customer.phone and data:
        _same, mall_name = await _merchant(session, tenant.id)
        await _queue(
            session,
            tenant,
            customer_id=customer.id,
            event_id=n.event_id,
            topic=n.topic,
            channel=SMS,
            target=customer.phone,
            template_id="",
            content={"text": compose.sms_text(mall_name, n.topic, data)},
        )
    return True
