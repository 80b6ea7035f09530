"""Every order step notifies the customer: subscribe message with consent, template message
for followers, SMS fallback, the inbox always — through the outbox, never for a step that
did not commit, never lost when the process dies after the commit."""

from __future__ import annotations

from datetime import timedelta

from loopmall.config import Settings
from loopmall.core.events import DeliveryInfo, set_current_delivery, subscriber
from loopmall.core.models import EventDelivery, OutboxEvent
from loopmall.core.outbox import LEASE, Dispatcher, envelope_of
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import Customer
from loopmall.notifications import setup
from loopmall.notifications.models import InboxMessage, Notification, SubscribeConsent
from loopmall.standins.sms import SmsStandin
from loopmall.standins.wechat_oa import WechatOAStandin
from tests.notifications.helpers import (
    count,
    drain,
    make_person,
    make_shop,
    order_payload,
    publish_step,
    rows,
)

PHONE = "13700000001"
SUB_TPL = "tpl_sub_paid_0001"
TPL_TPL = "tpl_msg_paid_0001"
FIELDS = {"character_string1": "number", "amount2": "amount", "phrase3": "status"}


async def _templates(state: AppState, shop, *channels: str) -> None:  # type: ignore[no-untyped-def]
    async with UnitOfWork(state.write_factory) as uow:
        for channel in channels:
            await setup.set_template(
                uow.session,
                shop.tenant,
                topic="order.paid",
                channel=channel,
                template_id=SUB_TPL if channel == "wechat_subscribe" else TPL_TPL,
                fields=FIELDS,
            )
        await uow.commit()


async def test_sms_fallback_and_inbox(
    standin_settings: Settings,
    state: AppState,
    oa_standin: WechatOAStandin,
    sms_standin: SmsStandin,
) -> None:
    shop = await make_shop(state, oa_standin)
    person = await make_person(state, shop, oa_standin, phone=PHONE, wechat=False)
    payload = order_payload(shop, person)
    await publish_step(state, shop, "order.paid", payload)
    await drain(state)
    [sms] = sms_standin.messages(PHONE)
    assert payload["number"] in sms.text and "128.00" in sms.text and "Acme 商城" in sms.text
    [entry] = await rows(state, InboxMessage)
    assert entry.topic == "order.paid" and entry.read_at is None
    assert entry.link == f"/m/acme/orders/{payload['order_public_id']}"
    [n] = await rows(state, Notification)
    assert (n.channel, n.status, n.target) == ("sms", "sent", PHONE)
    [customer] = await rows(state, Customer, id=person.customer_id)
    assert customer.first_paid_at is not None, "the follow invitation can be shown"


async def test_nothing_for_a_step_that_did_not_commit(
    standin_settings: Settings,
    state: AppState,
    oa_standin: WechatOAStandin,
    sms_standin: SmsStandin,
) -> None:
    shop = await make_shop(state, oa_standin)
    person = await make_person(state, shop, oa_standin, phone=PHONE, wechat=False)
    await publish_step(state, shop, "order.paid", order_payload(shop, person), commit=False)
    assert await drain(state) == 0
    assert sms_standin.messages() == []
    assert await count(state, InboxMessage) == 0
    assert await count(state, Notification) == 0


async def test_nothing_lost_when_the_process_dies_after_the_commit(
    standin_settings: Settings,
    state: AppState,
    oa_standin: WechatOAStandin,
    sms_standin: SmsStandin,
    frozen_clock,  # type: ignore[no-untyped-def]
) -> None:
    shop = await make_shop(state, oa_standin)
    person = await make_person(state, shop, oa_standin, phone=PHONE, wechat=False)
    await publish_step(state, shop, "order.shipped", order_payload(shop, person))
    # A process claims the event and dies before handling it.
    doomed = Dispatcher(state.write_factory)
    assert len(await doomed._claim()) == 1
    assert await drain(state) == 0, "the lease keeps others off for a while"
    frozen_clock.advance(seconds=LEASE.total_seconds() + 1)
    await drain(state)  # the order event: inbox + a queued SMS
    # The next process sends the SMS, and dies after the outside call, before its commit.
    [send_event] = await rows(state, OutboxEvent, topic="notification.queued")
    send = subscriber("notifications.send")
    assert send is not None
    async with UnitOfWork(state.write_factory) as uow:
        set_current_delivery(uow.session, DeliveryInfo(send_event.id, send.name, 1))
        await send.handler(uow.session, shop.tenant, envelope_of(send_event).event())
        # no commit: the process is gone
    assert len(sms_standin.messages(PHONE)) == 1
    await drain(state)
    assert len(sms_standin.messages(PHONE)) == 1, "the resend carried the same out_id"
    [n] = await rows(state, Notification)
    assert n.status == "sent"
    assert await count(state, InboxMessage) == 1
    assert {e.status for e in await rows(state, OutboxEvent)} == {"done"}


async def test_subscribe_message_uses_consent_once_then_falls_back(
    standin_settings: Settings,
    state: AppState,
    client,  # type: ignore[no-untyped-def]
    oa_standin: WechatOAStandin,
    sms_standin: SmsStandin,
) -> None:
    shop = await make_shop(state, oa_standin)
    await _templates(state, shop, "wechat_subscribe")
    person = await make_person(state, shop, oa_standin, phone=PHONE)
    assert person.openid is not None
    # The customer accepts the prompt in WeChat; the page reports it.
    oa_standin.grant_subscription(shop.appid, person.openid, SUB_TPL)
    r = await client.post(
        "/api/v1/mall/acme/notifications/consents",
        json={"results": {SUB_TPL: "accept"}},
        headers={"Authorization": f"Bearer {person.token}"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == [{"template_id": SUB_TPL, "remaining": 1, "long_term": False}]

    first = order_payload(shop, person)
    await publish_step(state, shop, "order.paid", first)
    await drain(state)
    [msg] = oa_standin.messages(shop.appid, person.openid)
    assert msg.kind == "subscribe" and msg.template_id == SUB_TPL
    assert msg.data["character_string1"] == {"value": first["number"]}
    assert msg.data["amount2"] == {"value": "¥128.00"}
    assert msg.url.endswith(f"/m/acme/orders/{first['order_public_id']}")
    [consent] = await rows(state, SubscribeConsent)
    assert (consent.remaining, consent.used) == (0, 1)

    # The consent is used up: the next paid order goes by SMS (not followed: no template).
    await publish_step(state, shop, "order.paid", order_payload(shop, person))
    await drain(state)
    assert len(oa_standin.messages(shop.appid)) == 1
    assert len(sms_standin.messages(PHONE)) == 1
    assert await count(state, InboxMessage) == 2


async def test_template_message_for_followers(
    standin_settings: Settings,
    state: AppState,
    oa_standin: WechatOAStandin,
    sms_standin: SmsStandin,
) -> None:
    shop = await make_shop(state, oa_standin)
    await _templates(state, shop, "wechat_subscribe", "wechat_template")
    fan = await make_person(state, shop, oa_standin, name="粉丝", phone=PHONE, followed=True)
    await publish_step(state, shop, "order.paid", order_payload(shop, fan))
    await drain(state)
    [msg] = oa_standin.messages(shop.appid)
    assert msg.kind == "template" and msg.template_id == TPL_TPL and msg.touser == fan.openid
    [n] = await rows(state, Notification)
    assert msg.client_msg_id == n.public_id, "resends are no-ops on WeChat's side"
    assert sms_standin.messages() == []


async def test_wechat_refusal_corrects_our_view_and_texts_instead(
    standin_settings: Settings,
    state: AppState,
    oa_standin: WechatOAStandin,
    sms_standin: SmsStandin,
) -> None:
    shop = await make_shop(state, oa_standin)
    await _templates(state, shop, "wechat_template")
    # We think they follow; WeChat knows they unfollowed (43004).
    person = await make_person(state, shop, oa_standin, phone=PHONE, followed=True)
    assert person.openid is not None
    oa_standin.unfollow(shop.appid, person.openid, deliver=False)
    await publish_step(state, shop, "order.paid", order_payload(shop, person))
    await drain(state)
    assert oa_standin.messages() == []
    assert len(sms_standin.messages(PHONE)) == 1
    notes = await rows(state, Notification)
    assert [(n.channel, n.status) for n in notes] == [
        ("wechat_template", "failed"),
        ("sms", "sent"),
    ]
    assert notes[0].last_error.startswith("43004")
    [customer] = await rows(state, Customer, id=person.customer_id)
    assert customer.followed is False


async def test_wechat_outage_is_retried(
    standin_settings: Settings,
    state: AppState,
    oa_standin: WechatOAStandin,
    sms_standin: SmsStandin,
    frozen_clock,  # type: ignore[no-untyped-def]
) -> None:
    shop = await make_shop(state, oa_standin)
    await _templates(state, shop, "wechat_template")
    person = await make_person(state, shop, oa_standin, followed=True)
    await publish_step(state, shop, "order.paid", order_payload(shop, person))
    oa_standin.outage = 2  # token fetch and one more call fail
    await drain(state)
    assert oa_standin.messages() == []
    [n] = await rows(state, Notification)
    assert n.status == "pending"
    for _ in range(4):
        frozen_clock.advance(seconds=120)
        await drain(state)
    [n] = await rows(state, Notification)
    assert n.status == "sent"
    assert len(oa_standin.messages()) == 1


async def test_wechat_only_customer_gets_inbox_only_without_templates(
    standin_settings: Settings,
    state: AppState,
    oa_standin: WechatOAStandin,
    sms_standin: SmsStandin,
) -> None:
    shop = await make_shop(state, oa_standin)
    person = await make_person(state, shop, oa_standin)
    await publish_step(state, shop, "order.created", order_payload(shop, person))
    await publish_step(state, shop, "order.paid", order_payload(shop, None, kind="face_to_face"))
    await drain(state)
    assert await count(state, Notification) == 0
    [entry] = await rows(state, InboxMessage)
    assert entry.customer_id == person.customer_id
    assert oa_standin.messages() == [] and sms_standin.messages() == []


async def test_every_step_is_worded(
    standin_settings: Settings,
    state: AppState,
    oa_standin: WechatOAStandin,
    sms_standin: SmsStandin,
) -> None:
    shop = await make_shop(state, oa_standin)
    person = await make_person(state, shop, oa_standin, phone=PHONE, wechat=False)
    steps = [
        "order.created",
        "order.paid",
        "order.shipped",
        "order.ready_for_pickup",
        "order.completed",
        "order.cancelled",
        "order.refunded",
    ]
    for topic in steps:
        extra = {"pickup_code": "842913"} if topic == "order.ready_for_pickup" else {}
        if topic == "order.refunded":
            extra = {"refunded_fen": 5000}
        await publish_step(state, shop, topic, order_payload(shop, person, **extra))
    await drain(state)
    texts = [m.text for m in sms_standin.messages(PHONE)]
    assert len(texts) == len(steps)
    assert any("842913" in t for t in texts)
    assert any("50.00" in t and "退款" in t for t in texts)
    assert await count(state, InboxMessage) == len(steps)
    assert (await rows(state, OutboxEvent))[0].status == "done"
    assert timedelta(0) <= LEASE


async def test_a_send_the_outbox_gave_up_on_is_settled_by_text(
    standin_settings: Settings,
    state: AppState,
    oa_standin: WechatOAStandin,
    sms_standin: SmsStandin,
    frozen_clock,  # type: ignore[no-untyped-def]
) -> None:
    from loopmall.notifications.handlers import sweep

    shop = await make_shop(state, oa_standin)
    await _templates(state, shop, "wechat_template")
    person = await make_person(state, shop, oa_standin, phone=PHONE, followed=True)
    await publish_step(state, shop, "order.paid", order_payload(shop, person))
    oa_standin.outage = 10_000  # WeChat is down for hours
    for _ in range(12):
        await drain(state)
        frozen_clock.advance(seconds=3600)
    [send_delivery] = await rows(state, EventDelivery, subscriber="notifications.send")
    assert send_delivery.status == "dead"
    assert await sweep(state) == 1
    await drain(state)
    notes = await rows(state, Notification)
    assert [(n.channel, n.status) for n in notes] == [
        ("wechat_template", "failed"),
        ("sms", "sent"),
    ]
    assert notes[0].last_error.startswith("gave up")
    assert len(sms_standin.messages(PHONE)) == 1
    assert await sweep(state) == 0
    oa_standin.outage = 0
