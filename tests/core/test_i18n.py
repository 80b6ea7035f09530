"""Chinese first: every message the pages show has a Chinese translation; language choice."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from starlette.requests import Request

from loopmall.web.i18n import from_accept_language, pick_locale, translations

SRC = Path(__file__).resolve().parents[2] / "src" / "loopmall"


def _messages() -> dict[str, str]:
    found: dict[str, str] = {}
    method_map = [
        ("**/templates/**.html", "jinja2.ext:babel_extract"),
        ("**/pages.py", "python"),
        ("**/pages/**.py", "python"),
    ]
    for filename, _lineno, message, _comments, _ctx in extract_from_dir(
        str(SRC), method_map=method_map, keywords={"_": None, "gettext": None}
    ):
        if isinstance(message, str) and message:
            found.setdefault(message, filename)
    return found


def test_every_page_message_has_a_chinese_translation() -> None:
    zh = translations("zh_Hans")
    messages = _messages()
    assert len(messages) > 10
    untranslated = sorted(
        f"{where}: {msg!r}" for msg, where in messages.items() if zh.gettext(msg) == msg
    )
    assert untranslated == []


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh_Hans"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR, en;q=0.5", "en"),
        ("", None),
        ("de", None),
    ],
)
def test_accept_language(header: str, locale: str | None) -> None:
    assert from_accept_language(header) == locale


def _request(query: bytes = b"", cookie: str = "", accept: str = "") -> Request:
    headers = []
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    if accept:
        headers.append((b"accept-language", accept.encode()))
    return Request({"type": "http", "query_string": query, "headers": headers})


def test_language_choice_order() -> None:
    assert pick_locale(_request()) == "zh_Hans"
    assert pick_locale(_request(accept="en")) == "en"
    assert pick_locale(_request(cookie="lm_lang=en", accept="zh-CN")) == "en"
    assert pick_locale(_request(query=b"lang=zh_Hans", cookie="lm_lang=en")) == "zh_Hans"


def test_no_message_is_translated_two_ways() -> None:
    """The domains' catalogs are merged into one: a msgid translated differently in two of
    them would show one domain the other's word (it happened: "Open" as 打开 vs 营业中)."""
    from babel.messages.pofile import read_po

    from loopmall.web.i18n import catalog_files

    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for po in catalog_files("zh_Hans"):
        with po.open("rb") as fh:
            for message in read_po(fh, locale="zh"):
                if not isinstance(message.id, str) or not message.id or not message.string:
                    continue
                first = seen.setdefault(message.id, (po.name, str(message.string)))
                if first[1] != message.string:
                    clashes.append(f"{message.id!r}: {first} vs {(po.name, message.string)}")
    assert clashes == []
