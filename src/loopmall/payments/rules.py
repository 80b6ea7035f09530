"""The rules of payments in one place: states and their allowed moves, outcomes, errors."""

from __future__ import annotations

import secrets
from enum import StrEnum

from loopmall.core.errors import Conflict, NotFound, ValidationFailed
from loopmall.core.transitions import Transitions


class PaymentState(StrEnum):
    CREATED = "created"  # our row exists; the provider has not answered the start yet
    PENDING = "pending"  # the provider has the trade; the customer has not paid
    FAILED = "failed"  # the provider refused to start it
    CLOSED = "closed"  # closed at the provider (order cancelled, superseded)
    SUCCEEDED = "succeeded"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


P = PaymentState
# CONVENTIONS rule 7. A payment that a provider reports as paid is never lost: even a
# closed or failed attempt can still become succeeded (the customer paid while we closed
# it, or our start timed out after the provider took it) — and is then refunded if its
# order no longer wants the money.
PAYMENTS: Transitions[PaymentState] = Transitions(
    "payment",
    {
        P.CREATED: {P.PENDING, P.FAILED, P.CLOSED, P.SUCCEEDED},
        P.PENDING: {P.CLOSED, P.SUCCEEDED, P.FAILED},
        P.FAILED: {P.SUCCEEDED},
        P.CLOSED: {P.SUCCEEDED},
        P.SUCCEEDED: {P.PARTIALLY_REFUNDED, P.REFUNDED},
        P.PARTIALLY_REFUNDED: {P.PARTIALLY_REFUNDED, P.REFUNDED},
    },
)
PAYMENT_MOVES = PAYMENTS.moves
check_move = PAYMENTS.check
PAID_STATES = frozenset({P.SUCCEEDED, P.PARTIALLY_REFUNDED, P.REFUNDED})
OPEN_STATES = frozenset({P.CREATED, P.PENDING})


class RefundState(StrEnum):
    REQUESTED = "requested"  # recorded; the outbox will send it to the provider
    PROCESSING = "processing"  # the provider accepted it and will confirm
    SUCCEEDED = "succeeded"
    FAILED = "failed"


R = RefundState
REFUNDS: Transitions[RefundState] = Transitions(
    "refund",
    {
        R.REQUESTED: {R.PROCESSING, R.SUCCEEDED, R.FAILED},
        R.PROCESSING: {R.SUCCEEDED, R.FAILED},
    },
)
REFUND_MOVES = REFUNDS.moves
check_refund_move = REFUNDS.check


class Outcome(StrEnum):
    """What a callback (or a query result applied like one) did; kept on its record."""

    PAID = "paid"  # the order is paid by this payment
    DUPLICATE = "duplicate"  # this payment was already applied: nothing changed
    REFUNDED_CANCELLED = "refunded_cancelled"  # paid after the order was cancelled: refunded
    REFUNDED_DOUBLE = "refunded_double"  # the order was already paid by another payment
    REFUNDED_MISMATCH = "refunded_mismatch"  # the order's total changed: refunded
    AMOUNT_MISMATCH = "amount_mismatch"  # the provider's amount is not ours: not applied
    UNKNOWN_TRADE = "unknown_trade"  # no such out_trade_no (yet): provider retries
    REJECTED = "rejected"  # verification failed: provider retries
    WRONG_ACCOUNT = "wrong_account"  # verified but for another merchant number/app
    IGNORED = "ignored"  # a state we do not act on (closed, other)
    CLOSED = "closed"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_FAILED = "refund_failed"
    REFUND_DUPLICATE = "refund_duplicate"
    UNKNOWN_REFUND = "unknown_refund"  # no such out_refund_no (yet): provider retries
    # The trade / refund number is another provider's or account's attempt: refused, nothing
    # settled (a verified report settles only what was made through its own account).
    FOREIGN_TRADE = "foreign_trade"
    FOREIGN_REFUND = "foreign_refund"


# Outcomes after which the provider must try again later (the HTTP answer says "failed").
RETRY_OUTCOMES = frozenset({Outcome.UNKNOWN_TRADE, Outcome.REJECTED, Outcome.UNKNOWN_REFUND})
# Outcomes answered "failed" too, with the reason kept on the record: refused, not applied.
REFUSED_OUTCOMES: dict[Outcome, str] = {
    Outcome.FOREIGN_TRADE: "the trade was made through another provider or account",
    Outcome.FOREIGN_REFUND: "the refund belongs to another provider or account",
}


_TRADE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_trade_no(prefix: str) -> str:
    """Our out_trade_no / out_refund_no: ``prefix`` + 24 random characters (≤ 32 in all,
    only characters both WeChat Pay and Alipay accept)."""
    return prefix + "".join(secrets.choice(_TRADE_ALPHABET) for _ in range(24))


def new_code() -> str:
    """The unguessable part of a payment code's URL (120 bits)."""
    return secrets.token_urlsafe(15)


class NoPaymentAccount(NotFound):
    code = "payment_account_missing"
    title = "The merchant has no active account for this way of paying"
    message = "No active %(provider)s account"


class OrderNotPayable(Conflict):
    code = "order_not_payable"
    title = "This order cannot be paid now"


class PaymentStartFailed(Conflict):
    code = "payment_start_failed"
    title = "The payment provider refused to start the payment"


class RefundNotAllowed(Conflict):
    code = "refund_not_allowed"
    title = "This refund is not possible"
    message = "¥%(refundable_yuan)s can still be refunded"


class MethodUnavailable(ValidationFailed):
    code = "payment_method_unavailable"
    title = "This way of paying is not available here"


class PaymentCodeNotFound(NotFound):
    code = "payment_code_not_found"
    title = "No such payment code"
