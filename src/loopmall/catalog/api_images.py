"""JSON routes for product images: upload (multipart), delete, reorder.

The upload route reads the body itself before the dependencies parse it (as the import
routes do): ``Idempotency-Key`` fingerprints the raw body, and an oversized upload is
refused by its ``Content-Length`` before a byte of it is read.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.datastructures import UploadFile

from loopmall.catalog import images
from loopmall.catalog.api_shared import WRITE_PROBLEMS, problem, product_id_param
from loopmall.catalog.schemas import PUBLIC_ID_PATTERN, ImageOrderIn, ImageOut
from loopmall.catalog.views import image_out
from loopmall.core.errors import ValidationFailed
from loopmall.core.http import get_state, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal

router = APIRouter(tags=["catalog"])

# Room for the multipart envelope around the file itself.
MULTIPART_SLACK = 16 * 1024

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A PNG, JPEG, WebP or GIF image",
                        }
                    },
                }
            }
        },
    }
}

UPLOAD_PROBLEMS: dict[int | str, dict[str, Any]] = WRITE_PROBLEMS | {
    413: problem("`upload_too_large`: over the upload limit (bytes or pixels)"),
    415: problem("`not_an_image`: not a PNG, JPEG, WebP or GIF, whatever its name"),
}


async def buffered_upload(request: Request) -> None:
    """Read the request body up front (see the module docstring); 413 when too large."""
    limit = get_state(request).settings.upload_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit():
        images.check_size(max(0, int(declared) - MULTIPART_SLACK), limit)
    # A chunked upload declares no length: count while reading, and stop at the limit
    # instead of holding whatever the client sends in memory.
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        images.check_size(max(0, size - MULTIPART_SLACK), limit)
        chunks.append(chunk)
    # Starlette serves request.body() and request.form() from this cache from now on.
    request._body = b"".join(chunks)


async def read_image_upload(request: Request, field: str = "file") -> bytes:
    """The bytes of the multipart field ``field`` (at most the upload limit, else 413)."""
    limit = get_state(request).settings.upload_max_bytes
    form = await request.form()
    upload = form.get(field)
    if not isinstance(upload, UploadFile):
        raise ValidationFailed(
            f"Send the image as the multipart/form-data field '{field}'", field=field
        )
    data = await upload.read(limit + 1)
    images.check_size(len(data), limit)
    return data


@router.post(
    "/products/{product_id}/images",
    status_code=201,
    response_model=ImageOut,
    responses=UPLOAD_PROBLEMS,
    openapi_extra=UPLOAD_BODY,
)
async def upload_image(
    request: Request,
    product_id: str = product_id_param(),
    _body: None = Depends(buffered_upload),
    principal: Principal = Depends(require(Perm.CATALOG_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Any:
    """Add an image to a product (as its last image)."""
    tenant = principal.require_tenant()
    settings = get_state(request).settings
    data = await read_image_upload(request)

    async def work() -> ImageOut:
        image = await images.add_image(
            uow.session,
            tenant,
            product_id,
            data,
            upload_dir=settings.upload_dir,
            max_bytes=settings.upload_max_bytes,
        )
        return image_out(image)

    return await run_idempotent(request, uow, principal.scope, work)


@router.delete(
    "/products/{product_id}/images/{image_id}",
    status_code=204,
    response_class=Response,
    responses=WRITE_PROBLEMS,
)
async def delete_image(
    request: Request,
    product_id: str = product_id_param(),
    image_id: str = Path(..., pattern=PUBLIC_ID_PATTERN),
    principal: Principal = Depends(require(Perm.CATALOG_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    """Remove an image from a product (and its file)."""
    path = await images.delete_image(uow.session, principal.require_tenant(), product_id, image_id)
    await uow.commit()
    await asyncio.to_thread(images.remove_file, get_state(request).settings.upload_dir, path)
    return Response(status_code=204)


@router.put(
    "/products/{product_id}/images/order",
    response_model=list[ImageOut],
    responses=WRITE_PROBLEMS,
)
async def reorder_images(
    body: ImageOrderIn,
    product_id: str = product_id_param(),
    principal: Principal = Depends(require(Perm.CATALOG_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> list[ImageOut]:
    """Put the product's images in this order (the first is the product's cover)."""
    ordered = await images.reorder_images(
        uow.session, principal.require_tenant(), product_id, body.images
    )
    await uow.commit()
    return [image_out(i) for i in ordered]
