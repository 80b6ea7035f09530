"""Fonts for the pictures we draw (QR posters, share posters): Chinese needs a CJK font.

The first CJK font found on the usual system paths is used (Noto CJK, WenQuanYi, Droid
fallback, PingFang, Microsoft YaHei); without one, Pillow's own font, so that a poster is
still made (CJK characters then draw as boxes) rather than failing.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    """The first CJK font found on this system, or None."""
    for candidate in CJK_FONTS:
        if Path(candidate).is_file():
            return candidate
    return None


@lru_cache(maxsize=64)
def _load(path: str | None, size: int) -> Font:
    if path is not None:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass
    return ImageFont.load_default(size=size)


def font(size: int) -> Font:
    """A font of ``size`` pixels that draws Chinese where the system has a CJK font."""
    return _load(cjk_font_path(), size)
