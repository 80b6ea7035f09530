"""Text from outside: one rule, one error (issue #11 case 7, review #12).

Text that arrives from outside — JSON bodies, form posts, query parameters, path segments,
cells of an imported sheet — may not contain:

* C0 control characters (U+0000–U+001F): NUL above all, which PostgreSQL refuses in text
  (a 500 there, silently accepted on SQLite). TAB, LF and CR are allowed only in multi-line
  fields (notes, addresses, messages, descriptions);
* DEL (U+007F) and the C1 controls (U+0080–U+009F);
* lone surrogates (U+D800–U+DFFF): not characters at all; UTF-8 cannot encode them;
* the invisibles that make text show other than it is or that carry nothing: the bidi
  embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069; "Trojan Source" names
  in a console or an export), ZERO WIDTH SPACE (U+200B), WORD JOINER (U+2060), the BOM /
  ZERO WIDTH NO-BREAK SPACE (U+FEFF) and the noncharacters U+FFFE and U+FFFF.

Such text is **refused, never stripped**: 422 ``application/problem+json`` with code
``invalid_text`` naming the field. Refusing is the one behaviour everywhere because stripping
silently changes what a person or a partner sent (a signed body, an idempotent request, a
login that then matches another) and hides the mistake from the sender. ZERO WIDTH JOINER
and NON-JOINER (U+200D, U+200C), the variation selectors and LRM/RLM (U+200E, U+200F) are
kept: emoji sequences and several scripts need them, and they cannot reorder text.

Use the annotated types in request models (``PlainText`` for one line, ``MultilineText``
for notes and messages), :func:`check_text` in services and page handlers that read text
themselves, and :func:`first_invalid` where a caller needs only a yes or no.
"""

from __future__ import annotations

import base64
import re
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from loopmall.core.errors import ValidationFailed

# The invisibles refused everywhere (see the module docstring for which and why).
_INVISIBLE = "\u200b\u2060\ufeff\u202a-\u202e\u2066-\u2069\ufffe\uffff"
_SINGLE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f\ud800-\udfff{_INVISIBLE}]")
_MULTI_LINE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff{_INVISIBLE}]")

INVALID_TEXT = "invalid_text"


class InvalidText(ValidationFailed):
    """Text with a character the rule refuses; ``field`` names where it was."""

    code = INVALID_TEXT
    title = "The text contains characters that are not allowed"

    def __init__(self, field: str, char: str | None = None) -> None:
        what = f"U+{ord(char):04X}" if char is not None else "a control character"
        super().__init__(
            f"{field}: must not contain control or invisible characters ({what})", field=field
        )


def first_invalid(value: str, *, multiline: bool = False) -> str | None:
    """The first character of ``value`` the rule refuses, or ``None`` when it is clean."""
    found = (_MULTI_LINE if multiline else _SINGLE_LINE).search(value)
    return found.group() if found else None


def is_clean(value: str, *, multiline: bool = False) -> bool:
    return first_invalid(value, multiline=multiline) is None


def check_text(value: str, *, field: str, multiline: bool = False) -> str:
    """``value`` unchanged, or :class:`InvalidText` (422 ``invalid_text``) naming ``field``."""
    char = first_invalid(value, multiline=multiline)
    if char is not None:
        raise InvalidText(field, char)
    return value


def describe(char: str) -> str:
    return f"must not contain control or invisible characters (U+{ord(char):04X})"


def _refuse_in_model(value: str, *, multiline: bool) -> str:
    char = first_invalid(value, multiline=multiline)
    if char is not None:
        # The error's type is the problem code: the app's validation handler answers
        # ``invalid_text`` when a request fails on it.
        raise PydanticCustomError(INVALID_TEXT, describe(char))
    return value


def single_line(value: str) -> str:
    """The rule as a Pydantic validator (``field_validator`` bodies may call it)."""
    return _refuse_in_model(value, multiline=False)


def multi_line(value: str) -> str:
    """The multi-line rule as a Pydantic validator."""
    return _refuse_in_model(value, multiline=True)


# The rule as Pydantic metadata, for types that also strip or bound the text: put it after
# ``StringConstraints`` so that what is checked is what is kept.
SINGLE_LINE_RULE = AfterValidator(single_line)
MULTI_LINE_RULE = AfterValidator(multi_line)

PlainText = Annotated[str, SINGLE_LINE_RULE]
"""One line of text: no control characters at all (and none of the refused invisibles)."""

MultilineText = Annotated[str, MULTI_LINE_RULE]
"""Notes, addresses, messages: TAB, LF and CR allowed; nothing else the rule refuses."""


# Raw bodies kept as evidence (payment callbacks, pushed messages, gateway answers): they
# are recorded before they are judged, so the rule above cannot refuse them. Clean UTF-8
# text is kept as it came; anything else — bytes that are not UTF-8, or text the rule
# refuses, NUL above all (PostgreSQL would refuse the whole record) — is kept as base64
# behind a prefix. Clean text that itself starts with the prefix is encoded as well, so
# the stored form always says which it is.
RAW_PREFIX = "base64:"


def storable(raw: bytes) -> str:
    """``raw`` as text any database stores; :func:`original` gives the bytes back."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and is_clean(text, multiline=True) and not text.startswith(RAW_PREFIX):
        return text
    return RAW_PREFIX + base64.b64encode(raw).decode("ascii")


def original(stored: str) -> bytes:
    """The bytes :func:`storable` kept."""
    if stored.startswith(RAW_PREFIX):
        return base64.b64decode(stored[len(RAW_PREFIX) :])
    return stored.encode("utf-8")


def escaped(text: str, *, multiline: bool = False) -> str:
    """``text`` written down by us about outside input (a reason, a log line): every
    character the rule refuses shown as its ``\\uXXXX`` escape, the rest unchanged
    (``multiline``: line breaks and tabs kept, as in a traceback)."""
    rule = _MULTI_LINE if multiline else _SINGLE_LINE
    return rule.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
