"""Hand a stored message to the live sockets of both sides (after the commit)."""

from __future__ import annotations

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.guides.hub import customer_topic, guide_topic, hub_of
from loopmall.guides.models import Conversation
from loopmall.guides.schemas import MessageOut


async def deliver(
    state: AppState, tenant: Tenant, conversation: Conversation, message: MessageOut
) -> None:
    """Publish ``message`` to the conversation's guide and customer, in every process."""
    topics = [
        guide_topic(tenant.id, conversation.guide_staff_id),
        customer_topic(tenant.id, conversation.customer_id),
    ]
    await hub_of(state).publish(
        topics, {"type": "message", "message": message.model_dump(mode="json")}
    )
