"""Chinese first, English second: Babel catalogs, chosen per request.

The language comes from ``?lang=`` (remembered in the ``lm_lang`` cookie), else the cookie,
else ``Accept-Language``, else Chinese. Messages are written in English in the templates
and translated from ``translations/<locale>/LC_MESSAGES/messages.po``; the ``.po`` files are
read at start-up (no compile step), so what is in git is what runs.
"""

from __future__ import annotations

from functools import lru_cache
from gettext import NullTranslations
from pathlib import Path

from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.requests import Request

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
LOCALES = ("zh_Hans", "en")
DEFAULT_LOCALE = "zh_Hans"
LANG_COOKIE = "lm_lang"

_ALIASES = {
    "zh": "zh_Hans",
    "zh-cn": "zh_Hans",
    "zh-hans": "zh_Hans",
    "zh_hans": "zh_Hans",
    "zh-sg": "zh_Hans",
    "en": "en",
    "en-us": "en",
    "en-gb": "en",
}


def normalize(tag: str | None) -> str | None:
    if not tag:
        return None
    tag = tag.strip().lower()
    if tag in _ALIASES:
        return _ALIASES[tag]
    return _ALIASES.get(tag.split("-")[0])


def from_accept_language(header: str) -> str | None:
    choices: list[tuple[float, str]] = []
    for part in header.split(","):
        bits = part.strip().split(";q=")
        q = 1.0
        if len(bits) == 2:
            try:
                q = float(bits[1])
            except ValueError:
                q = 0.0
        locale = normalize(bits[0])
        if locale:
            choices.append((q, locale))
    choices.sort(key=lambda c: -c[0])
    return choices[0][1] if choices else None


def pick_locale(request: Request) -> str:
    return (
        normalize(request.query_params.get("lang"))
        or normalize(request.cookies.get(LANG_COOKIE))
        or from_accept_language(request.headers.get("accept-language", ""))
        or DEFAULT_LOCALE
    )


def asks_for_chinese(request: Request) -> bool:
    """Whether the request chose Chinese itself (``?lang=``, the cookie, Accept-Language),
    not by default: a problem's detail is translated for a browser, while an API client
    that names no language keeps the English it always had."""
    chosen = (
        normalize(request.query_params.get("lang"))
        or normalize(request.cookies.get(LANG_COOKIE))
        or from_accept_language(request.headers.get("accept-language", ""))
    )
    return chosen == "zh_Hans"


def catalog_files(locale: str) -> list[Path]:
    """Every domain keeps its own catalog, ``translations/<locale>/<domain>.po``."""
    folder = TRANSLATIONS_DIR / locale
    return sorted(folder.glob("*.po")) if folder.exists() else []


@lru_cache
def translations(locale: str) -> NullTranslations:
    files = catalog_files(locale)
    if not files:
        return NullTranslations()
    t = Translations()
    for po in files:
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=locale.replace("_Hans", ""))
        for message in catalog:
            if not message.id or not message.string or message.fuzzy:
                continue
            if isinstance(message.id, str) and isinstance(message.string, str):
                t._catalog[message.id] = message.string
            elif isinstance(message.id, tuple | list):
                for i, text in enumerate(message.string):
                    t._catalog[(str(message.id[0]), i)] = str(text)
    return t


def gettext(locale: str, message: str) -> str:
    return translations(locale).gettext(message)
