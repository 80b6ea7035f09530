"""Import files as people make them: CSV in UTF-8 / BOM / GBK and XLSX, English or Chinese."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook

STORE_HEADERS_EN = [
    "code",
    "name",
    "city",
    "district",
    "address",
    "phone",
    "latitude",
    "longitude",
    "opening_hours",
    "pickup",
]
STORE_HEADERS_ZH = [
    "门店编码",
    "门店名称",
    "城市",
    "区县",
    "地址",
    "电话",
    "纬度",
    "经度",
    "营业时间",
    "自提",
]
STAFF_HEADERS_EN = ["phone", "name", "role", "stores", "employee_no"]
STAFF_HEADERS_ZH = ["手机号", "姓名", "角色", "门店", "工号"]


def store_row(n: int, **overrides: str) -> list[str]:
    """A good store row; ``overrides`` by English header."""
    values = {
        "code": f"SH{n:03d}",
        "name": f"南京西路{n}号店",
        "city": "上海",
        "district": "静安区",
        "address": f"南京西路{1000 + n}号",
        "phone": "021-62881234",
        "latitude": "31.2304",
        "longitude": "121.4737",
        "opening_hours": "10:00-22:00",
        "pickup": "是",
    }
    values.update(overrides)
    return [values[h] for h in STORE_HEADERS_EN]


def staff_row(n: int, **overrides: str) -> list[str]:
    """A good guide row; ``overrides`` by English header."""
    values = {
        "phone": f"139{n:08d}",
        "name": f"导购{n}",
        "role": "导购",
        "stores": "SH001",
        "employee_no": f"E{n:04d}",
    }
    values.update(overrides)
    return [values[h] for h in STAFF_HEADERS_EN]


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[str]], encoding: str = "utf-8") -> bytes:
    """CSV bytes; ``encoding`` "utf-8-sig" writes a BOM, "gbk" what Excel in China writes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def to_xlsx(headers: Sequence[object], rows: Sequence[Sequence[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def stores_csv(count: int, encoding: str = "utf-8", chinese: bool = False) -> bytes:
    headers = STORE_HEADERS_ZH if chinese else STORE_HEADERS_EN
    return to_csv(headers, [store_row(n) for n in range(1, count + 1)], encoding)
