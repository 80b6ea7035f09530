"""Share tokens (pure): a token names its share; any edit of the id or the signature, or
another secret, is refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopmall.core.ids import new_public_id
from loopmall.social import links

SECRET = "test-secret"
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
public_ids = st.text(ALPHABET, min_size=16, max_size=16).map(lambda s: f"sh_{s}")


@settings(max_examples=200, deadline=None)
@given(public_ids)
def test_a_token_names_its_share(public_id: str) -> None:
    assert links.unsign(SECRET, links.sign(SECRET, public_id)) == public_id


@settings(max_examples=300, deadline=None)
@given(public_ids, st.data())
def test_any_one_character_edit_is_refused(public_id: str, data: st.DataObject) -> None:
    token = links.sign(SECRET, public_id)
    at = data.draw(st.integers(0, len(token) - 1))
    swap = data.draw(st.sampled_from("0123456789abcdefghjkmnpqrstvwxyzABCXYZ_-."))
    edited = token[:at] + swap + token[at + 1 :]
    if edited == token:
        return
    with pytest.raises(links.ShareLinkInvalid):
        links.unsign(SECRET, edited)


@settings(max_examples=100, deadline=None)
@given(public_ids, st.text(min_size=1, max_size=40))
def test_another_secret_never_verifies(public_id: str, other: str) -> None:
    if other == SECRET:
        return
    with pytest.raises(links.ShareLinkInvalid):
        links.unsign(SECRET, links.sign(other, public_id))


def test_real_public_ids_and_malformed_tokens() -> None:
    public_id = new_public_id("sh")
    assert links.unsign(SECRET, links.sign(SECRET, public_id)) == public_id
    for bad in ("", ".", "sh_x.y", public_id, f"{public_id}.", "x" * 80, f"{public_id}.{'A' * 22}"):
        with pytest.raises(links.ShareLinkInvalid):
            links.unsign(SECRET, bad)
