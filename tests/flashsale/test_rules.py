"""Sale tokens and the rules of a sale, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopmall.flashsale.rules import (
    TICKET_MOVES,
    IllegalTicketTransition,
    Phase,
    TicketStatus,
    TokenInvalid,
    check_ticket_move,
    phase_at,
)
from loopmall.flashsale.tokens import issue_token, verify_token

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_a_token_names_its_customer_and_sale_once_signed() -> None:
    token = issue_token("s3cret", sale_id=7, customer_id=42, now=NOW, ttl_seconds=60)
    claims = verify_token("s3cret", token, sale_id=7, now=NOW + timedelta(seconds=59))
    assert (claims.sale_id, claims.customer_id, len(claims.nonce)) == (7, 42, 24)
    assert claims.expires_at == NOW + timedelta(seconds=60)
    other = issue_token("s3cret", sale_id=7, customer_id=42, now=NOW)
    assert verify_token("s3cret", other, sale_id=7, now=NOW).nonce != claims.nonce

    body, _, signature = token.rpartition(".")
    parts = body.split(".")
    someone_else = ".".join([*parts[:2], "43", *parts[3:]])
    refused = [
        ("s3cret", token, 8, NOW),  # another sale
        ("s3cret", token, 7, NOW + timedelta(seconds=60)),  # expired
        ("other", token, 7, NOW),  # another secret
        ("s3cret", f"{someone_else}.{signature}", 7, NOW),  # another customer, same MAC
        ("s3cret", "", 7, NOW),
        ("s3cret", "1.2.3", 7, NOW),
        ("s3cret", "x" * 300, 7, NOW),
    ]
    for secret, candidate, sale, at in refused:
        with pytest.raises(TokenInvalid):
            verify_token(secret, candidate, sale_id=sale, now=at)


@given(st.text(max_size=120))
def test_garbage_is_never_a_token(text: str) -> None:
    with pytest.raises(TokenInvalid):
        verify_token("s3cret", text, sale_id=1, now=NOW)


def test_a_sale_moves_through_its_phases() -> None:
    times = {
        "reserve_from": NOW,
        "reserve_until": NOW + timedelta(days=6),
        "starts_at": NOW + timedelta(days=6, hours=1),
        "ends_at": NOW + timedelta(days=6, hours=2),
    }
    at = [
        (NOW - timedelta(seconds=1), Phase.UPCOMING),
        (NOW, Phase.RESERVING),
        (NOW + timedelta(days=6), Phase.WAITING),
        (NOW + timedelta(days=6, hours=1), Phase.LIVE),
        (NOW + timedelta(days=6, hours=2), Phase.ENDED),
    ]
    for when, expected in at:
        assert phase_at(when, status="active", **times) is expected
    assert phase_at(NOW, status="cancelled", **times) is Phase.CANCELLED


def test_tickets_move_only_as_the_table_says() -> None:
    for current in TicketStatus:
        for target in TicketStatus:
            if (current, target) in TICKET_MOVES:
                check_ticket_move(current, target)
            else:
                with pytest.raises(IllegalTicketTransition):
                    check_ticket_move(current, target)
    assert (TicketStatus.LAPSED, TicketStatus.ORDERED) not in TICKET_MOVES
