"""The pickup code as a QR image the store's scanner reads (segno, inline SVG)."""

from __future__ import annotations

from markupsafe import Markup


def pickup_qr_svg(code: str) -> Markup | None:
    """An inline ``<svg>`` of the QR code for ``code``, or None when segno is missing."""
    try:
        import segno
    except ImportError:  # pragma: no cover - segno is a dependency; the page shows digits
        return None
    qr = segno.make(code, error="m", micro=False)
    svg = qr.svg_inline(scale=6, border=2, dark="#111", light="#fff")
    # segno writes the whole SVG itself from the code's modules: no user text reaches it.
    return Markup(svg)  # noqa: S704
