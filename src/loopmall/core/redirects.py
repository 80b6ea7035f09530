"""One rule for redirecting to a target the request supplied (``next``, ``back``, a return
path): only a path on this site, else a default.

A browser reads more than a plain ``/path`` as "this site": ``//evil.example`` and
``///evil.example`` are another host (scheme-relative), ``/\\evil.example`` and
``\\\\evil.example`` too (a backslash counts as a slash in http(s) URLs), and a tab or
newline is dropped before the URL is read (``/\\t/evil.example`` → ``//evil.example``).
So a target is accepted only when it starts with exactly one ``/`` followed by something
other than ``/`` or ``\\``, holds no backslash, no control character and no whitespace,
and, when ``within`` is given, starts with that prefix (e.g. ``/m/acme/`` keeps a
shopper inside the mall they logged in to).
"""

from __future__ import annotations

import unicodedata

MAX_TARGET = 2000  # longer than any path we build; a longer one is not ours
# Control and format characters (C0, DEL, C1, zero-width and direction marks) and every
# kind of space: a browser drops or rewrites them, and none is in a path we build.
_REFUSED = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def is_safe_path(target: str, within: str = "/") -> bool:
    """Whether ``target`` is a same-site path (under ``within``) a redirect may go to."""
    if not target or len(target) > MAX_TARGET or not target.startswith(within):
        return False
    if not target.startswith("/") or target[1:2] in ("/", "\\"):
        return False
    return not any(ch == "\\" or unicodedata.category(ch) in _REFUSED for ch in target)


def safe_path(target: str | None, default: str, *, within: str = "/") -> str:
    """``target`` if it is a same-site path under ``within`` (:func:`is_safe_path`), else
    ``default`` (which the caller builds, so it is trusted)."""
    if target and is_safe_path(target, within):
        return target
    return default
