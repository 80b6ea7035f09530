"""Uploaded images: proven to be PNG, JPEG, WebP or GIF by decoding them, then stored.

The file name and the declared content type are the sender's claims; Pillow reading the
image is the proof. A file that is too large is refused before it is decoded, and so is
an image whose pixel count would take too much memory to open (a "decompression bomb").
Files go under ``<upload_dir>/<merchant public id>/`` with a random name, and are served
at ``/uploads/<merchant public id>/<name>``.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from loopmall.core.errors import PayloadTooLarge, UnsupportedMediaType
from loopmall.core.ids import new_token

FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}
MAX_PIXELS = 40_000_000


class UploadTooLarge(PayloadTooLarge):
    code = "upload_too_large"
    title = "The upload is too large"
    message = "The file is over %(max_bytes)s bytes"


class NotAnImage(UnsupportedMediaType):
    code = "not_an_image"
    title = "This is not a PNG, JPEG, WebP or GIF image"


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str
    extension: str
    width: int
    height: int


def check_image(data: bytes, *, max_bytes: int) -> ImageInfo:
    """Prove ``data`` is a PNG/JPEG/WebP/GIF image of at most ``max_bytes``.

    Raises ``UploadTooLarge`` (413) and ``NotAnImage`` (415).
    """
    if len(data) > max_bytes:
        raise UploadTooLarge(
            f"The file has {len(data)} bytes; at most {max_bytes} are accepted",
            max_bytes=max_bytes,
        )
    if not data:
        raise NotAnImage("The file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format or ""
                width, height = image.size
                if kind not in FORMATS:
                    raise NotAnImage(f"{kind or 'This'} images are not accepted")
                if width * height > MAX_PIXELS:
                    raise NotAnImage("The image has too many pixels")
                image.verify()
    except NotAnImage:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ):
        raise NotAnImage() from None
    return ImageInfo(kind, FORMATS[kind], width, height)


def save_upload(upload_dir: Path, owner: str, data: bytes, info: ImageInfo, prefix: str) -> str:
    """Write the image under ``upload_dir/owner/`` with a random name; returns the path
    relative to ``upload_dir`` (what ``/uploads/`` serves)."""
    folder = upload_dir / owner
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{prefix}-{new_token(12)}.{info.extension}"
    (folder / name).write_bytes(data)
    return f"{owner}/{name}"


def remove_upload(upload_dir: Path, relative: str | None) -> None:
    """Delete a stored upload, if it is still there and really under ``upload_dir``."""
    if not relative:
        return
    root = upload_dir.resolve()
    target = (upload_dir / relative).resolve()
    if target.is_relative_to(root) and target.is_file():
        target.unlink()


def upload_url(relative: str | None) -> str | None:
    return f"/uploads/{relative}" if relative else None
