"""The console's import pages: the page itself, templates, the error report, and the catalog."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.imports.formats import ImportKind, read_table
from loopmall.imports.report import errors_csv
from loopmall.imports.service import REASONS
from loopmall.web.i18n import translations
from tests.imports.conftest import console_login, counts, upload
from tests.imports.samples import STORE_HEADERS_ZH, store_row, to_csv

HTML = {"Accept": "text/html"}


@pytest.fixture
async def logged_in(
    client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> tuple[Tenant, str]:
    tenant, _headers = owner
    return tenant, await console_login(client, tenant.slug, "13800000001")


@pytest.mark.parametrize(
    ("path", "title", "template"),
    [
        ("/console/stores/import", "导入门店", "/console/stores/import/template.csv"),
        ("/console/staff/import", "导入员工", "/console/staff/import/template.csv"),
    ],
)
async def test_import_page_renders_in_chinese(
    client: httpx.AsyncClient, logged_in: tuple[Tenant, str], path: str, title: str, template: str
) -> None:
    r = await client.get(path, headers=HTML)
    assert r.status_code == 200
    assert f"<h1>{title}</h1>" in r.text
    assert f'href="{template}"' in r.text
    assert 'id="import-form"' in r.text
    assert "还没有导入记录。" in r.text


async def test_import_page_lists_recent_imports(
    client: httpx.AsyncClient, logged_in: tuple[Tenant, str]
) -> None:
    _tenant, csrf = logged_in
    bad = to_csv(STORE_HEADERS_ZH, [store_row(1), store_row(1)])
    # the page's own upload path: cookie session + CSRF header
    r = await upload(client, "/api/v1/imports/stores", bad, {"X-CSRF-Token": csrf}, "bad.csv")
    assert r.status_code == 422
    page = await client.get("/console/stores/import?lang=en", headers=HTML)
    row = re.search(r"<tbody>(.*?)</tbody>", page.text, re.S)
    assert row is not None
    assert "bad.csv" in row[1]
    assert "Rejected" in row[1]
    assert f'href="/console/imports/{r.json()["import_id"]}/errors.csv"' in row[1]


async def test_cookie_upload_without_csrf_is_refused(
    state: AppState, client: httpx.AsyncClient, logged_in: tuple[Tenant, str]
) -> None:
    tenant, _csrf = logged_in
    data = to_csv(STORE_HEADERS_ZH, [store_row(1)])
    r = await upload(client, "/api/v1/imports/stores", data, {"X-CSRF-Token": "stale"})
    assert r.status_code == 403
    assert r.json()["code"] == "csrf_failed"
    assert (await counts(state, tenant))["stores"] == 0


async def test_anonymous_visitors_are_sent_to_login(client: httpx.AsyncClient) -> None:
    r = await client.get("/console/stores/import", headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login?next=/console/stores/import"


@pytest.mark.parametrize("kind", list(ImportKind))
async def test_templates_open_in_excel_and_import_as_is(
    client: httpx.AsyncClient, logged_in: tuple[Tenant, str], kind: ImportKind
) -> None:
    r = await client.get(f"/console/{kind.value}/import/template.csv")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == f'attachment; filename="{kind.value}-template.csv"'
    assert r.content.startswith(b"\xef\xbb\xbf")
    table = read_table(r.content, kind, max_bytes=10**6)
    assert table.headers["name"] == ("门店名称*" if kind is ImportKind.STORES else "姓名*")


async def test_template_imports_cleanly(
    state: AppState, client: httpx.AsyncClient, owner: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = owner
    stores = (await client.get("/console/stores/import/template.csv", headers=headers)).content
    assert (await upload(client, "/api/v1/imports/stores", stores, headers)).status_code == 201
    staff = (await client.get("/console/staff/import/template.csv", headers=headers)).content
    r = await upload(client, "/api/v1/imports/staff", staff.replace(b"SH002", b""), headers)
    assert r.status_code == 201, r.text
    assert await counts(state, tenant) == {"stores": 1, "staff": 2, "assignments": 1, "jobs": 2}


async def test_error_report_downloads_as_csv(
    client: httpx.AsyncClient, logged_in: tuple[Tenant, str]
) -> None:
    _tenant, csrf = logged_in
    rows = [store_row(1), store_row(2, latitude="x"), store_row(1)]
    r = await upload(
        client, "/api/v1/imports/stores", to_csv(STORE_HEADERS_ZH, rows), {"X-CSRF-Token": csrf}
    )
    report = await client.get(f"/console/imports/{r.json()['import_id']}/errors.csv")
    assert report.status_code == 200
    assert report.content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert lines == [
        ["行", "列", "原因"],
        ["3", "纬度", "不是数字：x"],
        ["4", "门店编码", "门店编码 SH001 与第 2 行重复"],
    ]
    assert (await client.get("/console/imports/imp_unknown/errors.csv")).status_code == 404


def test_report_cells_that_excel_would_run_are_quoted() -> None:
    errors = [{"row": 2, "field": "code", "column": "=cmd()", "code": "required", "params": {}}]
    lines = errors_csv(ImportKind.STORES, errors, "en").decode("utf-8-sig").splitlines()
    assert lines[1] == "2,'=cmd(),This column must not be empty"


def test_every_row_reason_has_a_chinese_translation_with_the_same_placeholders() -> None:
    zh = translations("zh_Hans")
    for kind, reasons in REASONS.items():
        for code, message in reasons.items():
            translated = zh.gettext(message)
            assert translated != message, (kind, code)
            assert sorted(re.findall(r"%\((\w+)\)s", translated)) == sorted(
                re.findall(r"%\((\w+)\)s", message)
            ), (kind, code)
