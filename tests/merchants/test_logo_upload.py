"""The mall logo: real images of four formats are kept and served; anything else is refused."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from PIL import Image

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.merchants.models import Merchant
from tests.merchants.conftest import console_login


def image_bytes(fmt: str, size: tuple[int, int] = (64, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (228, 57, 60)).save(buffer, format=fmt)
    return buffer.getvalue()


async def merchant_public_id(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    # The logo lives in the merchant's own folder, named by its public id.
    mall = (await client.get("/api/v1/mall/settings", headers=headers)).json()
    return str(mall["logo_url"]).split("/")[2]


def stored_files(state: AppState) -> list[Path]:
    root = state.settings.upload_dir
    return sorted(p for p in root.rglob("*") if p.is_file())


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    data: bytes,
    name: str = "logo.png",
    content_type: str = "image/png",
) -> httpx.Response:
    return await client.post(
        "/api/v1/mall/logo", files={"file": (name, data, content_type)}, headers=headers
    )


@pytest.mark.parametrize(
    ("fmt", "extension"), [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp"), ("GIF", "gif")]
)
async def test_a_real_image_becomes_the_logo_and_is_served(
    state: AppState,
    client: httpx.AsyncClient,
    owner: tuple[Tenant, dict[str, str]],
    fmt: str,
    extension: str,
) -> None:
    tenant, headers = owner
    data = image_bytes(fmt)
    # the declared name and type say nothing true: the bytes decide
    r = await upload(client, headers, data, name="whatever.bin", content_type="text/plain")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["format"], body["width"], body["height"]) == (fmt, 64, 32)
    async with state.read_factory() as session:
        merchant = await session.get(Merchant, tenant.id)
        assert merchant is not None
    assert body["logo_url"].startswith(f"/uploads/{merchant.public_id}/logo-")
    assert body["logo_url"].endswith(f".{extension}")
    served = await client.get(body["logo_url"])
    assert served.status_code == 200
    assert served.content == data
    mall = (await client.get("/api/v1/mall/settings", headers=headers)).json()
    assert mall["logo_url"] == body["logo_url"]


async def test_a_new_logo_replaces_the_old_file(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    first = (await upload(client, headers, image_bytes("PNG"))).json()["logo_url"]
    second = (await upload(client, headers, image_bytes("GIF"))).json()["logo_url"]
    assert first != second
    assert (await client.get(first)).status_code == 404
    assert [
        f"/uploads/{p.relative_to(state.settings.upload_dir)}" for p in stored_files(state)
    ] == [second]


NOT_IMAGES = [
    pytest.param(b"just some text, not a picture", "logo.png", id="text-named-png"),
    pytest.param(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "logo.png", id="png-signature-only"),
    pytest.param(image_bytes("PNG")[:60], "logo.png", id="truncated-png"),
    pytest.param(image_bytes("BMP"), "logo.bmp", id="bmp"),
    pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.svg", id="svg"),
    pytest.param(b"", "logo.png", id="empty"),
]


@pytest.mark.parametrize(("data", "name"), NOT_IMAGES)
async def test_what_is_not_an_image_is_415_and_nothing_changes(
    state: AppState,
    client: httpx.AsyncClient,
    owner: tuple[Tenant, dict[str, str]],
    data: bytes,
    name: str,
) -> None:
    _tenant, headers = owner
    r = await upload(client, headers, data, name=name)
    assert r.status_code == 415
    assert r.json()["code"] == "not_an_image"
    assert (await client.get("/api/v1/mall/settings", headers=headers)).json()["logo_url"] is None
    assert stored_files(state) == []


async def test_an_oversized_upload_is_413_and_nothing_changes(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    kept = (await upload(client, headers, image_bytes("PNG"))).json()["logo_url"]
    big = image_bytes("PNG", (400, 400))
    state.settings.upload_max_bytes = len(big) - 1
    r = await upload(client, headers, big)
    assert r.status_code == 413
    assert r.json()["code"] == "upload_too_large"
    assert (await client.get("/api/v1/mall/settings", headers=headers)).json()["logo_url"] == kept
    assert len(stored_files(state)) == 1


async def test_a_cookie_upload_needs_the_csrf_token(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, _headers = owner
    csrf = await console_login(client, "acme", "13800000001")
    files = {"file": ("logo.png", image_bytes("PNG"), "image/png")}
    refused = await client.post("/api/v1/mall/logo", files=files)
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    assert stored_files(state) == []
    accepted = await client.post("/api/v1/mall/logo", files=files, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 200


async def test_guides_may_not_upload_a_logo(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = owner
    from tests.factories import make_staff, token_for
    from tests.merchants.conftest import create_store

    store = await create_store(client, headers, "S1")
    async with state.read_factory() as session:
        from loopmall.merchants.stores import get_store

        store_id = (await get_store(session, tenant, store["id"])).id
    await make_staff(state, tenant, phone="13800000003", role="guide", store_ids=(store_id,))
    guide = await token_for(client, "acme", "13800000003")
    r = await upload(client, guide, image_bytes("PNG"))
    assert r.status_code == 403
    assert stored_files(state) == []
