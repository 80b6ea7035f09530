"""Importing stores through the API: every format, every bad row, all or nothing, upserts."""

from __future__ import annotations

import httpx
import pytest

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from tests.factories import make_merchant, make_staff, token_for
from tests.imports.conftest import counts, stores_by_code, upload
from tests.imports.samples import (
    STORE_HEADERS_EN,
    STORE_HEADERS_ZH,
    store_row,
    stores_csv,
    to_csv,
    to_xlsx,
)

URL = "/api/v1/imports/stores"
EN = {"Accept-Language": "en"}


@pytest.mark.parametrize(
    ("encoding", "chinese"),
    [("utf-8", False), ("utf-8-sig", True), ("gbk", True), ("gb18030", False)],
)
async def test_csv_in_each_encoding_imports_every_store(
    state: AppState,
    client: httpx.AsyncClient,
    owner: tuple[Tenant, dict[str, str]],
    encoding: str,
    chinese: bool,
) -> None:
    tenant, headers = owner
    # when the owner uploads three stores
    r = await upload(client, URL, stores_csv(3, encoding, chinese), headers)
    # then all three exist with every field as written
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == "stores"
    assert (body["rows"], body["created"], body["updated"]) == (3, 3, 0)
    assert body["id"].startswith("imp_")
    stores = await stores_by_code(state, tenant)
    assert sorted(stores) == ["SH001", "SH002", "SH003"]
    shop = stores["SH002"]
    assert (shop.name, shop.city, shop.district) == ("南京西路2号店", "上海", "静安区")
    assert (shop.address, shop.phone) == ("南京西路1002号", "021-62881234")
    assert (shop.latitude, shop.longitude) == (31.2304, 121.4737)
    assert shop.opening_hours["mon"] == [["10:00", "22:00"]]
    assert shop.opening_hours["sun"] == [["10:00", "22:00"]]
    assert shop.pickup_enabled is True
    assert shop.status == "open"
    assert shop.public_id.startswith("st_")
    assert (await counts(state, tenant))["jobs"] == 1


async def test_xlsx_with_chinese_headers_imports(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = owner
    rows: list[list[object]] = [
        list(
            store_row(1, pickup="否", opening_hours="周一至周五 09:00-21:00；周六,周日 10:00-22:00")
        ),
        list(store_row(2)),
    ]
    rows[1][6], rows[1][7] = 39.9042, 116.4074  # coordinates typed as numbers
    data = to_xlsx(STORE_HEADERS_ZH, rows)
    r = await upload(client, URL, data, headers, filename="门店.xlsx")
    assert r.status_code == 201, r.text
    stores = await stores_by_code(state, tenant)
    assert stores["SH001"].pickup_enabled is False
    assert stores["SH001"].opening_hours["fri"] == [["09:00", "21:00"]]
    assert stores["SH001"].opening_hours["sat"] == [["10:00", "22:00"]]
    assert (stores["SH002"].latitude, stores["SH002"].longitude) == (39.9042, 116.4074)


async def test_reimport_updates_instead_of_duplicating(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = owner
    assert (await upload(client, URL, stores_csv(3), headers)).status_code == 201
    first = await stores_by_code(state, tenant)
    # when the same stores come again with one name changed and one new store
    rows = [store_row(1), store_row(2, name="改名店", pickup="no"), store_row(3), store_row(4)]
    r = await upload(client, URL, to_csv(STORE_HEADERS_EN, rows), headers)
    # then the three are updated in place (same ids) and only the fourth is new
    assert r.status_code == 201, r.text
    assert (r.json()["created"], r.json()["updated"]) == (1, 3)
    second = await stores_by_code(state, tenant)
    assert sorted(second) == ["SH001", "SH002", "SH003", "SH004"]
    assert second["SH002"].name == "改名店"
    assert second["SH002"].pickup_enabled is False
    assert {c: s.public_id for c, s in second.items() if c != "SH004"} == {
        c: s.public_id for c, s in first.items()
    }
    assert second["SH001"].created_at == first["SH001"].created_at
    # and importing the very same file once more changes nothing in the counts
    r = await upload(client, URL, to_csv(STORE_HEADERS_EN, rows), headers)
    assert (r.json()["created"], r.json()["updated"]) == (0, 4)
    assert (await counts(state, tenant))["stores"] == 4


async def test_columns_absent_from_the_file_are_left_alone(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = owner
    await upload(client, URL, stores_csv(2), headers)
    # when a file with only codes, names and phones arrives
    data = to_csv(["门店编码", "门店名称", "电话"], [["SH001", "新名字", "021-11112222"]])
    r = await upload(client, URL, data, headers)
    assert r.status_code == 201, r.text
    shop = (await stores_by_code(state, tenant))["SH001"]
    # then those change and the rest (address, hours, coordinates, pickup) stays
    assert (shop.name, shop.phone) == ("新名字", "021-11112222")
    assert shop.address == "南京西路1001号"
    assert shop.opening_hours["mon"] == [["10:00", "22:00"]]
    assert (shop.latitude, shop.longitude) == (31.2304, 121.4737)


BAD_CELLS = [
    ({"code": ""}, "code", "门店编码", "required", "This column must not be empty"),
    ({"name": "  "}, "name", "门店名称", "required", "This column must not be empty"),
    ({"code": "SH 1"}, "code", "门店编码", "code_spaces", "The store code must not contain spaces"),
    ({"name": "店" * 101}, "name", "门店名称", "too_long", "At most 100 characters"),
    ({"latitude": "north"}, "latitude", "纬度", "bad_number", "Not a number: north"),
    (
        {"latitude": "91"},
        "latitude",
        "纬度",
        "latitude_range",
        "Latitude must be between -90 and 90",
    ),
    (
        {"longitude": "-180.5"},
        "longitude",
        "经度",
        "longitude_range",
        "Longitude must be between -180 and 180",
    ),
    (
        {"longitude": ""},
        "longitude",
        "经度",
        "coordinates_pair",
        "Give both latitude and longitude, or neither",
    ),
    (
        {"latitude": "nan"},
        "latitude",
        "纬度",
        "latitude_range",
        "Latitude must be between -90 and 90",
    ),
    ({"pickup": "maybe"}, "pickup", "自提", "bad_yes_no", "Write 是/否 or yes/no, not maybe"),
    ({"phone": "call me"}, "phone", "电话", "bad_store_phone", "Not a phone number: call me"),
    (
        {"opening_hours": "早上十点"},
        "opening_hours",
        "营业时间",
        "bad_hours",
        "Not opening hours like 10:00-22:00 or mon-fri 10:00-22:00 "
        "(no hours like 10:00-22:00 in '早上十点')",
    ),
    (
        {"opening_hours": "10:00-25:00"},
        "opening_hours",
        "营业时间",
        "bad_hours",
        "Not opening hours like 10:00-22:00 or mon-fri 10:00-22:00 (not a time of day: '25:00')",
    ),
]


@pytest.mark.parametrize(("cells", "field", "column", "code", "reason"), BAD_CELLS)
async def test_one_bad_row_rejects_the_whole_file(
    state: AppState,
    client: httpx.AsyncClient,
    owner: tuple[Tenant, dict[str, str]],
    cells: dict[str, str],
    field: str,
    column: str,
    code: str,
    reason: str,
) -> None:
    tenant, headers = owner
    # given a Chinese-headed file whose fourth row (row 5 in Excel) is bad
    rows = [store_row(n) for n in range(1, 7)]
    rows[3] = store_row(4, **cells)
    data = to_csv(STORE_HEADERS_ZH, rows)
    # when it is uploaded
    r = await upload(client, URL, data, headers | EN)
    # then nothing is written and exactly that row and column are reported
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "import_rejected"
    assert body["error_count"] == 1
    assert body["errors"] == [
        {"row": 5, "column": column, "field": field, "code": code, "reason": reason}
    ]
    assert await counts(state, tenant) == {"stores": 0, "staff": 1, "assignments": 0, "jobs": 1}


async def test_every_bad_row_is_reported_including_each_duplicate(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = owner
    await upload(client, URL, stores_csv(1), headers)  # SH001 exists: a re-import is fine
    rows = [
        store_row(1),
        store_row(2),
        store_row(2, name="again"),  # row 4: duplicate of row 3
        store_row(3, latitude="x", pickup="?"),  # row 5: two problems
        store_row(2, name="thrice"),  # row 6: duplicate of row 3
    ]
    r = await upload(client, URL, to_csv(STORE_HEADERS_EN, rows), headers | EN)
    assert r.status_code == 422
    errors = [(e["row"], e["column"], e["code"], e["reason"]) for e in r.json()["errors"]]
    assert errors == [
        (4, "code", "duplicate_code", "Store code SH002 is also on row 3"),
        (5, "latitude", "bad_number", "Not a number: x"),
        (5, "pickup", "bad_yes_no", "Write 是/否 or yes/no, not ?"),
        (6, "code", "duplicate_code", "Store code SH002 is also on row 3"),
    ]
    assert (await counts(state, tenant))["stores"] == 1


async def test_reasons_are_in_chinese_by_default(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    rows = [store_row(1), store_row(1)]
    r = await upload(client, URL, to_csv(STORE_HEADERS_ZH, rows), headers)
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "row": 3,
            "column": "门店编码",
            "field": "code",
            "code": "duplicate_code",
            "reason": "门店编码 SH001 与第 2 行重复",
        }
    ]


async def test_stray_cells_are_a_bad_row(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = owner
    data = b"code,name\r\nA1,Shop\r\nA2,Shop,2,3\r\n"
    r = await upload(client, URL, data, headers | EN)
    assert r.status_code == 422
    assert [(e["row"], e["code"]) for e in r.json()["errors"]] == [(3, "extra_cells")]
    assert (await counts(state, tenant))["stores"] == 0


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"code,name\r\n", "empty_file"),
        (bytes(range(256)) * 8, "malformed_file"),
        (b"PK\x03\x04\x14\x00broken", "malformed_file"),
        (b"name,city\r\nShop,Shanghai\r\n", "missing_columns"),
        (b"code,Code,name\r\nA,B,C\r\n", "duplicate_columns"),
    ],
)
async def test_unreadable_files_are_refused_and_change_nothing(
    state: AppState,
    client: httpx.AsyncClient,
    owner: tuple[Tenant, dict[str, str]],
    data: bytes,
    code: str,
) -> None:
    tenant, headers = owner
    r = await upload(client, URL, data, headers)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code
    assert await counts(state, tenant) == {"stores": 0, "staff": 1, "assignments": 0, "jobs": 0}


async def test_too_large_is_413_and_changes_nothing(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = owner
    data = stores_csv(200)
    state.settings.import_max_bytes = len(data) - 1
    r = await upload(client, URL, data, headers)
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"
    state.settings.import_max_bytes = len(data)
    assert (await counts(state, tenant))["stores"] == 0
    r = await upload(client, URL, data, headers)
    assert r.status_code == 201


async def test_no_file_field_is_422(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    _tenant, headers = owner
    r = await client.post(URL, files={"other": ("a.csv", b"code,name\r\nA,B\r\n")}, headers=headers)
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"
    r = await client.post(URL, json={"file": "code,name"}, headers=headers)
    assert r.status_code == 422
    r = await upload(client, "/api/v1/imports/products", stores_csv(1), headers)
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"


async def test_only_staff_allowed_to_run_imports(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, _headers = owner
    await make_staff(state, tenant, phone="13900000009", role="store_manager", name="店长")
    manager = await token_for(client, tenant.slug, "13900000009")
    r = await upload(client, URL, stores_csv(1), manager)
    assert r.status_code == 403
    assert (await upload(client, URL, stores_csv(1), {})).status_code == 401
    assert (await counts(state, tenant))["stores"] == 0


async def test_stores_land_in_the_importing_merchant_only(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = owner
    other = await make_merchant(state, "other", "Other")
    await make_staff(state, other, phone="13700000000")
    other_headers = await token_for(client, "other", "13700000000")
    assert (await upload(client, URL, stores_csv(2), headers)).status_code == 201
    # the other merchant may use the same codes: codes are unique per merchant
    assert (await upload(client, URL, stores_csv(3), other_headers)).status_code == 201
    assert (await counts(state, tenant))["stores"] == 2
    assert (await counts(state, other))["stores"] == 3


async def test_idempotency_key_replays_the_first_answer(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = owner
    data = stores_csv(2)
    # A faithful retry sends the same bytes, multipart boundary included.
    keyed = headers | {
        "Idempotency-Key": "import-1",
        "Content-Type": "multipart/form-data; boundary=lm-retry-boundary",
    }
    first = await client.post(URL, files={"file": ("s.csv", data)}, headers=keyed)
    again = await client.post(URL, files={"file": ("s.csv", data)}, headers=keyed)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await counts(state, tenant) == {"stores": 2, "staff": 1, "assignments": 0, "jobs": 1}
    other = await client.post(URL, files={"file": ("s.csv", stores_csv(3))}, headers=keyed)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
