"""The share poster (picture, QR code of the signed link) and the JS-SDK share
configuration inside WeChat (signed with the service account's jsapi_ticket)."""

from __future__ import annotations

import hashlib
import io

import httpx
from PIL import Image, ImageChops

from loopmall.catalog.images import add_image
from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers.service import add_wechat_app
from loopmall.social import poster
from loopmall.standins.wechat_oa import WechatOAStandin
from tests.customers.consumer_fixtures import new_appid
from tests.social.helpers import open_link, person, share
from tests.storefront.seed import seed_mall

BLUE = (10, 60, 200)


def _png(color: tuple[int, int, int], size: tuple[int, int] = (400, 300)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


async def test_poster_has_the_picture_and_a_qr_code_of_the_share_link(
    state: AppState, client: httpx.AsyncClient
) -> None:
    mall = await seed_mall(state)
    async with UnitOfWork(state.write_factory) as uow:
        await add_image(
            uow.session,
            mall.tenant,
            mall.coat,
            _png(BLUE),
            upload_dir=state.settings.upload_dir,
            max_bytes=5_000_000,
        )
        await uow.commit()
    a = await person(state, mall.tenant, "阿花")
    made = await share(client, "vero", a, "product", mall.coat)

    r = await client.get(str(made["poster_url"]))

    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(r.content)).convert("RGB")
    assert image.size == (poster.WIDTH, poster.HEIGHT)
    # The product picture (scaled to the poster's width) sits under the header band.
    assert image.getpixel((poster.WIDTH // 2, 96 + poster.MARGIN // 2 + 100)) == BLUE
    # The QR code is exactly the one for the share link.
    left = poster.WIDTH - poster.MARGIN - poster.QR_SIZE
    top = poster.HEIGHT - poster.QR_SIZE - poster.MARGIN
    region = image.crop((left, top, left + poster.QR_SIZE, top + poster.QR_SIZE))
    expected = poster.qr_image(str(made["url"]))
    assert ImageChops.difference(region, expected).getbbox() is None
    assert ImageChops.difference(region, poster.qr_image(str(made["url"]) + "x")).getbbox()


async def test_poster_without_a_picture_and_of_a_bad_link(
    state: AppState, client: httpx.AsyncClient
) -> None:
    mall = await seed_mall(state)
    a = await person(state, mall.tenant, "阿花")
    made = await share(client, "vero", a, "home")
    r = await client.get(str(made["poster_url"]))
    assert r.status_code == 200
    assert Image.open(io.BytesIO(r.content)).size == (poster.WIDTH, poster.HEIGHT)
    token = str(made["token"])
    r = await client.get(f"/m/vero/s/{token[:-2]}xx/poster.png")
    assert (r.status_code, r.json()["code"]) == (400, "share_link_invalid")


async def test_wechat_share_config_is_signed_with_the_ticket(
    standin_settings: Settings,
    state: AppState,
    client: httpx.AsyncClient,
    oa_standin: WechatOAStandin,
) -> None:
    mall = await seed_mall(state)
    url = f"http://testserver/m/vero/p/{mall.coat}?from=share#top"
    r = await client.get("/api/v1/mall/vero/wechat/share-config", params={"url": url})
    assert (r.status_code, r.json()["detail"]) == (404, "This mall has no WeChat account")

    appid, secret = new_appid()
    oa_standin.add_app(appid, secret, name="VERO 服务号")
    async with UnitOfWork(state.write_factory) as uow:
        await add_wechat_app(uow.session, mall.tenant, appid=appid, secret=secret, name="服务号")
        await uow.commit()

    r = await client.get("/api/v1/mall/vero/wechat/share-config", params={"url": url})

    assert r.status_code == 200, r.text
    cfg = r.json()
    ticket = oa_standin.tickets[appid]
    raw = (
        f"jsapi_ticket={ticket}&noncestr={cfg['nonceStr']}&timestamp={cfg['timestamp']}"
        f"&url=http://testserver/m/vero/p/{mall.coat}?from=share"
    )
    assert cfg["appId"] == appid
    assert cfg["signature"] == hashlib.sha1(raw.encode()).hexdigest()
    assert cfg["jsApiList"] == ["updateAppMessageShareData", "updateTimelineShareData"]
    r = await client.get(
        "/api/v1/mall/vero/wechat/share-config", params={"url": "https://evil.example/m/vero/"}
    )
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    r = await client.get(
        "/api/v1/mall/nowhere/wechat/share-config", params={"url": "http://testserver/m/x/"}
    )
    assert r.status_code == 404


async def test_share_bar_inside_and_outside_wechat(
    state: AppState, client: httpx.AsyncClient
) -> None:
    mall = await seed_mall(state)
    r = await client.get(f"/m/vero/p/{mall.coat}")
    assert 'id="share-bar"' in r.text and 'data-wechat="0"' in r.text
    assert 'id="share-login"' in r.text and 'id="share-form"' not in r.text
    a = await person(state, mall.tenant, "阿花")
    r = await client.get(
        f"/m/vero/p/{mall.coat}",
        headers=a.bearer | {"user-agent": "Mozilla/5.0 MicroMessenger/8.0.47"},
    )
    assert 'data-wechat="1"' in r.text and 'id="share-form"' in r.text
    assert f'data-target="{mall.coat}"' in r.text and 'data-kind="product"' in r.text
    r = await client.get("/m/vero/")
    assert 'id="share-bar"' in r.text and 'data-kind="home"' in r.text

    # Not logged in, come by A's link: inside WeChat, A's link is what gets forwarded.
    made = await share(client, "vero", a, "product", mall.coat)
    await open_link(client, made["url"])
    r = await client.get(f"/m/vero/p/{mall.coat}", headers={"user-agent": "MicroMessenger"})
    assert f'data-via="{made["token"]}"' in r.text
    r = await client.get(f"/m/vero/p/{mall.coat}", headers=a.bearer)
    assert 'data-via=""' in r.text
