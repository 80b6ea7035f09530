"""Product pictures for the demo world, drawn with Pillow (no stock photos to ship)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

SIZE = 480

# Outlines on a 0–100 grid, by category: enough to tell a dress from trousers at a glance.
_SHAPES: dict[str, list[tuple[int, int]]] = {
    "dress": [(38, 12), (62, 12), (66, 30), (60, 40), (80, 88), (20, 88), (40, 40), (34, 30)],
    "top": [
        (30, 18),
        (42, 14),
        (58, 14),
        (70, 18),
        (86, 34),
        (76, 42),
        (70, 36),
        (70, 86),
        (30, 86),
        (30, 36),
        (24, 42),
        (14, 34),
    ],
    "trousers": [(30, 12), (70, 12), (76, 88), (58, 88), (50, 36), (42, 88), (24, 88)],
    "coat": [(30, 14), (42, 10), (58, 10), (70, 14), (84, 40), (78, 90), (22, 90), (16, 40)],
    "skirt": [(36, 26), (64, 26), (80, 80), (20, 80)],
}
_CATEGORY_SHAPE = {
    "连衣裙": "dress",
    "T恤": "top",
    "衬衫": "top",
    "针织衫": "top",
    "牛仔裤": "trousers",
    "西装": "coat",
    "外套": "coat",
    "半身裙": "skirt",
}


def product_picture(rgb: tuple[int, int, int], category: str) -> bytes:
    """A square PNG: the garment's outline filled with its colour on a light background."""
    image = Image.new("RGB", (SIZE, SIZE), (246, 244, 240))
    draw = ImageDraw.Draw(image)
    shape = _SHAPES[_CATEGORY_SHAPE.get(category, "top")]
    scale = SIZE / 100
    points = [(x * scale, y * scale) for x, y in shape]
    draw.polygon(points, fill=rgb, outline=(120, 120, 120))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
