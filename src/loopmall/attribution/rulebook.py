"""A merchant's attribution rules as stored: read (defaults when never saved) and saved."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution.models import AttributionRules
from loopmall.attribution.rules import Precedence, RuleSet
from loopmall.core import clock
from loopmall.core.errors import ValidationFailed
from loopmall.core.tenancy import Tenant

MAX_WINDOW_DAYS = 365
MAX_TAKEOVER_DAYS = 3650


class InvalidRules(ValidationFailed):
    code = "attribution_rules_invalid"
    title = "These attribution rules are not valid"


def rule_set(row: AttributionRules | None) -> RuleSet:
    if row is None:
        return RuleSet()
    return RuleSet(
        window_days=row.window_days,
        precedence=Precedence(row.precedence),
        bind_on_first_touch=row.bind_on_first_touch,
        takeover_after_days=row.takeover_after_days,
        bound_store_keeps_online=row.bound_store_keeps_online,
    )


async def get_rules(session: AsyncSession, tenant: Tenant) -> RuleSet:
    """The merchant's rules, or the defaults when it never saved any."""
    row = await session.scalar(
        select(AttributionRules).where(AttributionRules.merchant_id == tenant.id)
    )
    return rule_set(row)


def _int(values: dict[str, Any], name: str, low: int, high: int, default: int) -> int:
    value = values.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRules(f"{name} must be a whole number from {low} to {high}", field=name)
    return value


def _bool(values: dict[str, Any], name: str, default: bool) -> bool:
    value = values.get(name, default)
    if not isinstance(value, bool):
        raise InvalidRules(f"{name} must be true or false", field=name)
    return value


def check_rules(values: dict[str, Any], current: RuleSet | None = None) -> RuleSet:
    """Validate a (partial) set of rules over ``current``; raises :class:`InvalidRules`."""
    base = current or RuleSet()
    unknown = set(values) - set(asdict(base))
    if unknown:
        raise InvalidRules(f"unknown rule {sorted(unknown)[0]}", field=sorted(unknown)[0])
    precedence = values.get("precedence", base.precedence.value)
    if precedence not in {p.value for p in Precedence}:
        raise InvalidRules(
            "precedence must be last_touch, first_touch or binding", field="precedence"
        )
    return RuleSet(
        window_days=_int(values, "window_days", 1, MAX_WINDOW_DAYS, base.window_days),
        precedence=Precedence(precedence),
        bind_on_first_touch=_bool(values, "bind_on_first_touch", base.bind_on_first_touch),
        takeover_after_days=_int(
            values, "takeover_after_days", 0, MAX_TAKEOVER_DAYS, base.takeover_after_days
        ),
        bound_store_keeps_online=_bool(
            values, "bound_store_keeps_online", base.bound_store_keeps_online
        ),
    )


async def save_rules(session: AsyncSession, tenant: Tenant, values: dict[str, Any]) -> RuleSet:
    """Validate and store the merchant's rules (a partial update); nothing is written when
    a value is refused (:class:`InvalidRules`)."""
    row = await session.scalar(
        select(AttributionRules).where(AttributionRules.merchant_id == tenant.id)
    )
    rules = check_rules(values, rule_set(row))
    if row is None:
        row = AttributionRules(merchant_id=tenant.id)
        session.add(row)
    row.window_days = rules.window_days
    row.precedence = rules.precedence.value
    row.bind_on_first_touch = rules.bind_on_first_touch
    row.takeover_after_days = rules.takeover_after_days
    row.bound_store_keeps_online = rules.bound_store_keeps_online
    row.updated_at = clock.now()
    await session.flush()
    return rules
