"""The events the notifications domain publishes."""

from __future__ import annotations

from pydantic import Field

from loopmall.core.events import Event


class NotificationQueued(Event):
    topic = "notification.queued"
    summary = "A message to a customer (SMS or WeChat) was planned; it is sent next."
    notification_id: int = Field(description="the planned message to send")
