"""Static assets with fingerprinted URLs, and how long a browser may keep what we serve.

Templates write ``{{ asset("mall.css") }}``, which is ``/static/mall.css?v=<fingerprint>``,
the fingerprint being the start of the file's SHA-256: a new deploy that changes the file
changes every page's URL for it. :class:`CachedFiles` serves ``/static`` (:func:`fingerprinted`):

* the current fingerprint → ``Cache-Control: public, max-age=31536000, immutable``;
* no fingerprint, or another one (a page rendered by a process of the last deploy, a
  hand-typed URL) → the current file with ``no-cache``: never a year of the wrong file
  under a URL, never a broken page, only a revalidation next time.

``/uploads`` (:func:`written_once`): merchants' images are written once under a new
random name (``catalog.images``, ``merchants.images``) and never rewritten, so a URL there
always names the same bytes and may be kept for a year too.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/static/"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
FINGERPRINT_CHARS = 12

# path → (mtime_ns, size, fingerprint): a file is hashed again only when it changed on
# disk (an edit while developing), at the price of one stat per lookup.
_fingerprints: dict[str, tuple[int, int, str]] = {}


def fingerprint(path: str | os.PathLike[str], stat: os.stat_result | None = None) -> str:
    """The fingerprint of a file's current content."""
    key = os.fspath(path)
    stat = stat or os.stat(key)
    known = _fingerprints.get(key)
    if known is not None and known[0] == stat.st_mtime_ns and known[1] == stat.st_size:
        return known[2]
    digest = hashlib.sha256(Path(key).read_bytes()).hexdigest()[:FINGERPRINT_CHARS]
    _fingerprints[key] = (stat.st_mtime_ns, stat.st_size, digest)
    return digest


# name → its file, checked once: resolving a path costs ~70 µs of system calls, a page
# names four to six assets, and the stat in fingerprint() is all a render needs.
_files: dict[str, str] = {}


def asset_url(name: str) -> str:
    """The fingerprinted URL of ``web/static/<name>``; ``FileNotFoundError`` for a file that
    is not there (a template naming a missing asset fails where it is rendered, in tests)."""
    path = _files.get(name)
    if path is None:
        resolved = (STATIC_DIR / name).resolve()
        if not resolved.is_relative_to(STATIC_DIR) or not resolved.is_file():
            raise FileNotFoundError(name)
        path = _files[name] = str(resolved)
    return f"{STATIC_PREFIX}{name}?v={fingerprint(path)}"


def _asked_fingerprint(scope: Scope) -> str:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v")
    return values[-1] if values else ""


# How long an answer for a file may be kept: (its path, its stat, the request) → Cache-Control.
Lifetime = Callable[[str, os.stat_result, Scope], str]


def fingerprinted(full_path: str, stat: os.stat_result, scope: Scope) -> str:
    """``/static``: a year for the current fingerprint, revalidation otherwise."""
    return IMMUTABLE if _asked_fingerprint(scope) == fingerprint(full_path, stat) else REVALIDATE


def written_once(_full_path: str, _stat: os.stat_result, _scope: Scope) -> str:
    """``/uploads``: written once under a random name, so kept for a year."""
    return IMMUTABLE


class CachedFiles(StaticFiles):
    """StaticFiles whose answers (and their 304s) say how long they may be kept."""

    def __init__(self, *, directory: str | os.PathLike[str], lifetime: Lifetime) -> None:
        super().__init__(directory=directory)
        self.lifetime = lifetime

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
        response.headers["cache-control"] = self.lifetime(os.fspath(full_path), stat_result, scope)
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response
