"""Posters are drawn whatever the system has: with or without a CJK font, with a logo,
with an unreadable logo, with text too long for the page."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from loopmall.o2o.posters import PosterContent, render_poster
from loopmall.web import fonts

CONTENT = PosterContent(
    url="http://127.0.0.1:8000/q/abcdefghjkmn",
    title="扫码进店 领新人礼",
    text="西单店 · 冬季新品上市\n会员专享价",
    caption="西单店",
    mall_name="VERO 微商城",
    color="#c8102e",
)


def _logo() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (600, 200), (200, 16, 46, 255)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(("size", "pixels"), [("a4", (1240, 1754)), ("a5", (874, 1240))])
def test_png_poster_has_the_paper_size(size: str, pixels: tuple[int, int]) -> None:
    image = Image.open(io.BytesIO(render_poster(CONTENT, size, "png")))
    assert image.size == pixels
    # the brand colour bar at the top
    assert image.convert("RGB").getpixel((pixels[0] // 2, 2)) == (200, 16, 46)


def test_pdf_poster() -> None:
    data = render_poster(CONTENT, "a4", "pdf")
    assert data.startswith(b"%PDF") and b"/MediaBox" in data


def test_logo_is_drawn_and_a_broken_one_is_left_out() -> None:
    plain = Image.open(io.BytesIO(render_poster(CONTENT))).convert("RGB")
    with_logo = Image.open(
        io.BytesIO(render_poster(PosterContent(**{**CONTENT.__dict__, "logo": _logo()})))
    ).convert("RGB")
    # the logo sits centred under the bar
    assert with_logo.getpixel((620, 120)) == (200, 16, 46)
    assert plain.getpixel((620, 120)) != (200, 16, 46)
    broken = PosterContent(**{**CONTENT.__dict__, "logo": b"not an image"})
    assert Image.open(io.BytesIO(render_poster(broken))).size == (1240, 1754)


def test_without_a_cjk_font_the_poster_is_still_made(monkeypatch: pytest.MonkeyPatch) -> None:
    fonts.cjk_font_path.cache_clear()
    monkeypatch.setattr(fonts, "CJK_FONTS", ("/nonexistent/font.ttc",))
    try:
        assert fonts.cjk_font_path() is None
        long_text = "很长的文字" * 200
        data = render_poster(PosterContent(**{**CONTENT.__dict__, "text": long_text}), "a5")
        assert Image.open(io.BytesIO(data)).size == (874, 1240)
    finally:
        fonts.cjk_font_path.cache_clear()


def test_a_bad_colour_falls_back() -> None:
    odd = PosterContent(**{**CONTENT.__dict__, "color": "red; drop"})
    image = Image.open(io.BytesIO(render_poster(odd))).convert("RGB")
    assert image.getpixel((620, 2)) == (31, 41, 55)  # #1f2937
