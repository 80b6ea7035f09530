"""Printable posters of a QR channel: A4 or A5, PNG or PDF, drawn with Pillow — the
merchant's logo, a title, a few lines of text, the QR code and what it is for.

Chinese is drawn with the CJK font ``web.fonts`` finds on the system; without one the
poster is still made with Pillow's own font (CJK characters then draw as boxes).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum

import segno
from PIL import Image, ImageDraw

from loopmall.web.fonts import font

DPI = 150


class PaperSize(StrEnum):
    A4 = "a4"
    A5 = "a5"


class PosterFormat(StrEnum):
    PNG = "png"
    PDF = "pdf"


# Pixels at 150 dpi (A4 210 × 297 mm, A5 148 × 210 mm).
PIXELS = {PaperSize.A4: (1240, 1754), PaperSize.A5: (874, 1240)}


@dataclass(frozen=True)
class PosterContent:
    url: str  # what the QR code holds
    title: str
    text: str
    caption: str  # what the code is for: the store, guide, product or placement
    mall_name: str
    logo: bytes | None = None
    color: str = "#1f2937"


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: object, width: int) -> list[str]:
    """Lines of ``text`` no wider than ``width``: break at spaces where there are some,
    between any two characters otherwise (Chinese has no spaces)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for char in paragraph:
            trial = line + char
            if line and draw.textlength(trial, font=font) > width:  # type: ignore[arg-type]
                cut = line.rfind(" ")
                if char != " " and cut > 0:
                    lines.append(line[:cut])
                    line = line[cut + 1 :] + char
                else:
                    lines.append(line)
                    line = char.lstrip()
            else:
                line = trial
        lines.append(line)
    return lines


def _color(value: str) -> str:
    ok = len(value) == 7 and value.startswith("#")
    return value if ok and all(c in "0123456789abcdefABCDEF" for c in value[1:]) else "#1f2937"


def _centered(
    draw: ImageDraw.ImageDraw, y: int, text: str, font: object, page_w: int, fill: str
) -> None:
    w = draw.textlength(text, font=font)  # type: ignore[arg-type]
    draw.text(((page_w - w) / 2, y), text, font=font, fill=fill)  # type: ignore[arg-type]


def render_poster(
    content: PosterContent,
    size: PaperSize | str = PaperSize.A4,
    fmt: PosterFormat | str = PosterFormat.PNG,
) -> bytes:
    """The poster as PNG or PDF bytes."""
    paper, out_format = PaperSize(size), PosterFormat(fmt)
    page_w, page_h = PIXELS[paper]
    unit = page_w / 1240  # everything below is laid out for A4 and scaled
    color = _color(content.color)
    page = Image.new("RGB", (page_w, page_h), "white")
    draw = ImageDraw.Draw(page)
    margin = int(90 * unit)
    draw.rectangle((0, 0, page_w, int(24 * unit)), fill=color)
    y = int(90 * unit)
    if content.logo:
        try:
            logo = Image.open(io.BytesIO(content.logo)).convert("RGBA")
            logo.thumbnail((int(420 * unit), int(180 * unit)))
            page.paste(logo, ((page_w - logo.width) // 2, y), logo)
            y += logo.height + int(50 * unit)
        except (OSError, ValueError, Image.DecompressionBombError):
            pass  # an unreadable logo leaves the poster without one
    title_font = font(int(84 * unit))
    for line in _wrap(draw, content.title or content.mall_name, title_font, page_w - 2 * margin)[
        :2
    ]:
        _centered(draw, y, line, title_font, page_w, color)
        y += int(110 * unit)
    text_font = font(int(42 * unit))
    for line in _wrap(draw, content.text, text_font, page_w - 2 * margin)[:4]:
        _centered(draw, y, line, text_font, page_w, "#374151")
        y += int(60 * unit)
    y += int(30 * unit)
    qr_side = int(640 * unit)
    qr = segno.make(content.url, error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=max(1, qr_side // qr.symbol_size(border=2)[0]), border=2)
    code = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    code = code.resize((qr_side, qr_side), Image.Resampling.NEAREST)
    space = page_h - int(200 * unit) - y
    if space < qr_side:  # long text: shrink the code rather than run off the page
        code = code.resize((max(space, 200), max(space, 200)), Image.Resampling.NEAREST)
    page.paste(code, ((page_w - code.width) // 2, y))
    y += code.height + int(30 * unit)
    caption_font = font(int(40 * unit))
    if content.caption:
        _centered(draw, y, content.caption[:40], caption_font, page_w, "#111827")
        y += int(60 * unit)
    _centered(draw, page_h - int(90 * unit), content.mall_name[:40], caption_font, page_w, color)
    out = io.BytesIO()
    if out_format is PosterFormat.PDF:
        page.save(out, format="PDF", resolution=DPI)
    else:
        page.save(out, format="PNG")
    return out.getvalue()
