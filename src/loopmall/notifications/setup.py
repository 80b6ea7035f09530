"""What merchants and customers set: the WeChat template per order step, a customer's
answers to subscribe prompts (consent per template), following the service account."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.customers import service as customers
from loopmall.customers.models import Customer
from loopmall.notifications.compose import ORDER_TOPICS
from loopmall.notifications.models import MessageTemplate, SubscribeConsent
from loopmall.notifications.service import SUBSCRIBE, TEMPLATE

FILLS = frozenset({"number", "amount", "refund", "status", "time", "pickup_code", "mall"})


async def set_template(
    session: AsyncSession,
    tenant: Tenant,
    *,
    topic: str,
    channel: str,
    template_id: str,
    fields: dict[str, str],
    enabled: bool = True,
) -> MessageTemplate:
    """Create or replace the merchant's template for one order step and channel."""
    if topic not in ORDER_TOPICS:
        raise ValidationFailed(f"unknown order step {topic}", field="topic")
    if channel not in (SUBSCRIBE, TEMPLATE):
        raise ValidationFailed("channel must be wechat_subscribe or wechat_template")
    bad = sorted(v for v in fields.values() if v not in FILLS)
    if bad or not fields:
        raise ValidationFailed(
            "each template keyword needs one of: " + ", ".join(sorted(FILLS)), unknown=bad
        )
    row = await session.scalar(
        scoped(
            MessageTemplate,
            tenant,
            MessageTemplate.topic == topic,
            MessageTemplate.channel == channel,
        )
    )
    if row is None:
        row = MessageTemplate(
            merchant_id=tenant.id,
            public_id=new_public_id("tpl"),
            topic=topic,
            channel=channel,
            created_at=clock.now(),
        )
        session.add(row)
    row.template_id = template_id
    row.fields = dict(fields)
    row.enabled = enabled
    await session.flush()
    return row


async def list_templates(session: AsyncSession, tenant: Tenant) -> list[MessageTemplate]:
    rows = await session.scalars(
        scoped(MessageTemplate, tenant).order_by(MessageTemplate.topic, MessageTemplate.channel)
    )
    return list(rows.all())


async def subscribe_template_ids(session: AsyncSession, tenant: Tenant) -> list[str]:
    """The subscribe templates a page should offer (``<wx-open-subscribe template=…>``)."""
    rows = await session.scalars(
        select(MessageTemplate.template_id)
        .where(
            MessageTemplate.merchant_id == tenant.id,
            MessageTemplate.channel == SUBSCRIBE,
            MessageTemplate.enabled.is_(True),
        )
        .distinct()
    )
    return sorted(rows.all())


async def record_consents(
    session: AsyncSession,
    tenant: Tenant,
    customer_id: int,
    results: dict[str, str],
    *,
    long_term: bool = False,
) -> list[SubscribeConsent]:
    """The customer's answers to a subscribe prompt (``{template_id: "accept"|"reject"}``,
    as WeChat's ``subscribeDetails`` reports them). Each accept allows one more message;
    only the merchant's own subscribe templates count."""
    offered = set(await subscribe_template_ids(session, tenant))
    unknown = sorted(t for t in results if t not in offered)
    if unknown:
        raise ValidationFailed("not a subscribe template of this mall", unknown=unknown)
    now = clock.now()
    touched: list[SubscribeConsent] = []
    for template_id, answer in sorted(results.items()):
        if answer not in ("accept", "reject", "ban", "filter"):
            raise ValidationFailed(f"unknown answer {answer!r}", template_id=template_id)
        row = await session.scalar(
            scoped(
                SubscribeConsent,
                tenant,
                SubscribeConsent.customer_id == customer_id,
                SubscribeConsent.template_id == template_id,
            )
        )
        if row is None:
            row = SubscribeConsent(
                merchant_id=tenant.id,
                customer_id=customer_id,
                template_id=template_id,
                remaining=0,
                long_term=False,
                used=0,
                updated_at=now,
            )
            session.add(row)
        if answer == "accept":
            row.remaining = (row.remaining or 0) + 1
            row.long_term = row.long_term or long_term
        else:  # a refusal withdraws what was left
            row.remaining = 0
            row.long_term = False
        row.updated_at = now
        touched.append(row)
    await session.flush()
    return touched


async def set_followed(
    session: AsyncSession, tenant: Tenant, customer: Customer, followed: bool
) -> None:
    """Record that the customer follows (or stopped following) the service account (the
    columns are the customers domain's)."""
    await customers.set_followed(session, tenant, customer, followed)


def should_invite(customer: Customer) -> bool:
    """Invite to follow after the first payment, while not following and not dismissed."""
    return (
        customer.first_paid_at is not None
        and not customer.followed
        and customer.follow_invited_at is None
    )


async def dismiss_invite(session: AsyncSession, tenant: Tenant, customer: Customer) -> None:
    """The customer closed the invitation: it is not shown again."""
    await customers.mark_follow_invited(session, tenant, customer)


async def consent_counts(session: AsyncSession, tenant: Tenant, customer_id: int) -> dict[str, int]:
    """Messages the customer still agreed to receive, per subscribe template."""
    rows = await session.execute(
        select(SubscribeConsent.template_id, SubscribeConsent.remaining).where(
            SubscribeConsent.merchant_id == tenant.id,
            SubscribeConsent.customer_id == customer_id,
        )
    )
    return {template_id: int(remaining) for template_id, remaining in rows.all()}
