"""Typed events: what a domain announces, who listens, and how it looks on the wire.

A domain declares each event it publishes as a subclass of :class:`Event` in its own
``events.py``: a ``topic`` (``"order.paid"``), a ``version``, and typed fields. Every event
carries the ``merchant_id`` it belongs to. ``core.outbox.publish`` is the one way to record
one; subscribers register with :func:`subscribe` under a stable name and receive the typed
event and the full :class:`~loopmall.core.tenancy.Tenant`.

On the wire (the broker, and later the merchants' webhooks) an event travels as an
:class:`Envelope`: ``{"id", "topic", "version", "merchant_id", "occurred_at", "data"}`` with
``data`` the event's fields as JSON. That shape is a promise to outside readers, so fields
are only ever added; a change that is not an addition is a new ``version``, and the class
says how to read the old one (:meth:`Event.upgrade`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.tenancy import Tenant


class EventError(Exception):
    """An event that cannot be read: retrying would not help, so its delivery is dead at once."""


class UnknownTopic(EventError):
    pass


class UnknownVersion(EventError):
    pass


class BadPayload(EventError):
    pass


class Event(BaseModel):
    """A fact one domain announces to the others, after the change it describes committed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: ClassVar[str] = ""
    version: ClassVar[int] = 1
    # The field naming the thing whose events some subscribers need in order (an order's
    # steps): deliveries of one aggregate to an ordered subscriber never overtake each other.
    aggregate_field: ClassVar[str | None] = None
    # Published for the outside (the open platform's webhooks); no subscriber in-house yet.
    outward: ClassVar[bool] = False
    # A one-line description for the event catalogue.
    summary: ClassVar[str] = ""

    merchant_id: int

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__dict__.get("topic"):
            _register_type(cls)

    @property
    def aggregate(self) -> str | None:
        """``"order:42"`` for an event whose ``aggregate_field`` is ``order_id`` = 42."""
        if self.aggregate_field is None:
            return None
        value = getattr(self, self.aggregate_field)
        return f"{self.aggregate_field.removesuffix('_id')}:{value}"

    def data(self) -> dict[str, Any]:
        """The fields as JSON values: what is stored in the outbox and sent on the wire."""
        return self.model_dump(mode="json")

    @classmethod
    def upgrade(cls, version: int, data: dict[str, Any]) -> dict[str, Any]:
        """Turn ``data`` written as an older ``version`` into today's shape. A class that
        bumps its version overrides this; by default no older version can be read."""
        raise UnknownVersion(f"{cls.topic} v{version} (this code reads v{cls.version})")

    @classmethod
    def read(cls, version: int, data: dict[str, Any]) -> Event:
        """The event from stored ``data`` of ``version``; :class:`EventError` if unreadable."""
        if version > cls.version:
            raise UnknownVersion(f"{cls.topic} v{version} (this code reads v{cls.version})")
        if version < cls.version:
            data = cls.upgrade(version, data)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise BadPayload(f"{cls.topic} v{version}: {exc.error_count()} bad fields") from exc


E = TypeVar("E", bound=Event)

_types: dict[str, type[Event]] = {}


def _register_type(cls: type[Event]) -> None:
    known = _types.get(cls.topic)
    if known is not None and known.__qualname__ != cls.__qualname__:
        raise RuntimeError(f"two event types for {cls.topic}: {known} and {cls}")
    _types[cls.topic] = cls


def event_type(topic: str) -> type[Event]:
    try:
        return _types[topic]
    except KeyError:
        raise UnknownTopic(topic) from None


def event_types() -> list[type[Event]]:
    """Every event type imported so far, by topic."""
    return [_types[topic] for topic in sorted(_types)]


# --- the wire ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Envelope:
    """One recorded event as it travels: the outbox row's id is the event's id."""

    id: int
    topic: str
    version: int
    merchant_id: int
    occurred_at: datetime
    data: dict[str, Any]
    aggregate: str | None = None

    def event(self) -> Event:
        return event_type(self.topic).read(self.version, self.data)

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "id": self.id,
                "topic": self.topic,
                "version": self.version,
                "merchant_id": self.merchant_id,
                "occurred_at": self.occurred_at.isoformat(),
                "aggregate": self.aggregate,
                "data": self.data,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Envelope:
        """The envelope from the wire; :class:`BadPayload` if it is not one."""
        try:
            doc = json.loads(raw)
            return cls(
                id=int(doc["id"]),
                topic=str(doc["topic"]),
                version=int(doc["version"]),
                merchant_id=int(doc["merchant_id"]),
                occurred_at=datetime.fromisoformat(doc["occurred_at"]),
                data=dict(doc["data"]),
                aggregate=doc.get("aggregate"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BadPayload(f"not an event envelope: {exc}") from exc


# --- subscribers ---------------------------------------------------------------------

Handler = Callable[[AsyncSession, Tenant, Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Subscriber(Generic[E]):
    """One handler of one event type. ``name`` is stored with every delivery, so it must
    not change when code moves (``"<domain>.<what it does>"``)."""

    name: str
    event_type: type[E]
    handler: Callable[[AsyncSession, Tenant, E], Awaitable[None]] = field(compare=False)
    ordered: bool = False

    @property
    def topic(self) -> str:
        return self.event_type.topic


_subscribers: dict[str, Subscriber[Any]] = {}


def subscribe(
    event_cls: type[E], name: str, *, ordered: bool = False
) -> Callable[
    [Callable[[AsyncSession, Tenant, E], Awaitable[None]]],
    Callable[[AsyncSession, Tenant, E], Awaitable[None]],
]:
    """Decorator: run ``handler(session, tenant, event)`` once for every ``event_cls``
    event, in a unit of work of its own that also records the delivery. ``ordered``: the
    events of one aggregate reach this handler in the order they were published."""

    def register(
        handler: Callable[[AsyncSession, Tenant, E], Awaitable[None]],
    ) -> Callable[[AsyncSession, Tenant, E], Awaitable[None]]:
        known = _subscribers.get(name)
        if known is not None and known.handler.__qualname__ != handler.__qualname__:
            raise RuntimeError(f"subscriber name {name!r} is taken by {known.handler}")
        _subscribers[name] = Subscriber(name, event_cls, handler, ordered)
        return handler

    return register


def subscribers_of(topic: str) -> list[Subscriber[Any]]:
    return [s for s in _subscribers.values() if s.topic == topic]


def subscriber(name: str) -> Subscriber[Any] | None:
    return _subscribers.get(name)


def all_subscribers() -> list[Subscriber[Any]]:
    return sorted(_subscribers.values(), key=lambda s: s.name)


def unsubscribe(name: str) -> None:
    """Forget a subscriber (tests that register their own)."""
    _subscribers.pop(name, None)


# --- what a handler may ask about the delivery it runs in ----------------------------


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    event_id: int
    subscriber: str
    attempt: int  # 1 on the first try; more when a failure or a crash made it run again


_INFO_KEY = "loopmall.delivery"


def current_delivery(session: AsyncSession) -> DeliveryInfo | None:
    """The delivery a handler runs in (``None`` outside one): a handler with an outside
    effect asks whether this is a replay."""
    info = session.info.get(_INFO_KEY)
    return info if isinstance(info, DeliveryInfo) else None


def set_current_delivery(session: AsyncSession, info: DeliveryInfo | None) -> None:
    if info is None:
        session.info.pop(_INFO_KEY, None)
    else:
        session.info[_INFO_KEY] = info
