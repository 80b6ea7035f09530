"""The attribution rule engine: pure functions, no I/O.

``attribute`` turns an order, the customer's touches, their binding and the merchant's
rules into credits, one per role at most, each naming the rule that produced it.
``decide_binding`` says what a new store/guide contact does to a customer's binding.

The rules, in order, per role:

1. A face-to-face payment (收款码) credits the code's store and guide: ``payment_code``.
   A store sale (an order made in the store) credits its store and guide: ``order_store``.
2. Precedence ``binding``: a bound customer's store and guide get ``binding`` credit.
3. Otherwise the touches inside the window (``order_at - window_days <= at <= order_at``)
   that can give the role are ranked — ``last_touch`` takes the latest, ``first_touch``
   the earliest (ties broken by touch id, so the answer is deterministic) — and the chosen
   touch gives the credit: ``last_touch:scan``, ``first_touch:share``, …
4. With no such touch, a binding still credits its store and guide when the merchant keeps
   "online sales of a bound customer credit the store" on: ``binding``.

Sharers, upstream sharers and placements come from touches only (step 3).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Role(StrEnum):
    """Who a credit goes to; commission (``rebates``) pays by these roles too."""

    STORE = "store"
    GUIDE = "guide"
    SHARER = "sharer"  # the direct sharer: distributor level 1
    UPSTREAM_SHARER = "upstream_sharer"  # the sharer's sharer: level 2
    PLACEMENT = "placement"  # a poster channel: nobody to pay


class Precedence(StrEnum):
    LAST_TOUCH = "last_touch"
    FIRST_TOUCH = "first_touch"
    BINDING = "binding"


RULE_PAYMENT_CODE = "payment_code"
RULE_ORDER_STORE = "order_store"
RULE_BINDING = "binding"
# Order kinds whose store and guide are the seller itself, not a guess from touches.
PAYMENT_CODE_KINDS = frozenset({"face_to_face"})
IN_STORE_KINDS = frozenset({"store_sale"})
TOUCH_KINDS = ("scan", "share", "guide", "join")
# Every rule name a credit can carry.
RULE_NAMES = (
    RULE_PAYMENT_CODE,
    RULE_ORDER_STORE,
    RULE_BINDING,
    *(f"{p}:{k}" for p in ("last_touch", "first_touch") for k in TOUCH_KINDS),
)


@dataclass(frozen=True, slots=True)
class RuleSet:
    window_days: int = 15
    precedence: Precedence = Precedence.LAST_TOUCH
    bind_on_first_touch: bool = True
    takeover_after_days: int = 30  # 0: never
    bound_store_keeps_online: bool = True


@dataclass(frozen=True, slots=True)
class TouchFact:
    id: int
    kind: str
    at: datetime
    channel_id: int | None = None
    store_id: int | None = None
    guide_staff_id: int | None = None
    share_id: int | None = None
    sharer_customer_id: int | None = None
    upstream_sharer_customer_id: int | None = None
    placement: str = ""


@dataclass(frozen=True, slots=True)
class BindingFact:
    store_id: int | None
    guide_staff_id: int | None
    last_contact_at: datetime


@dataclass(frozen=True, slots=True)
class OrderFact:
    id: int
    kind: str
    at: datetime
    customer_id: int | None
    store_id: int | None = None
    guide_staff_id: int | None = None


@dataclass(frozen=True, slots=True)
class CreditFact:
    role: Role
    rule: str
    store_id: int | None = None
    guide_staff_id: int | None = None
    sharer_customer_id: int | None = None
    channel_id: int | None = None
    share_id: int | None = None
    placement: str = ""
    touch_id: int | None = None


# The field of a touch that names each role's beneficiary.
BENEFICIARY_FIELD = {
    Role.STORE: "store_id",
    Role.GUIDE: "guide_staff_id",
    Role.SHARER: "sharer_customer_id",
    Role.UPSTREAM_SHARER: "upstream_sharer_customer_id",
    Role.PLACEMENT: "placement",
}


def _beneficiary(role: Role, touch: TouchFact) -> bool:
    value = getattr(touch, BENEFICIARY_FIELD[role])
    return bool(value) if role is Role.PLACEMENT else value is not None


def _from_touch(role: Role, touch: TouchFact, precedence: Precedence) -> CreditFact:
    rule = f"{precedence.value}:{touch.kind}"
    common = {"channel_id": touch.channel_id, "touch_id": touch.id, "rule": rule}
    if role is Role.STORE:
        return CreditFact(role, store_id=touch.store_id, **common)  # type: ignore[arg-type]
    if role is Role.GUIDE:
        return CreditFact(
            role,
            store_id=touch.store_id,
            guide_staff_id=touch.guide_staff_id,
            **common,  # type: ignore[arg-type]
        )
    if role is Role.SHARER:
        return CreditFact(
            role,
            sharer_customer_id=touch.sharer_customer_id,
            share_id=touch.share_id,
            **common,  # type: ignore[arg-type]
        )
    if role is Role.UPSTREAM_SHARER:
        return CreditFact(
            role,
            sharer_customer_id=touch.upstream_sharer_customer_id,
            share_id=touch.share_id,
            **common,  # type: ignore[arg-type]
        )
    return CreditFact(
        role,
        store_id=touch.store_id,
        placement=touch.placement,
        **common,  # type: ignore[arg-type]
    )


def _from_binding(role: Role, binding: BindingFact) -> CreditFact | None:
    if role is Role.STORE and binding.store_id is not None:
        return CreditFact(role, RULE_BINDING, store_id=binding.store_id)
    if role is Role.GUIDE and binding.guide_staff_id is not None:
        return CreditFact(
            role,
            RULE_BINDING,
            store_id=binding.store_id,
            guide_staff_id=binding.guide_staff_id,
        )
    return None


def in_window(
    touches: Iterable[TouchFact], order_at: datetime, window_days: int
) -> list[TouchFact]:
    """The touches that may count for an order made at ``order_at``, oldest first."""
    start = order_at - timedelta(days=window_days)
    return sorted((t for t in touches if start <= t.at <= order_at), key=lambda t: (t.at, t.id))


def attribute(
    order: OrderFact,
    touches: Sequence[TouchFact],
    binding: BindingFact | None,
    rules: RuleSet,
) -> list[CreditFact]:
    """The credits of ``order``: at most one per role, in :class:`Role` order."""
    eligible = in_window(touches, order.at, rules.window_days) if order.customer_id else []
    credits: list[CreditFact] = []
    for role in Role:
        credit = _credit_for(role, order, eligible, binding, rules)
        if credit is not None:
            credits.append(credit)
    return credits


def _credit_for(
    role: Role,
    order: OrderFact,
    eligible: list[TouchFact],
    binding: BindingFact | None,
    rules: RuleSet,
) -> CreditFact | None:
    if role in (Role.STORE, Role.GUIDE) and (
        order.kind in PAYMENT_CODE_KINDS or order.kind in IN_STORE_KINDS
    ):
        rule = RULE_PAYMENT_CODE if order.kind in PAYMENT_CODE_KINDS else RULE_ORDER_STORE
        if role is Role.STORE and order.store_id is not None:
            return CreditFact(role, rule, store_id=order.store_id)
        if role is Role.GUIDE and order.guide_staff_id is not None:
            return CreditFact(
                role, rule, store_id=order.store_id, guide_staff_id=order.guide_staff_id
            )
        return None
    bound = binding if order.customer_id is not None else None
    if bound is not None and rules.precedence is Precedence.BINDING:
        credit = _from_binding(role, bound)
        if credit is not None:
            return credit
    # Precedence "binding" with no binding for this role falls back to the last touch.
    first = rules.precedence is Precedence.FIRST_TOUCH
    ranked = eligible if first else reversed(eligible)
    chosen = next((t for t in ranked if _beneficiary(role, t)), None)
    if chosen is not None:
        precedence = Precedence.FIRST_TOUCH if first else Precedence.LAST_TOUCH
        return _from_touch(role, chosen, precedence)
    if bound is not None and rules.bound_store_keeps_online:
        return _from_binding(role, bound)
    return None


class BindingMove(StrEnum):
    NEW = "new"  # no binding yet: bind
    SAME = "same"  # the contact is the bound store/guide: refresh the last contact
    EXTEND = "extend"  # bound to the store only, a guide of it (or no store) now adds the guide
    TAKE_OVER = "take_over"  # another store/guide, after the quiet time the rules allow
    STANDS = "stands"  # another store/guide, but the binding stands


@dataclass(frozen=True, slots=True)
class BindingDecision:
    move: BindingMove
    store_id: int | None = None
    guide_staff_id: int | None = None


def decide_binding(
    existing: BindingFact | None,
    *,
    store_id: int | None,
    guide_staff_id: int | None,
    at: datetime,
    rules: RuleSet,
    force: bool = False,
) -> BindingDecision:
    """What a contact with ``store_id``/``guide_staff_id`` at ``at`` does to a binding.

    ``force`` (a staff member moving the binding) takes over whatever the rules say.
    """
    if existing is None:
        if rules.bind_on_first_touch or force:
            return BindingDecision(BindingMove.NEW, store_id, guide_staff_id)
        return BindingDecision(BindingMove.STANDS)
    same_store = store_id is None or store_id == existing.store_id
    same_guide = guide_staff_id is None or guide_staff_id == existing.guide_staff_id
    if same_store and same_guide:
        return BindingDecision(BindingMove.SAME, existing.store_id, existing.guide_staff_id)
    if same_store and existing.guide_staff_id is None:
        return BindingDecision(BindingMove.EXTEND, existing.store_id, guide_staff_id)
    if force or may_take_over(existing, at, rules):
        return BindingDecision(BindingMove.TAKE_OVER, store_id, guide_staff_id)
    return BindingDecision(BindingMove.STANDS, existing.store_id, existing.guide_staff_id)


def may_take_over(existing: BindingFact, at: datetime, rules: RuleSet) -> bool:
    """A binding may be taken over after ``takeover_after_days`` without contact (0: never)."""
    if rules.takeover_after_days <= 0:
        return False
    return at - existing.last_contact_at >= timedelta(days=rules.takeover_after_days)
