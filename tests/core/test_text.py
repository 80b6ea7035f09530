"""The one rule for text from outside (core.text)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from loopmall.core.text import (
    InvalidText,
    MultilineText,
    PlainText,
    check_text,
    first_invalid,
)

REFUSED_EVERYWHERE = [
    "\x00",
    "\x01",
    "\x1b",
    "\x1f",
    "\x7f",
    "\x85",
    "\x9f",
    "\ud800",
    "\udfff",
    "\u200b",
    "\u2060",
    "\ufeff",
    "\u202e",
    "\u2066",
    "\uffff",
]
KEPT = ["张三", "a b", "👨\u200d👩\u200d👧", "❤\ufe0f", "x\u200cy", "\u200ex", "¥12", "\u3000"]


class Form(BaseModel):
    name: PlainText
    note: MultilineText = ""


@pytest.mark.parametrize("char", REFUSED_EVERYWHERE)
def test_refused_in_single_and_multi_line(char: str) -> None:
    assert first_invalid(f"a{char}b") == char
    assert first_invalid(f"a{char}b", multiline=True) == char
    with pytest.raises(ValidationError) as raised:
        Form(name=f"a{char}b")
    assert raised.value.errors()[0]["type"] == "invalid_text"
    with pytest.raises(ValidationError):
        Form(name="ok", note=f"a{char}b")


@pytest.mark.parametrize("char", ["\t", "\n", "\r"])
def test_line_breaks_only_in_multi_line(char: str) -> None:
    assert Form(name="ok", note=f"a{char}b").note == f"a{char}b"
    with pytest.raises(ValidationError) as raised:
        Form(name=f"a{char}b")
    assert raised.value.errors()[0]["loc"] == ("name",)


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_text_is_kept_unchanged(text: str) -> None:
    assert Form(name=text, note=text) == Form.model_construct(name=text, note=text)
    assert check_text(text, field="name") == text


def test_check_text_names_the_field() -> None:
    with pytest.raises(InvalidText) as raised:
        check_text("a\x00", field="nickname")
    problem = raised.value.to_problem()
    assert (problem["status"], problem["code"], problem["field"]) == (
        422,
        "invalid_text",
        "nickname",
    )
    assert "U+0000" in problem["detail"]
