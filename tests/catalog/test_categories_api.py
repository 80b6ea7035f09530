"""Categories: a tree per merchant; create, rename, move, list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from loopmall.core.state import AppState
from tests.catalog.conftest import Owner, catalog_counts


async def post(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/categories", json=body, headers=headers)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def test_build_rename_and_list_the_tree(client: httpx.AsyncClient, owner: Owner) -> None:
    _tenant, headers = owner
    women = await post(client, headers, name="女装", sort_order=2)
    men = await post(client, headers, name="男装", sort_order=1)
    dresses = await post(client, headers, name="连衣裙", parent=women["id"])
    shirts = await post(client, headers, name="衬衫", parent=men["id"])
    assert dresses == {
        "id": dresses["id"],
        "name": "连衣裙",
        "parent": women["id"],
        "sort_order": 0,
    }

    r = await client.patch(
        f"/api/v1/categories/{shirts['id']}", json={"name": "男士衬衫"}, headers=headers
    )
    assert r.json() == shirts | {"name": "男士衬衫"}

    tree = (await client.get("/api/v1/categories", headers=headers)).json()
    assert tree == [
        men | {"children": [shirts | {"name": "男士衬衫", "children": []}]},
        women | {"children": [dresses | {"children": []}]},
    ]


async def test_move_and_cycles(state: AppState, client: httpx.AsyncClient, owner: Owner) -> None:
    _tenant, headers = owner
    a = await post(client, headers, name="A")
    b = await post(client, headers, name="B", parent=a["id"])
    c = await post(client, headers, name="C", parent=b["id"])

    for target, parent in ((a, c["id"]), (a, a["id"]), (b, c["id"])):
        r = await client.patch(
            f"/api/v1/categories/{target['id']}", json={"parent": parent}, headers=headers
        )
        assert r.status_code == 422
        assert r.json()["code"] == "category_cycle"

    r = await client.patch(f"/api/v1/categories/{c['id']}", json={"parent": None}, headers=headers)
    assert r.json()["parent"] is None
    r = await client.patch(
        f"/api/v1/categories/{a['id']}", json={"parent": c["id"]}, headers=headers
    )
    assert r.json()["parent"] == c["id"]
    tree = (await client.get("/api/v1/categories", headers=headers)).json()
    assert [n["name"] for n in tree] == ["C"]
    assert tree[0]["children"][0]["children"][0]["name"] == "B"


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x" * 61},
        {"name": "a\tb"},
        {"name": "ok", "sort_order": 1.5},
        {"name": "ok", "parent": "cat_0000000000000000"},
    ],
)
async def test_bad_categories_change_nothing(
    state: AppState, client: httpx.AsyncClient, owner: Owner, body: dict[str, Any]
) -> None:
    tenant, headers = owner
    r = await client.post("/api/v1/categories", json=body, headers=headers)
    assert r.status_code == (404 if "parent" in body else 422)
    assert (await catalog_counts(state, tenant))["categories"] == 0


async def test_patch_cannot_null_the_name(client: httpx.AsyncClient, owner: Owner) -> None:
    _tenant, headers = owner
    a = await post(client, headers, name="A")
    r = await client.patch(f"/api/v1/categories/{a['id']}", json={"name": None}, headers=headers)
    assert r.status_code == 422
    assert (await client.get("/api/v1/categories", headers=headers)).json() == [
        a | {"children": []}
    ]
