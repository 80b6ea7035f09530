"""Product images: checked by what they are (Pillow), not by their name; stored on disk under
``<upload dir>/<merchant public id>/products/`` and served from ``/uploads/``."""

from __future__ import annotations

import asyncio
import io
import secrets
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog import repository
from loopmall.catalog.errors import (
    ImageOrderMismatch,
    ImageTooManyPixels,
    NotAnImage,
    UploadTooLarge,
)
from loopmall.catalog.events import ProductEdited
from loopmall.catalog.models import Product, ProductImage
from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.ids import new_public_id
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant, scoped
from loopmall.merchants.models import Merchant

# Pillow format → (file extension, content type): the only kinds a product page shows.
FORMATS = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "WEBP": ("webp", "image/webp"),
    "GIF": ("gif", "image/gif"),
}
# A 5 MB file can still unpack into gigabytes of pixels; nothing on a phone needs more.
MAX_PIXELS = 25_000_000
URL_PREFIX = "/uploads/"


@dataclass(frozen=True, slots=True)
class ImageFacts:
    extension: str
    content_type: str
    width: int
    height: int
    size_bytes: int


def check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise UploadTooLarge(f"The file is over {max_bytes:,} bytes", max_bytes=max_bytes)


def inspect_image(data: bytes, max_bytes: int) -> ImageFacts:
    """What ``data`` is, if it is a whole PNG, JPEG, WebP or GIF image.

    Raises :class:`UploadTooLarge` (413) over ``max_bytes`` or :data:`MAX_PIXELS`, and
    :class:`NotAnImage` (415) for anything else, whatever the file was called.
    """
    check_size(len(data), max_bytes)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format or ""
            width, height = probe.size
            if kind not in FORMATS:
                raise NotAnImage(f"{kind or 'This file'} is not an accepted image type")
            if width * height > MAX_PIXELS:
                raise ImageTooManyPixels(
                    f"The image has more than {MAX_PIXELS:,} pixels", max_pixels=MAX_PIXELS
                )
            # verify() checks the container (PNG checksums…); it leaves the image unusable.
            probe.verify()
        # Decoding every pixel catches what verify() cannot see (a JPEG cut short).
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except Image.DecompressionBombError as exc:
        raise UploadTooLarge("The image has too many pixels", max_pixels=MAX_PIXELS) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise NotAnImage("The file is not a PNG, JPEG, WebP or GIF image") from exc
    extension, content_type = FORMATS[kind]
    return ImageFacts(extension, content_type, width, height, len(data))


def url_for(path: str) -> str:
    return URL_PREFIX + path


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # "xb": never overwrite; the name is random, so a clash means something is very wrong.
    with target.open("xb") as fh:
        fh.write(data)


def remove_file(upload_dir: Path, path: str) -> None:
    """Delete a stored image file (after the transaction that forgot it committed)."""
    target = (upload_dir / path).resolve()
    if upload_dir.resolve() in target.parents:
        target.unlink(missing_ok=True)


async def add_image(
    session: AsyncSession,
    tenant: Tenant,
    product_public_id: str,
    data: bytes,
    *,
    upload_dir: Path,
    max_bytes: int,
) -> ProductImage:
    """Check ``data`` (see :func:`inspect_image`), store it, and add it as the product's
    last image. NotFound for another merchant's product. The file is written before the
    row; if the transaction then fails, an unreferenced file is left, never a row without
    its file."""
    product = await repository.product_by_public_id(session, tenant, product_public_id)
    facts = await asyncio.to_thread(inspect_image, data, max_bytes)
    merchant_public_id = await session.scalar(
        select(Merchant.public_id).where(Merchant.id == tenant.id)
    )
    path = f"{merchant_public_id}/products/{secrets.token_urlsafe(12)}.{facts.extension}"
    await asyncio.to_thread(_write, upload_dir / path, data)
    # Two uploads at once may both take the same position; the id breaks the tie.
    last = await session.scalar(
        select(func.max(ProductImage.sort_order)).where(
            ProductImage.merchant_id == tenant.id, ProductImage.product_id == product.id
        )
    )
    image = ProductImage(
        merchant_id=tenant.id,
        public_id=new_public_id("img"),
        product_id=product.id,
        path=path,
        content_type=facts.content_type,
        size_bytes=facts.size_bytes,
        width=facts.width,
        height=facts.height,
        sort_order=(last + 1) if last is not None else 0,
        created_at=clock.now(),
    )
    session.add(image)
    await session.flush()
    await _announce(session, tenant, product)
    return image


async def _announce(session: AsyncSession, tenant: Tenant, product: Product) -> None:
    await publish(
        session,
        ProductEdited(merchant_id=tenant.id, product_id=product.id, product=product.public_id),
    )


async def _product_images(
    session: AsyncSession, tenant: Tenant, product_id: int
) -> list[ProductImage]:
    stmt = scoped(ProductImage, tenant, ProductImage.product_id == product_id).order_by(
        ProductImage.sort_order, ProductImage.id
    )
    return list((await session.scalars(stmt)).all())


async def delete_image(
    session: AsyncSession, tenant: Tenant, product_public_id: str, image_public_id: str
) -> str:
    """Forget one image of the product; returns its stored path, for the caller to remove
    with :func:`remove_file` once committed. NotFound for unknown or foreign ids."""
    product = await repository.product_by_public_id(session, tenant, product_public_id)
    image = await session.scalar(
        scoped(
            ProductImage,
            tenant,
            ProductImage.product_id == product.id,
            ProductImage.public_id == image_public_id,
        )
    )
    if image is None:
        raise NotFound("No such image", image=image_public_id)
    path = image.path
    await session.delete(image)
    await session.flush()
    await _announce(session, tenant, product)
    return path


async def reorder_images(
    session: AsyncSession, tenant: Tenant, product_public_id: str, image_public_ids: list[str]
) -> list[ProductImage]:
    """Put the product's images in the given order, which must name each of them exactly
    once (:class:`ImageOrderMismatch` otherwise). Returns them in the new order."""
    product = await repository.product_by_public_id(
        session, tenant, product_public_id, for_update=True
    )
    images = await _product_images(session, tenant, product.id)
    by_id = {i.public_id: i for i in images}
    if len(image_public_ids) != len(images) or set(image_public_ids) != set(by_id):
        raise ImageOrderMismatch("List every image of the product exactly once", field="images")
    for position, public_id in enumerate(image_public_ids):
        by_id[public_id].sort_order = position
    await session.flush()
    await _announce(session, tenant, product)
    return [by_id[p] for p in image_public_ids]


async def move_image(
    session: AsyncSession, tenant: Tenant, product_public_id: str, image_public_id: str, step: int
) -> list[ProductImage]:
    """Move one image ``step`` places (−1: earlier, +1: later), clamped to the ends."""
    product = await repository.product_by_public_id(session, tenant, product_public_id)
    order = [i.public_id for i in await _product_images(session, tenant, product.id)]
    if image_public_id not in order:
        raise NotFound("No such image", image=image_public_id)
    index = order.index(image_public_id)
    order.insert(max(0, min(len(order) - 1, index + step)), order.pop(index))
    return await reorder_images(session, tenant, product_public_id, order)
