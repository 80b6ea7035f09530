"""QR pictures (segno): one drawing for every domain that prints a code — 收款码, QR
channels and their posters."""

from __future__ import annotations

import io
from functools import lru_cache

import segno


def qr_png(content: str, *, scale: int = 8) -> bytes:
    out = io.BytesIO()
    segno.make(content, error="m").save(out, kind="png", scale=scale, border=2)
    return out.getvalue()


# A code's picture never changes, and drawing one costs ~40 ms of pure-Python CPU: the
# list page draws its page of cards off the event loop and keeps the last few hundred.
@lru_cache(maxsize=512)
def qr_svg(content: str, *, scale: int = 8) -> bytes:
    out = io.BytesIO()
    segno.make(content, error="m").save(out, kind="svg", scale=scale, border=2, xmldecl=False)
    return out.getvalue()


def qr_data_uri(content: str, *, scale: int = 6) -> str:
    return str(segno.make(content, error="m").png_data_uri(scale=scale, border=2))
