"""The arithmetic and the moves of commission, in one place and without I/O.

- :func:`commission_for`: an earning is the credited amount × the role's rate, rounded by
  ``core.money.apply_basis_points`` (half up to the fen), then capped for distributors.
- :func:`clawback_due`: the named rounding rule of claw-backs. What an earning gives back is
  computed on the *cumulative* refund — ``earned × refunded / paid``, rounded half up — and
  each refund books the difference to what was already given back. So partial refunds in
  any number never give back more than was earned, a full refund gives back exactly all of
  it, and replaying a refund event books nothing.
- :data:`DISTRIBUTORS`: the distributor's status moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from loopmall.attribution.rules import Role
from loopmall.core.errors import IllegalTransition, OutOfRange, ValidationFailed
from loopmall.core.money import BASIS_POINTS, apply_basis_points
from loopmall.core.transitions import Transitions


class CommissionRulesOver100(ValidationFailed):
    code = "commission_rules_over_100"
    title = "The commission rates add up to more than 100 %"
    message = "The rates add up to %(total_bp)s basis points; at most 10000 (100 %%)"


class EarnerKind(StrEnum):
    STORE = "store"
    STAFF = "staff"
    CUSTOMER = "customer"


class DistributorPolicy(StrEnum):
    EVERYONE = "everyone"  # every customer who shares earns
    APPROVED = "approved"  # only customers the merchant approved


class DistributorStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"


D = DistributorStatus


class IllegalDistributorMove(IllegalTransition):
    code = "illegal_distributor_transition"
    title = "That change of a distributor's status is not allowed"


def _refuse_distributor_move(current: str, target: str) -> IllegalDistributorMove:
    return IllegalDistributorMove(
        f"A distributor cannot go from {current} to {target}", current=current, target=target
    )


# Every allowed move of a distributor; applying again after a refusal or a revocation is
# allowed (it goes back to the merchant's queue).
DISTRIBUTORS: Transitions[DistributorStatus] = Transitions(
    "distributor",
    {
        D.PENDING: {D.APPROVED, D.REJECTED},
        D.APPROVED: {D.REVOKED},
        D.REJECTED: {D.PENDING, D.APPROVED},
        D.REVOKED: {D.PENDING, D.APPROVED},
    },
    error=_refuse_distributor_move,
)


# The merchant's actions on a distributor and where each leads.
DECISIONS: dict[str, DistributorStatus] = {
    "approve": D.APPROVED,
    "reject": D.REJECTED,
    "revoke": D.REVOKED,
}


@dataclass(frozen=True, slots=True)
class Rates:
    """A merchant's commission rules as plain values."""

    store_bp: int = 0
    guide_bp: int = 0
    level1_bp: int = 0
    level2_bp: int = 0
    distributor_cap_fen: int | None = None
    distributors: DistributorPolicy = DistributorPolicy.APPROVED

    def rate_for(self, role: str) -> int:
        """The rate of a credit role (0 for a placement: a poster earns nobody anything)."""
        field = _RATE_OF_ROLE.get(role)
        return int(getattr(self, field)) if field else 0


_RATE_OF_ROLE: dict[str, str] = {
    Role.STORE: "store_bp",
    Role.GUIDE: "guide_bp",
    Role.SHARER: "level1_bp",
    Role.UPSTREAM_SHARER: "level2_bp",
}


def check_rates(rates: Rates) -> None:
    """Raise 422 ``commission_rules_over_100`` when the rates sum over 10,000 bp, 422
    ``validation_failed`` for a negative rate or cap."""
    for name in ("store_bp", "guide_bp", "level1_bp", "level2_bp"):
        value = getattr(rates, name)
        if value < 0 or value > BASIS_POINTS:
            raise OutOfRange(
                f"{name} must be between 0 and {BASIS_POINTS}",
                field=name,
                low=0,
                high=BASIS_POINTS,
            )
    if rates.distributor_cap_fen is not None and rates.distributor_cap_fen < 0:
        raise ValidationFailed("The cap must not be negative", field="distributor_cap_fen")
    total = rates.store_bp + rates.guide_bp + rates.level1_bp + rates.level2_bp
    if total > BASIS_POINTS:
        raise CommissionRulesOver100(
            f"The rates add up to {total} basis points; at most {BASIS_POINTS} (100 %)",
            total_bp=total,
        )


def is_distributor_role(role: str) -> bool:
    return role in (Role.SHARER, Role.UPSTREAM_SHARER)


def commission_for(amount_fen: int, rate_bp: int, cap_fen: int | None = None) -> int:
    """What a credit of ``amount_fen`` earns at ``rate_bp`` (half up), at most ``cap_fen``."""
    earned = apply_basis_points(max(amount_fen, 0), rate_bp)
    return earned if cap_fen is None else min(earned, cap_fen)


def clawback_due(earned_fen: int, paid_fen: int, refunded_fen: int) -> int:
    """How much of an earning is given back once ``refunded_fen`` of ``paid_fen`` has been
    refunded in total: ``earned × refunded / paid`` rounded half up, within [0, earned]."""
    if earned_fen <= 0 or paid_fen <= 0 or refunded_fen <= 0:
        return 0
    if refunded_fen >= paid_fen:
        return earned_fen
    q, r = divmod(earned_fen * refunded_fen, paid_fen)
    return min(q + (1 if 2 * r >= paid_fen else 0), earned_fen)
