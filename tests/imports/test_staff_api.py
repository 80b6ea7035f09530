"""Importing staff through the API: roles in two languages, store assignments, all or nothing."""

from __future__ import annotations

import httpx
import pytest

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from tests.factories import make_merchant, make_staff, token_for
from tests.imports.conftest import counts, staff_by_phone, upload
from tests.imports.samples import (
    STAFF_HEADERS_EN,
    STAFF_HEADERS_ZH,
    staff_row,
    stores_csv,
    to_csv,
    to_xlsx,
)

URL = "/api/v1/imports/staff"
EN = {"Accept-Language": "en"}


@pytest.fixture
async def chain(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> tuple[Tenant, dict[str, str]]:
    """The owner's merchant with stores SH001…SH003."""
    _tenant, headers = owner
    r = await upload(client, "/api/v1/imports/stores", stores_csv(3), headers)
    assert r.status_code == 201, r.text
    return owner


async def test_staff_with_chinese_roles_and_store_lists(
    state: AppState, client: httpx.AsyncClient, chain: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = chain
    rows = [
        staff_row(1, role="导购", stores="SH001"),
        staff_row(2, role="店长", stores="SH001|SH002"),
        staff_row(3, role="收银员", stores="SH002；SH003"),
        staff_row(4, role="收银", stores="SH003、SH001, SH003"),
        staff_row(5, role="经理", stores=""),
        staff_row(6, role="Store Manager", stores="SH002;SH003"),
        staff_row(7, role="guide", stores="SH003"),
    ]
    r = await upload(client, URL, to_csv(STAFF_HEADERS_ZH, rows, "gbk"), headers)
    assert r.status_code == 201, r.text
    assert (r.json()["created"], r.json()["updated"]) == (7, 0)
    staff = await staff_by_phone(state, tenant)
    got = {phone: (s.role, s.name, s.employee_no, codes) for phone, (s, codes) in staff.items()}
    assert got == {
        "13800000001": ("owner", "Owner", "", []),
        "13900000001": ("guide", "导购1", "E0001", ["SH001"]),
        "13900000002": ("store_manager", "导购2", "E0002", ["SH001", "SH002"]),
        "13900000003": ("cashier", "导购3", "E0003", ["SH002", "SH003"]),
        "13900000004": ("cashier", "导购4", "E0004", ["SH001", "SH003"]),
        "13900000005": ("manager", "导购5", "E0005", []),
        "13900000006": ("store_manager", "导购6", "E0006", ["SH002", "SH003"]),
        "13900000007": ("guide", "导购7", "E0007", ["SH003"]),
    }
    imported = staff["13900000001"][0]
    assert imported.password_hash is None
    assert imported.active is True
    assert imported.public_id.startswith("stf_")


async def test_imported_staff_cannot_log_in_without_a_password(
    client: httpx.AsyncClient, chain: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = chain
    await upload(client, URL, to_csv(STAFF_HEADERS_EN, [staff_row(1)]), headers)
    r = await client.post(
        "/api/v1/auth/token",
        json={"merchant": tenant.slug, "phone": "13900000001", "password": "anything"},
    )
    assert r.status_code == 401


async def test_phone_formats_people_type_are_normalised(
    state: AppState, client: httpx.AsyncClient, chain: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = chain
    rows: list[list[object]] = [
        list(staff_row(1, phone="+86 139-0000-0001")),
        list(staff_row(2, phone="8613900000002")),
        list(staff_row(3)),
    ]
    rows[2][0] = 13900000003  # Excel kept it as a number
    r = await upload(client, URL, to_xlsx(STAFF_HEADERS_EN, rows), headers, "staff.xlsx")
    assert r.status_code == 201, r.text
    phones = set(await staff_by_phone(state, tenant))
    assert {"13900000001", "13900000002", "13900000003"} <= phones


async def test_reimport_updates_and_replaces_store_assignments(
    state: AppState, client: httpx.AsyncClient, chain: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = chain
    first = [staff_row(1, stores="SH001|SH002"), staff_row(2, stores="SH002")]
    assert (await upload(client, URL, to_csv(STAFF_HEADERS_EN, first), headers)).status_code == 201
    before = await staff_by_phone(state, tenant)
    # when the file comes again: guide 1 moves to SH003 only and is renamed, guide 2 unchanged
    second = [staff_row(1, name="新名字", stores="SH003"), staff_row(2, stores="SH002")]
    r = await upload(client, URL, to_csv(STAFF_HEADERS_EN, second), headers)
    assert r.status_code == 201, r.text
    assert (r.json()["created"], r.json()["updated"]) == (0, 2)
    after = await staff_by_phone(state, tenant)
    assert after["13900000001"][0].name == "新名字"
    assert after["13900000001"][1] == ["SH003"]
    assert after["13900000002"][1] == ["SH002"]
    assert after["13900000001"][0].public_id == before["13900000001"][0].public_id
    assert await counts(state, tenant) == {"stores": 3, "staff": 3, "assignments": 2, "jobs": 3}


async def test_reimport_keeps_passwords_and_unlisted_assignments_without_stores_column(
    state: AppState, client: httpx.AsyncClient, chain: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = chain
    await upload(
        client, URL, to_csv(STAFF_HEADERS_EN, [staff_row(1, stores="SH001|SH002")]), headers
    )
    # the owner is in the file too (phone 13800000001), renamed
    data = to_csv(
        ["phone", "name", "role"],
        [["13900000001", "改名", "guide"], ["13800000001", "老板", "owner"]],
    )
    r = await upload(client, URL, data, headers)
    assert r.status_code == 201, r.text
    staff = await staff_by_phone(state, tenant)
    assert staff["13900000001"][1] == ["SH001", "SH002"]
    assert staff["13800000001"][0].name == "老板"
    assert staff["13800000001"][0].password_hash is not None
    # the owner still logs in with their password
    await token_for(client, tenant.slug, "13800000001")


BAD_CELLS = [
    ({"phone": "12345"}, "phone", "手机号", "bad_phone", "Not an 11-digit mobile number: 12345"),
    (
        {"phone": "23900000001"},
        "phone",
        "手机号",
        "bad_phone",
        "Not an 11-digit mobile number: 23900000001",
    ),
    ({"phone": ""}, "phone", "手机号", "required", "This column must not be empty"),
    ({"name": ""}, "name", "姓名", "required", "This column must not be empty"),
    (
        {"role": "boss"},
        "role",
        "角色",
        "bad_role",
        "Not a role: boss (owner, manager, store_manager, guide, cashier)",
    ),
    ({"stores": "SH001|XX9"}, "stores", "门店", "unknown_store", "No store with code XX9"),
    (
        {"stores": ""},
        "stores",
        "门店",
        "store_required",
        "This role must be assigned to at least one store",
    ),
    ({"employee_no": "E" * 41}, "employee_no", "工号", "too_long", "At most 40 characters"),
]


@pytest.mark.parametrize(("cells", "field", "column", "code", "reason"), BAD_CELLS)
async def test_one_bad_staff_row_rejects_the_file(
    state: AppState,
    client: httpx.AsyncClient,
    chain: tuple[Tenant, dict[str, str]],
    cells: dict[str, str],
    field: str,
    column: str,
    code: str,
    reason: str,
) -> None:
    tenant, headers = chain
    rows = [staff_row(n) for n in range(1, 5)]
    rows[2] = staff_row(3, **cells)
    r = await upload(client, URL, to_csv(STAFF_HEADERS_ZH, rows), headers | EN)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"row": 4, "column": column, "field": field, "code": code, "reason": reason}
    ]
    assert await counts(state, tenant) == {"stores": 3, "staff": 1, "assignments": 0, "jobs": 2}


async def test_duplicate_phones_and_another_merchants_store_are_bad_rows(
    state: AppState, client: httpx.AsyncClient, chain: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = chain
    other = await make_merchant(state, "other", "Other")
    await make_staff(state, other, phone="13700000000")
    other_headers = await token_for(client, "other", "13700000000")
    await upload(
        client, "/api/v1/imports/stores", to_csv(["code", "name"], [["OT1", "x"]]), other_headers
    )
    rows = [
        staff_row(1),
        staff_row(2, stores="OT1"),  # another merchant's store: unknown here
        staff_row(1, name="again"),  # duplicate of row 2
        staff_row(3, phone="139 0000 0001"),  # the same phone, written differently
    ]
    r = await upload(client, URL, to_csv(STAFF_HEADERS_EN, rows), headers | EN)
    assert r.status_code == 422
    assert [(e["row"], e["column"], e["reason"]) for e in r.json()["errors"]] == [
        (3, "stores", "No store with code OT1"),
        (4, "phone", "Phone 13900000001 is also on row 2"),
        (5, "phone", "Phone 13900000001 is also on row 2"),
    ]
    assert (await counts(state, tenant))["staff"] == 1
    assert (await counts(state, other))["staff"] == 1


async def test_a_manager_cannot_import_owners_or_managers(
    state: AppState, client: httpx.AsyncClient, chain: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, _owner_headers = chain
    await make_staff(state, tenant, phone="13600000000", role="manager", name="经理")
    manager = await token_for(client, tenant.slug, "13600000000")
    rows = [
        ["13600000000", "经理", "owner", ""],  # making themselves owner
        ["13800000001", "Owner", "guide", "SH001"],  # demoting the owner
        ["13500000000", "新经理", "manager", ""],  # adding a manager
        ["13900000001", "导购", "guide", "SH001"],
    ]
    r = await upload(client, URL, to_csv(["phone", "name", "role", "stores"], rows), manager | EN)
    assert r.status_code == 422
    reason = "Only an owner may add, change or promote owners and managers"
    assert [(e["row"], e["column"], e["code"], e["reason"]) for e in r.json()["errors"]] == [
        (2, "role", "owner_required", reason),
        (3, "phone", "owner_required", reason),
        (4, "role", "owner_required", reason),
    ]
    staff = await staff_by_phone(state, tenant)
    assert (staff["13600000000"][0].role, staff["13800000001"][0].role) == ("manager", "owner")
    assert "13900000001" not in staff
    # the same manager may import guides
    ok = await upload(client, URL, to_csv(["phone", "name", "role", "stores"], rows[3:]), manager)
    assert ok.status_code == 201, ok.text


async def test_the_last_owner_cannot_be_demoted_by_import(
    state: AppState, client: httpx.AsyncClient, chain: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = chain
    demote = [["13800000001", "Owner", "manager", ""], ["13900000001", "导购", "guide", "SH001"]]
    data = to_csv(["phone", "name", "role", "stores"], demote)
    r = await upload(client, URL, data, headers | EN)
    assert r.status_code == 422
    assert [(e["row"], e["code"], e["reason"]) for e in r.json()["errors"]] == [
        (2, "last_owner", "The merchant's last active owner cannot be demoted"),
    ]
    assert (await staff_by_phone(state, tenant))["13800000001"][0].role == "owner"
    # with a new owner in the same file, handing over is fine
    handover = [*demote, ["13700000007", "新店主", "店主", ""]]
    r = await upload(client, URL, to_csv(["phone", "name", "role", "stores"], handover), headers)
    assert r.status_code == 201, r.text
    staff = await staff_by_phone(state, tenant)
    assert (staff["13800000001"][0].role, staff["13700000007"][0].role) == ("manager", "owner")


async def test_without_a_stores_column_new_store_staff_are_bad_rows(
    state: AppState, client: httpx.AsyncClient, chain: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = chain
    await upload(client, URL, to_csv(STAFF_HEADERS_EN, [staff_row(1)]), headers)
    # guide 1 exists with a store; guide 2 would be a guide in no store
    data = to_csv(
        ["phone", "name", "role"],
        [["13900000001", "老导购", "guide"], ["13900000002", "新导购", "guide"]],
    )
    r = await upload(client, URL, data, headers | EN)
    assert r.status_code == 422
    assert [(e["row"], e["column"], e["code"]) for e in r.json()["errors"]] == [
        (3, "stores", "store_required")
    ]
    assert (await counts(state, tenant))["staff"] == 2
