"""The console's product pages through the cookie session: list, editor, SKU matrix, yuan
amounts, channel prices and images. Bad input re-shows the form with the error beside the
field and writes nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from babel.messages.extract import extract_from_dir

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.web.i18n import translations
from tests.catalog.conftest import (
    HTML,
    Owner,
    catalog_counts,
    console_login,
    create_product,
    guide_headers,
    image_bytes,
    make_store,
)
from tests.factories import make_staff

CATALOG = Path(__file__).resolve().parents[2] / "src" / "loopmall" / "catalog"


@pytest.fixture
async def session(client: httpx.AsyncClient, owner: Owner) -> tuple[Tenant, dict[str, str], str]:
    """The owner logged in on the console: tenant, bearer headers (for checks), CSRF token."""
    tenant, headers = owner
    return tenant, headers, await console_login(client, tenant.slug, "13800000001")


def field_error(html: str, name: str) -> str | None:
    found = re.search(rf'<span class="field-error" id="err-{re.escape(name)}">([^<]*)</span>', html)
    return found[1] if found else None


def editor_fields(html: str) -> dict[str, str]:
    """The editor form's fields as the browser would post them (ticked boxes, chosen options)."""
    form = re.search(r'<form method="post" id="product-form".*?</form>', html, re.S)
    assert form is not None
    fields: dict[str, str] = {}
    for tag in re.finditer(r"<input\b[^>]*>", form[0]):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag[0]))
        if "name" not in attrs or attrs.get("type") == "file":
            continue
        if attrs.get("type") == "checkbox" and "checked" not in tag[0]:
            continue
        fields[attrs["name"]] = attrs.get("value", "")
    for select in re.finditer(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form[0], re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', select[2])
        first = re.search(r'<option value="([^"]*)"', select[2])
        fields[select[1]] = chosen[1] if chosen else (first[1] if first else "")
    area = re.search(r'<textarea name="description"[^>]*>(.*?)</textarea>', form[0], re.S)
    fields["description"] = area[1] if area else ""
    return {
        k: v.replace("&amp;", "&").replace("&#34;", '"').replace("&#39;", "'")
        for k, v in fields.items()
    }


async def test_every_catalog_message_has_a_chinese_translation() -> None:
    zh = translations("zh_Hans")
    method_map = [("templates/**.html", "jinja2.ext:babel_extract"), ("*.py", "python")]
    messages = {
        message
        for _f, _l, message, _c, _x in extract_from_dir(
            str(CATALOG), method_map=method_map, keywords={"_": None}
        )
        if isinstance(message, str) and message
    }
    assert len(messages) > 80
    assert sorted(m for m in messages if zh.gettext(m) == m) == []


async def test_product_list(
    state: AppState, client: httpx.AsyncClient, session: tuple[Tenant, dict[str, str], str]
) -> None:
    _tenant, headers, _csrf = session
    tee = await create_product(client, headers)
    await create_product(
        client, headers, {"title": "帆布包", "status": "draft", "skus": [{"price": 3900}]}
    )
    r = await client.post(
        f"/api/v1/products/{tee['id']}/images",
        files={"file": ("a.png", image_bytes(), "image/png")},
        headers=headers,
    )
    thumb = r.json()["url"]

    page = await client.get("/console/products", headers=HTML)
    assert page.status_code == 200
    rows = re.findall(
        r"<tr>(.*?)</tr>", re.search(r"<tbody>(.*?)</tbody>", page.text, re.S)[1], re.S
    )
    assert len(rows) == 2
    assert f'src="{thumb}"' in rows[0]
    assert f'href="/console/products/{tee["id"]}">纯棉T恤</a>' in rows[0]
    assert "在售" in rows[0] and "¥99.00 – 109.00" in rows[0]
    assert '<td class="num hide-narrow">4</td>' in rows[0]
    assert "4 个 SKU" in rows[0]
    assert "草稿" in rows[1] and "¥39.00" in rows[1]
    assert 'id="new-product" href="/console/products/new"' in page.text

    found = await client.get("/console/products?q=帆布&status=draft", headers=HTML)
    assert "帆布包" in found.text and "纯棉T恤" not in found.text
    none = await client.get("/console/products?q=没有这个", headers=HTML)
    assert "没有符合筛选条件的商品。" in none.text
    english = await client.get("/console/products?lang=en", headers=HTML)
    assert "On sale" in english.text and "New product" in english.text


async def test_a_guide_sees_products_but_no_editing(
    state: AppState, client: httpx.AsyncClient, owner: Owner
) -> None:
    tenant, headers = owner
    product = await create_product(client, headers)
    await guide_headers(state, client, tenant)
    csrf = await console_login(client, tenant.slug, "13700000002")

    listing = await client.get("/console/products", headers=HTML)
    assert listing.status_code == 200
    assert "纯棉T恤" in listing.text
    assert 'id="new-product"' not in listing.text
    editor = await client.get(f"/console/products/{product['id']}", headers=HTML)
    assert editor.status_code == 200
    assert "你可以查看商品，但不能修改。" in editor.text
    assert 'id="price-form"' not in editor.text and 'id="image-form"' not in editor.text
    assert (await client.get("/console/products/new", headers=HTML)).status_code == 403
    fields = editor_fields(editor.text) | {"csrf_token": csrf, "title": "改名", "action": "save"}
    r = await client.post(f"/console/products/{product['id']}", data=fields, headers=HTML)
    assert r.status_code == 403
    assert (
        await client.get(f"/api/v1/products/{product['id']}", headers=headers)
    ).json() == product


async def test_build_the_matrix_then_create(
    client: httpx.AsyncClient, session: tuple[Tenant, dict[str, str], str]
) -> None:
    _tenant, headers, csrf = session
    blank = await client.get("/console/products/new", headers=HTML)
    assert blank.status_code == 200
    assert "<h1>新建商品</h1>" in blank.text

    matrix = await client.post(
        "/console/products/new",
        data=editor_fields(blank.text)
        | {
            "csrf_token": csrf,
            "action": "matrix",
            "title": "法式衬衫",
            "opt-0-name": "颜色",
            "opt-0-values": "白，蓝",
            "opt-1-name": "尺码",
            "opt-1-values": "S, M, L",
        },
        headers=HTML,
    )
    assert matrix.status_code == 200
    fields = editor_fields(matrix.text)
    assert fields["sku_rows"] == "6"
    assert [(fields[f"sku-{n}-opt-0"], fields[f"sku-{n}-opt-1"]) for n in range(6)] == [
        ("白", "S"),
        ("白", "M"),
        ("白", "L"),
        ("蓝", "S"),
        ("蓝", "M"),
        ("蓝", "L"),
    ]
    for n in range(6):
        fields[f"sku-{n}-price"] = "199.00" if n < 3 else "¥209.5"
    fields |= {"sku-0-member_price": "179", "sku-5-code": "SHIRT-BL-L", "status": "active"}

    saved = await client.post(
        "/console/products/new", data=fields | {"action": "save"}, headers=HTML
    )
    assert saved.status_code == 303
    product_id = re.fullmatch(
        r"/console/products/(prd_\w+)\?saved=product", saved.headers["location"]
    )[1]
    product = (await client.get(f"/api/v1/products/{product_id}", headers=headers)).json()
    assert (product["title"], product["status"], product["option_names"]) == (
        "法式衬衫",
        "active",
        ["颜色", "尺码"],
    )
    assert [
        (s["options"]["颜色"], s["options"]["尺码"], s["price"], s["member_price"])
        for s in product["skus"]
    ] == [
        ("白", "S", 19900, 17900),
        ("白", "M", 19900, None),
        ("白", "L", 19900, None),
        ("蓝", "S", 20950, None),
        ("蓝", "M", 20950, None),
        ("蓝", "L", 20950, None),
    ]
    assert product["skus"][5]["code"] == "SHIRT-BL-L"
    shown = await client.get(saved.headers["location"], headers=HTML)
    assert '<div class="flash ok" role="status">已保存。</div>' in shown.text


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        (
            {"sku-1-price": "12.345"},
            "sku-1-price",
            "请输入以元为单位的金额，例如 199.00（最多两位小数）。",
        ),
        (
            {"sku-1-price": "abc"},
            "sku-1-price",
            "请输入以元为单位的金额，例如 199.00（最多两位小数）。",
        ),
        (
            {"sku-1-price": "-1"},
            "sku-1-price",
            "请输入以元为单位的金额，例如 199.00（最多两位小数）。",
        ),
        ({"sku-1-price": ""}, "sku-1-price", "请输入价格。"),
        ({"sku-1-price": "99999999999"}, "sku-1-price", "金额过大。"),
        ({"sku-0-member_price": "300"}, "sku-0-member_price", "会员价不能高于售价。"),
        ({"sku-1-code": "有 空格"}, "sku-1-code", "只能使用字母、数字、点、短横线或斜线。"),
        ({"title": ""}, "title", "此项必填。"),
        ({"opt-1-name": ""}, "opt-1-name", "请填写规格名称，或清空它的规格值。"),
    ],
)
async def test_bad_input_on_a_new_product_is_shown_beside_the_field(
    state: AppState,
    client: httpx.AsyncClient,
    session: tuple[Tenant, dict[str, str], str],
    typed: dict[str, str],
    field: str,
    message: str,
) -> None:
    tenant, _headers, csrf = session
    fields = {
        "csrf_token": csrf,
        "action": "save",
        "title": "T恤",
        "status": "draft",
        "sales_scope": "all",
        "opt-0-name": "颜色",
        "opt-0-values": "黑",
        "opt-1-name": "尺码",
        "opt-1-values": "M, L",
        "sku_rows": "2",
        "sku-0-opt-0": "黑",
        "sku-0-opt-1": "M",
        "sku-0-price": "99.00",
        "sku-0-active": "1",
        "sku-1-opt-0": "黑",
        "sku-1-opt-1": "L",
        "sku-1-price": "99.00",
        "sku-1-active": "1",
    } | typed
    r = await client.post("/console/products/new", data=fields, headers=HTML)
    assert r.status_code == 422
    assert field_error(r.text, field) == message
    assert "未保存：请修改下面标出的字段。" in r.text
    # what was typed is still there to correct
    if typed.get(field):
        assert f'value="{typed[field]}"' in r.text
    assert await catalog_counts(state, tenant) == dict.fromkeys(
        await catalog_counts(state, tenant), 0
    )


async def test_edit_a_product_and_grow_its_matrix(
    client: httpx.AsyncClient, session: tuple[Tenant, dict[str, str], str]
) -> None:
    _tenant, headers, csrf = session
    product = await create_product(client, headers)
    url = f"/console/products/{product['id']}"
    page = await client.get(url, headers=HTML)
    assert page.status_code == 200
    fields = editor_fields(page.text)
    assert fields["sku_rows"] == "4"
    assert (fields["sku-0-price"], fields["sku-0-member_price"], fields["sku-0-code"]) == (
        "99.00",
        "89.00",
        "TEE-BK-M",
    )
    assert (fields["opt-0-values"], fields["opt-1-values"]) == ("黑, 白", "M, L")

    grown = await client.post(
        url,
        data=fields | {"csrf_token": csrf, "action": "matrix", "opt-0-values": "黑, 红"},
        headers=HTML,
    )
    fields = editor_fields(grown.text)
    assert fields["sku_rows"] == "6"
    rows = {(fields[f"sku-{n}-opt-0"], fields[f"sku-{n}-opt-1"]): n for n in range(6)}
    assert set(rows) == {
        ("黑", "M"),
        ("黑", "L"),
        ("红", "M"),
        ("红", "L"),
        ("白", "M"),
        ("白", "L"),
    }
    # the white SKUs are no longer in the options: kept, but taken off sale
    assert f"sku-{rows[('白', 'M')]}-active" not in fields
    assert fields[f"sku-{rows[('白', 'M')]}-id"] == product["skus"][2]["id"]
    for combo in (("红", "M"), ("红", "L")):
        assert fields[f"sku-{rows[combo]}-id"] == ""
        fields[f"sku-{rows[combo]}-price"] = "119"
    fields[f"sku-{rows[('黑', 'M')]}-price"] = "88.00"
    fields[f"sku-{rows[('黑', 'M')]}-member_price"] = "80"
    fields["title"] = "纯棉T恤（新）"

    saved = await client.post(
        url, data=fields | {"csrf_token": csrf, "action": "save"}, headers=HTML
    )
    assert saved.status_code == 303, re.findall(r"field-error[^>]*>([^<]*)", saved.text)
    after = (await client.get(f"/api/v1/products/{product['id']}", headers=headers)).json()
    assert after["title"] == "纯棉T恤（新）"
    assert [
        (s["options"]["颜色"], s["options"]["尺码"], s["price"], s["status"]) for s in after["skus"]
    ] == [
        ("黑", "M", 8800, "active"),
        ("黑", "L", 9900, "active"),
        ("白", "M", 10900, "inactive"),
        ("白", "L", 10900, "inactive"),
        ("红", "M", 11900, "active"),
        ("红", "L", 11900, "active"),
    ]
    assert [s["member_price"] for s in after["skus"]] == [8000, None, None, None, None, None]


async def test_a_refused_edit_changes_nothing(
    client: httpx.AsyncClient, session: tuple[Tenant, dict[str, str], str]
) -> None:
    _tenant, headers, csrf = session
    product = await create_product(client, headers)
    url = f"/console/products/{product['id']}"
    fields = editor_fields((await client.get(url, headers=HTML)).text)
    fields |= {
        "csrf_token": csrf,
        "action": "save",
        "title": "改过的标题",
        "sku-1-code": "TEE-BK-M",
    }
    r = await client.post(url, data=fields, headers=HTML)
    assert r.status_code == 422
    assert field_error(r.text, "sku-1-code") == "该 SKU 编码已被使用。"
    assert 'value="改过的标题"' in r.text
    assert (
        await client.get(f"/api/v1/products/{product['id']}", headers=headers)
    ).json() == product


async def test_channel_prices_form(
    state: AppState, client: httpx.AsyncClient, session: tuple[Tenant, dict[str, str], str]
) -> None:
    tenant, headers, csrf = session
    nanjing = await make_store(state, tenant, "SH001", "南京西路店")
    await make_store(state, tenant, "SH002", "徐汇店")
    product = await create_product(client, headers)
    skus = [s["id"] for s in product["skus"]]
    url = f"/console/products/{product['id']}"

    page = await client.get(url, headers=HTML)
    assert f'<option value="store:{nanjing}" data-store >南京西路店</option>' in page.text
    assert "徐汇店" in page.text

    body = {
        "csrf_token": csrf,
        "channel": "wechat",
        f"price-{skus[0]}": "79.00",
        f"member-{skus[0]}": "75",
    }
    r = await client.post(f"{url}/prices", data=body, headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == f"{url}?channel=wechat&saved=prices#prices"
    got = (await client.get(f"/api/v1/skus/{skus[0]}", headers=headers)).json()["prices"]
    assert [(p["channel"], p["price"], p["member_price"]) for p in got] == [("wechat", 7900, 7500)]

    store_page = await client.get(f"{url}?channel=store:{nanjing}", headers=HTML)
    assert f'<input type="hidden" name="channel" value="store:{nanjing}">' in store_page.text
    bad = {
        "csrf_token": csrf,
        "channel": f"store:{nanjing}",
        f"price-{skus[0]}": "105",
        f"price-{skus[1]}": "7.999",
        f"member-{skus[2]}": "60",
    }
    r = await client.post(f"{url}/prices", data=bad, headers=HTML)
    assert r.status_code == 422
    assert f'id="err-price-{skus[1]}">请输入以元为单位的金额' in r.text
    assert f'id="err-price-{skus[2]}">请同时填写价格，或两项都清空。' in r.text
    assert (await catalog_counts(state, tenant))["channel_prices"] == 1

    good = {"csrf_token": csrf, "channel": f"store:{nanjing}", f"price-{skus[1]}": "105"}
    assert (await client.post(f"{url}/prices", data=good, headers=HTML)).status_code == 303
    clear = {"csrf_token": csrf, "channel": "wechat"}
    assert (await client.post(f"{url}/prices", data=clear, headers=HTML)).status_code == 303
    overview = await client.get(url, headers=HTML)
    table = re.search(r'<table id="price-overview".*?</table>', overview.text, re.S)[0]
    assert '<th class="num">南京西路店</th>' in table and "徐汇店" not in table
    assert "¥105.00" in table and "¥79.00" not in table


async def test_another_merchants_store_in_the_price_form_is_not_found(
    state: AppState, client: httpx.AsyncClient, session: tuple[Tenant, dict[str, str], str]
) -> None:
    tenant, headers, csrf = session
    rival = await make_merchant_with_store(state)
    product = await create_product(client, headers)
    body = {
        "csrf_token": csrf,
        "channel": f"store:{rival}",
        f"price-{product['skus'][0]['id']}": "1",
    }
    r = await client.post(f"/console/products/{product['id']}/prices", data=body, headers=HTML)
    assert r.status_code == 404
    assert (await catalog_counts(state, tenant))["channel_prices"] == 0


async def make_merchant_with_store(state: AppState) -> str:
    from tests.factories import make_merchant

    rival = await make_merchant(state, "rival", "Rival")
    await make_staff(state, rival, phone="13900000009")
    return await make_store(state, rival, "R1", "对手门店")


async def test_images_on_the_editor(
    state: AppState, client: httpx.AsyncClient, session: tuple[Tenant, dict[str, str], str]
) -> None:
    tenant, headers, csrf = session
    product = await create_product(client, headers)
    url = f"/console/products/{product['id']}"

    def upload(data: bytes, name: str) -> Any:
        return client.post(
            f"{url}/images",
            data={"csrf_token": csrf},
            files={"image": (name, data, "image/png")},
            headers=HTML,
        )

    for size in ((10, 10), (20, 20)):
        r = await upload(image_bytes("PNG", size), "a.png")
        assert r.status_code == 303
        assert r.headers["location"] == f"{url}?saved=image#images"
    refused = await upload(b"plain text, not a picture", "x.png")
    assert refused.status_code == 415
    assert "该文件不是 PNG、JPEG、WebP 或 GIF 图片。" in refused.text
    assert (await catalog_counts(state, tenant))["product_images"] == 2

    images = (await client.get(f"/api/v1/products/{product['id']}", headers=headers)).json()[
        "images"
    ]
    page = await client.get(url, headers=HTML)
    assert [m for m in re.findall(r'<img src="([^"]+)"', page.text)] == [i["url"] for i in images]

    r = await client.post(
        f"{url}/images/{images[0]['id']}/later", data={"csrf_token": csrf}, headers=HTML
    )
    assert r.status_code == 303
    moved = (await client.get(f"/api/v1/products/{product['id']}", headers=headers)).json()[
        "images"
    ]
    assert [i["id"] for i in moved] == [images[1]["id"], images[0]["id"]]
    r = await client.post(
        f"{url}/images/{images[1]['id']}/delete", data={"csrf_token": csrf}, headers=HTML
    )
    assert r.status_code == 303
    left = (await client.get(f"/api/v1/products/{product['id']}", headers=headers)).json()["images"]
    assert [i["id"] for i in left] == [images[0]["id"]]


async def test_forms_need_the_session_csrf_token(
    state: AppState, client: httpx.AsyncClient, session: tuple[Tenant, dict[str, str], str]
) -> None:
    tenant, headers, _csrf = session
    product = await create_product(client, headers)
    url = f"/console/products/{product['id']}"
    fields = editor_fields((await client.get(url, headers=HTML)).text)
    for target, data in (
        (url, fields | {"action": "save", "title": "偷改", "csrf_token": "stale"}),
        ("/console/products/new", fields | {"action": "save", "csrf_token": ""}),
        (f"{url}/prices", {"channel": "wechat", f"price-{product['skus'][0]['id']}": "1"}),
    ):
        r = await client.post(target, data=data, headers=HTML)
        assert r.status_code == 403
    assert (
        await client.get(f"/api/v1/products/{product['id']}", headers=headers)
    ).json() == product
    assert (await catalog_counts(state, tenant))["products"] == 1


async def test_anonymous_visitors_are_sent_to_login(client: httpx.AsyncClient) -> None:
    r = await client.get("/console/products", headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login?next=/console/products"
