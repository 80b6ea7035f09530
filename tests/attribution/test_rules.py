"""The rule engine over random touch sequences, bindings, orders and rules (hypothesis)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from loopmall.attribution.rules import (
    RULE_NAMES,
    BindingFact,
    BindingMove,
    CreditFact,
    OrderFact,
    Precedence,
    Role,
    RuleSet,
    TouchFact,
    attribute,
    decide_binding,
)

T0 = datetime(2026, 6, 1, tzinfo=UTC)
ORDER_AT = T0 + timedelta(days=60)
STORES = (1, 2, 3)
GUIDES = (10, 11, 12)
CUSTOMERS = (100, 101, 102)


@st.composite
def touches(draw: st.DrawFn) -> list[TouchFact]:
    n = draw(st.integers(0, 12))
    out = []
    for i in range(n):
        kind = draw(st.sampled_from(["scan", "share", "guide", "join"]))
        minutes = draw(st.integers(0, 90 * 24 * 60))  # up to 30 days after the order
        shared = kind == "share"
        out.append(
            TouchFact(
                id=i + 1,
                kind=kind,
                at=T0 + timedelta(minutes=minutes),
                channel_id=draw(st.none() | st.integers(1, 5)),
                store_id=None if shared else draw(st.none() | st.sampled_from(STORES)),
                guide_staff_id=draw(st.none() | st.sampled_from(GUIDES)),
                share_id=draw(st.integers(1, 9)) if shared else None,
                sharer_customer_id=draw(st.sampled_from(CUSTOMERS)) if shared else None,
                upstream_sharer_customer_id=(
                    draw(st.none() | st.sampled_from(CUSTOMERS)) if shared else None
                ),
                placement=draw(st.sampled_from(["", "", "报刊亭", "商场海报"])),
            )
        )
    return out


bindings = st.none() | st.builds(
    BindingFact,
    store_id=st.none() | st.sampled_from(STORES),
    guide_staff_id=st.none() | st.sampled_from(GUIDES),
    last_contact_at=st.builds(lambda d: T0 + timedelta(days=d), st.integers(0, 60)),
).filter(lambda b: b is None or b.store_id is not None or b.guide_staff_id is not None)

rule_sets = st.builds(
    RuleSet,
    window_days=st.integers(1, 90),
    precedence=st.sampled_from(list(Precedence)),
    bind_on_first_touch=st.booleans(),
    takeover_after_days=st.integers(0, 60),
    bound_store_keeps_online=st.booleans(),
)

orders = st.builds(
    OrderFact,
    id=st.just(1),
    kind=st.sampled_from(["mall", "mall", "mall", "face_to_face", "store_sale"]),
    at=st.just(ORDER_AT),
    customer_id=st.none() | st.just(100),
    store_id=st.none() | st.sampled_from(STORES),
    guide_staff_id=st.none() | st.sampled_from(GUIDES),
)

mall_orders = st.builds(
    OrderFact, id=st.just(1), kind=st.just("mall"), at=st.just(ORDER_AT), customer_id=st.just(100)
)


def _gives(role: Role, t: TouchFact) -> bool:
    return {
        Role.STORE: t.store_id is not None,
        Role.GUIDE: t.guide_staff_id is not None,
        Role.SHARER: t.sharer_customer_id is not None,
        Role.UPSTREAM_SHARER: t.upstream_sharer_customer_id is not None,
        Role.PLACEMENT: bool(t.placement),
    }[role]


def _by_role(credits: list[CreditFact]) -> dict[Role, CreditFact]:
    return {c.role: c for c in credits}


@given(orders, touches(), bindings, rule_sets)
@settings(max_examples=400, deadline=None)
def test_one_credit_per_role_with_a_known_rule_and_never_a_later_or_older_touch(
    order: OrderFact, seq: list[TouchFact], binding: BindingFact | None, rules: RuleSet
) -> None:
    credits = attribute(order, seq, binding, rules)
    assert len({c.role for c in credits}) == len(credits)
    by_id = {t.id: t for t in seq}
    for c in credits:
        assert c.rule in RULE_NAMES
        if c.touch_id is not None:
            t = by_id[c.touch_id]
            assert t.at <= order.at, "a touch after the order never counts"
            assert t.at >= order.at - timedelta(days=rules.window_days), "outside the window"
            assert c.rule.endswith(f":{t.kind}")
            assert _gives(c.role, t)
        else:
            assert c.rule in ("binding", "payment_code", "order_store")
    if order.customer_id is None:
        assert all(c.touch_id is None for c in credits)


@given(orders, touches(), bindings, rule_sets, st.randoms(use_true_random=False))
@settings(deadline=None)
def test_deterministic_whatever_the_order_of_the_touches(
    order: OrderFact,
    seq: list[TouchFact],
    binding: BindingFact | None,
    rules: RuleSet,
    rnd: random.Random,
) -> None:
    shuffled = list(seq)
    rnd.shuffle(shuffled)
    assert attribute(order, seq, binding, rules) == attribute(order, shuffled, binding, rules)


@given(mall_orders, touches(), rule_sets)
@settings(max_examples=300, deadline=None)
def test_first_and_last_touch_pick_the_earliest_and_latest_eligible_touch(
    order: OrderFact, seq: list[TouchFact], rules: RuleSet
) -> None:
    got = _by_role(attribute(order, seq, None, rules))
    start = order.at - timedelta(days=rules.window_days)
    for role in Role:
        eligible = sorted(
            (t for t in seq if start <= t.at <= order.at and _gives(role, t)),
            key=lambda t: (t.at, t.id),
        )
        if not eligible:
            assert role not in got
            continue
        first = rules.precedence is Precedence.FIRST_TOUCH
        expected = eligible[0] if first else eligible[-1]
        assert got[role].touch_id == expected.id
        assert got[role].rule == f"{'first' if first else 'last'}_touch:{expected.kind}"


@given(mall_orders, touches(), bindings, rule_sets)
@settings(deadline=None)
def test_binding_wins_under_binding_precedence(
    order: OrderFact, seq: list[TouchFact], binding: BindingFact | None, rules: RuleSet
) -> None:
    rules = RuleSet(
        window_days=rules.window_days,
        precedence=Precedence.BINDING,
        bound_store_keeps_online=rules.bound_store_keeps_online,
    )
    got = _by_role(attribute(order, seq, binding, rules))
    if binding is not None and binding.store_id is not None:
        assert (got[Role.STORE].store_id, got[Role.STORE].rule) == (binding.store_id, "binding")
    if binding is not None and binding.guide_staff_id is not None:
        assert got[Role.GUIDE].guide_staff_id == binding.guide_staff_id
        assert got[Role.GUIDE].rule == "binding"


@given(mall_orders, touches(), bindings, rule_sets)
@settings(deadline=None)
def test_a_bound_customer_with_no_store_touch_credits_the_store_when_kept_online(
    order: OrderFact, seq: list[TouchFact], binding: BindingFact | None, rules: RuleSet
) -> None:
    start = order.at - timedelta(days=rules.window_days)
    no_store_touch = not any(t.store_id for t in seq if start <= t.at <= order.at)
    got = _by_role(attribute(order, seq, binding, rules))
    if binding is None or binding.store_id is None or not no_store_touch:
        return
    if rules.bound_store_keeps_online or rules.precedence is Precedence.BINDING:
        assert (got[Role.STORE].store_id, got[Role.STORE].rule) == (binding.store_id, "binding")
    else:
        assert Role.STORE not in got


@given(orders, touches(), bindings, rule_sets)
@settings(deadline=None)
def test_a_face_to_face_payment_always_credits_its_code(
    order: OrderFact, seq: list[TouchFact], binding: BindingFact | None, rules: RuleSet
) -> None:
    if order.kind == "mall":
        return
    got = _by_role(attribute(order, seq, binding, rules))
    rule = "payment_code" if order.kind == "face_to_face" else "order_store"
    if order.store_id is None:
        assert Role.STORE not in got
    else:
        assert (got[Role.STORE].store_id, got[Role.STORE].rule) == (order.store_id, rule)
    if order.guide_staff_id is None:
        assert Role.GUIDE not in got
    else:
        assert (got[Role.GUIDE].guide_staff_id, got[Role.GUIDE].rule) == (
            order.guide_staff_id,
            rule,
        )


@given(
    bindings,
    st.none() | st.sampled_from(STORES),
    st.none() | st.sampled_from(GUIDES),
    st.integers(0, 120),
    rule_sets,
    st.booleans(),
)
@settings(max_examples=400, deadline=None)
def test_a_take_over_only_when_allowed(
    existing: BindingFact | None,
    store_id: int | None,
    guide_id: int | None,
    days: int,
    rules: RuleSet,
    force: bool,
) -> None:
    if store_id is None and guide_id is None:
        return
    at = T0 + timedelta(days=days)
    d = decide_binding(
        existing, store_id=store_id, guide_staff_id=guide_id, at=at, rules=rules, force=force
    )
    if existing is None:
        expected = BindingMove.NEW if rules.bind_on_first_touch or force else BindingMove.STANDS
        assert d.move is expected
        return
    same = (store_id in (None, existing.store_id)) and (guide_id in (None, existing.guide_staff_id))
    if same:
        assert d.move is BindingMove.SAME
        assert (d.store_id, d.guide_staff_id) == (existing.store_id, existing.guide_staff_id)
        return
    if d.move is BindingMove.EXTEND:
        # Only a guide joining a store binding that had none.
        assert existing.guide_staff_id is None and store_id in (None, existing.store_id)
        assert (d.store_id, d.guide_staff_id) == (existing.store_id, guide_id)
        return
    quiet = at - existing.last_contact_at
    allowed = force or (
        rules.takeover_after_days > 0 and quiet >= timedelta(days=rules.takeover_after_days)
    )
    assert d.move is (BindingMove.TAKE_OVER if allowed else BindingMove.STANDS)
    if d.move is BindingMove.TAKE_OVER:
        assert (d.store_id, d.guide_staff_id) == (store_id, guide_id)


def test_window_edges_are_included() -> None:
    rules = RuleSet(window_days=15)
    order = OrderFact(id=1, kind="mall", at=ORDER_AT, customer_id=100)
    edge = TouchFact(id=1, kind="scan", at=ORDER_AT - timedelta(days=15), store_id=1)
    late = TouchFact(id=2, kind="scan", at=ORDER_AT + timedelta(seconds=1), store_id=2)
    old = TouchFact(id=3, kind="scan", at=ORDER_AT - timedelta(days=15, seconds=1), store_id=3)
    got = _by_role(attribute(order, [edge, late, old], None, rules))
    assert got[Role.STORE].store_id == 1
    same_time = TouchFact(id=4, kind="guide", at=ORDER_AT, store_id=2)
    got = _by_role(attribute(order, [edge, same_time], None, rules))
    assert (got[Role.STORE].store_id, got[Role.STORE].rule) == (2, "last_touch:guide")
