"""Bulk import: 1,800 stores then 20,000 guides (S0's chain), as the CLI and console run it.

For each backend, on a fresh database: import the stores file, then the guides file (each
guide in one or two of the stores), then the guides file again (every row an update, every
assignment unchanged). Reported per step: seconds to read and check the file (parse +
validate), seconds to write it (upserts + commit), and rows per second overall.
Small size: 180 stores and 2,000 guides.
"""

from __future__ import annotations

import time

from bench.harness import BenchContext, Row
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.imports.formats import ImportKind, read_table
from loopmall.imports.service import Actor, run_import
from loopmall.merchants.service import onboard_merchant

NAME = "import"
MAX_BYTES = 200 * 1024 * 1024


def stores_file(count: int) -> bytes:
    """Chinese headers, GBK, as Excel in China saves it."""
    lines = ["门店编码,门店名称,城市,区县,地址,电话,纬度,经度,营业时间,自提"]
    for n in range(count):
        lines.append(
            f"VM{n:05d},VERO MODA {n}号店,上海,静安区,南京西路{n}号,021-6288{n % 10000:04d},"
            f"{31 + (n % 1000) / 1000:.4f},{121 + (n % 997) / 1000:.4f},"
            f"周一至周五 10:00-22:00；周六、周日 09:30-22:30,{'是' if n % 3 else '否'}"
        )
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


def guides_file(count: int, stores: int) -> bytes:
    lines = ["手机号,姓名,角色,门店,工号"]
    for n in range(count):
        home, second = n % stores, (n * 7 + 1) % stores
        codes = f"VM{home:05d}" if n % 4 else f"VM{home:05d}|VM{second:05d}"
        lines.append(f"139{n:08d},导购{n},导购,{codes},E{n:06d}")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")


async def _merchant(state: AppState) -> Tenant:
    async with UnitOfWork(state.write_factory) as uow:
        merchant, _owner = await onboard_merchant(
            uow.session,
            name="VERO MODA",
            slug="vero",
            owner_name="店主",
            owner_phone="13800000000",
            owner_password="bench-password",
        )
        await uow.commit()
        return Tenant(merchant.id, merchant.slug)


async def _timed_import(
    state: AppState, tenant: Tenant, kind: ImportKind, data: bytes
) -> tuple[int, float, float, int, int]:
    """(rows, parse+validate seconds, write seconds, created, updated)."""
    started = time.perf_counter()
    table = read_table(data, kind, max_bytes=MAX_BYTES)
    writing_at: list[float] = []

    async def report(phase: str, done: int, total: int) -> None:
        if phase == "writing" and not writing_at:
            writing_at.append(time.perf_counter())

    async with UnitOfWork(state.write_factory) as uow:
        summary = await run_import(uow.session, tenant, table, Actor("cli"), report=report)
        await uow.commit()
    finished = time.perf_counter()
    checked = writing_at[0] if writing_at else finished
    return summary.rows, checked - started, finished - checked, summary.created, summary.updated


async def run(ctx: BenchContext) -> list[Row]:
    store_count = ctx.size(180, 1800)
    guide_count = ctx.size(2000, 20000)
    files = {
        "stores": (ImportKind.STORES, stores_file(store_count)),
        "guides": (ImportKind.STAFF, guides_file(guide_count, store_count)),
        "guides_again": (ImportKind.STAFF, guides_file(guide_count, store_count)),
    }
    rows: list[Row] = []
    for backend in ctx.backends:
        async with ctx.fresh_state(backend) as state:
            tenant = await _merchant(state)
            total_rows, total_seconds = 0, 0.0
            for step, (kind, data) in files.items():
                count, check_s, write_s, created, updated = await _timed_import(
                    state, tenant, kind, data
                )
                expected_new = 0 if step == "guides_again" else count
                assert (created, updated) == (expected_new, count - expected_new), (step, created)
                params = {"rows": count, "created": created, "updated": updated}
                seconds = check_s + write_s
                rows += [
                    Row(NAME, backend, f"{step}_parse_validate", check_s, "s", params),
                    Row(NAME, backend, f"{step}_write", write_s, "s", params),
                    Row(NAME, backend, f"{step}_rows_per_s", count / seconds, "rows/s", params),
                ]
                if step != "guides_again":
                    total_rows += count
                    total_seconds += seconds
            rows.append(
                Row(
                    NAME,
                    backend,
                    "stores_and_guides_total",
                    total_seconds,
                    "s",
                    {"stores": store_count, "guides": guide_count, "rows": total_rows},
                )
            )
    return rows
