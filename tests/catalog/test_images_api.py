"""Product images: real images are stored and served; anything else is refused unwritten."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.merchants.models import Merchant
from tests.catalog.conftest import Owner, catalog_counts, create_product, image_bytes


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    product_id: str,
    data: bytes,
    filename: str = "photo.png",
    content_type: str = "image/png",
) -> httpx.Response:
    return await client.post(
        f"/api/v1/products/{product_id}/images",
        files={"file": (filename, data, content_type)},
        headers=headers,
    )


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` pixels (a decompression bomb's
    calling card: the size is read before a pixel is)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def stored_files(state: AppState) -> list[Path]:
    root = state.settings.upload_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def merchant_public_id(state: AppState, tenant: Tenant) -> str:
    async with UnitOfWork(state.read_factory) as uow:
        value = await uow.session.scalar(select(Merchant.public_id).where(Merchant.id == tenant.id))
    assert value is not None
    return value


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"),
    [
        ("PNG", "image/png", "png"),
        ("JPEG", "image/jpeg", "jpg"),
        ("WEBP", "image/webp", "webp"),
        ("GIF", "image/gif", "gif"),
    ],
)
async def test_upload_each_kind_of_image(
    state: AppState,
    client: httpx.AsyncClient,
    owner: Owner,
    fmt: str,
    content_type: str,
    extension: str,
) -> None:
    tenant, headers = owner
    product = await create_product(client, headers)
    data = image_bytes(fmt, (120, 80))
    # the name and declared type say nothing: the bytes decide
    r = await upload(
        client, headers, product["id"], data, "whatever.bin", "application/octet-stream"
    )
    assert r.status_code == 201, r.text
    image = r.json()
    assert (image["content_type"], image["width"], image["height"], image["size_bytes"]) == (
        content_type,
        120,
        80,
        len(data),
    )
    assert image["sort_order"] == 0
    prefix = f"/uploads/{await merchant_public_id(state, tenant)}/products/"
    assert image["url"].startswith(prefix)
    assert image["url"].endswith(f".{extension}")

    served = await client.get(image["url"])
    assert served.status_code == 200
    assert served.content == data
    assert stored_files(state) == [
        state.settings.upload_dir / image["url"].removeprefix("/uploads/")
    ]
    product_now = (await client.get(f"/api/v1/products/{product['id']}", headers=headers)).json()
    assert product_now["images"] == [image]


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"this is not a picture at all", "x.png"),
        (b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "scan.jpg"),
        (image_bytes("JPEG", (200, 200))[:400], "cut.jpg"),  # a JPEG cut short
        (image_bytes("PNG")[:-20], "cut.png"),
        (image_bytes("BMP"), "old.bmp"),  # a real image, but not one we accept
        (b"", "empty.png"),
    ],
)
async def test_anything_but_an_accepted_image_is_refused(
    state: AppState, client: httpx.AsyncClient, owner: Owner, data: bytes, filename: str
) -> None:
    tenant, headers = owner
    product = await create_product(client, headers)
    before = await catalog_counts(state, tenant)
    r = await upload(client, headers, product["id"], data, filename)
    assert r.status_code == 415
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "not_an_image"
    assert await catalog_counts(state, tenant) == before
    assert stored_files(state) == []


async def test_an_upload_over_the_limit_is_refused(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    tenant, headers = owner
    product = await create_product(client, headers)
    limit = state.settings.upload_max_bytes
    padded = image_bytes() + b"\0" * (limit + 1 - len(image_bytes()))
    assert len(padded) == limit + 1
    before = await catalog_counts(state, tenant)
    r = await upload(client, headers, product["id"], padded)
    assert r.status_code == 413
    assert r.json()["code"] == "upload_too_large"
    assert r.json()["max_bytes"] == limit
    assert await catalog_counts(state, tenant) == before
    assert stored_files(state) == []


async def test_a_huge_image_in_a_small_file_is_refused(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    tenant, headers = owner
    product = await create_product(client, headers)
    for width, height in ((6000, 5000), (40000, 40000)):  # 30 M and 1.6 G pixels
        bomb = png_claiming(width, height)
        assert len(bomb) < 100
        r = await upload(client, headers, product["id"], bomb)
        assert r.status_code == 413
        assert r.json()["code"] == "upload_too_large"
    assert (await catalog_counts(state, tenant))["product_images"] == 0
    assert stored_files(state) == []


@pytest.mark.parametrize(
    "files", [{"photo": ("a.png", b"x", "image/png")}, {"file": (None, "text", None)}]
)
async def test_the_file_field_is_required(
    client: httpx.AsyncClient, owner: Owner, files: dict[str, Any]
) -> None:
    _tenant, headers = owner
    product = await create_product(client, headers)
    r = await client.post(f"/api/v1/products/{product['id']}/images", files=files, headers=headers)
    assert r.status_code == 422
    assert r.json()["field"] == "file"


async def test_upload_is_idempotent_with_a_key(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    tenant, headers = owner
    product = await create_product(client, headers)
    keyed = headers | {"Idempotency-Key": "img-1"}
    data = image_bytes()
    boundary = {"Content-Type": "multipart/form-data; boundary=lmtest"}
    body = (
        b'--lmtest\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + data + b"\r\n--lmtest--\r\n"
    )
    url = f"/api/v1/products/{product['id']}/images"
    first = await client.post(url, content=body, headers=keyed | boundary)
    again = await client.post(url, content=body, headers=keyed | boundary)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await catalog_counts(state, tenant))["product_images"] == 1
    assert len(stored_files(state)) == 1


async def test_delete_and_reorder(state: AppState, client: httpx.AsyncClient, owner: Owner) -> None:
    _tenant, headers = owner
    product = await create_product(client, headers)
    ids = []
    for size in ((10, 10), (20, 20), (30, 30)):
        r = await upload(client, headers, product["id"], image_bytes("PNG", size))
        ids.append(r.json()["id"])
    base = f"/api/v1/products/{product['id']}/images"

    r = await client.put(
        f"{base}/order", json={"images": [ids[2], ids[0], ids[1]]}, headers=headers
    )
    assert r.status_code == 200
    assert [(i["id"], i["sort_order"]) for i in r.json()] == [(ids[2], 0), (ids[0], 1), (ids[1], 2)]
    shown = (await client.get(f"/api/v1/products/{product['id']}", headers=headers)).json()
    assert [i["width"] for i in shown["images"]] == [30, 10, 20]

    for bad in ([ids[0], ids[1]], [ids[0], ids[0], ids[1]], [*ids, "img_0000000000000000"]):
        r = await client.put(f"{base}/order", json={"images": bad}, headers=headers)
        assert r.status_code == 422
        assert r.json()["code"] == "image_order_mismatch"
    again = (await client.get(f"/api/v1/products/{product['id']}", headers=headers)).json()
    assert again["images"] == shown["images"]

    doomed = shown["images"][0]
    r = await client.delete(f"{base}/{doomed['id']}", headers=headers)
    assert r.status_code == 204
    assert (await client.get(doomed["url"])).status_code == 404
    assert len(stored_files(state)) == 2
    r = await client.delete(f"{base}/{doomed['id']}", headers=headers)
    assert r.status_code == 404
    after = (await client.get(f"/api/v1/products/{product['id']}", headers=headers)).json()
    assert [i["id"] for i in after["images"]] == [ids[0], ids[1]]


async def test_a_chunked_upload_over_the_limit_is_refused(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    """Without a Content-Length the size is counted while reading."""
    tenant, headers = owner
    product = await create_product(client, headers)
    limit = state.settings.upload_max_bytes
    head = (
        b'--lmtest\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n"
    )

    async def body() -> Any:
        yield head + image_bytes()
        for _ in range(limit // 65536 + 2):
            yield b"\0" * 65536
        yield b"\r\n--lmtest--\r\n"

    r = await client.post(
        f"/api/v1/products/{product['id']}/images",
        content=body(),
        headers=headers | {"Content-Type": "multipart/form-data; boundary=lmtest"},
    )
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413
    assert r.json()["code"] == "upload_too_large"
    assert (await catalog_counts(state, tenant))["product_images"] == 0
    assert stored_files(state) == []
