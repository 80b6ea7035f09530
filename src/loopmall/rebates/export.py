"""CSV exports of the ledger and of a settlement: UTF-8 with a byte-order mark so that
Excel opens the Chinese names as Chinese; amounts in yuan with two decimals, times in
Asia/Shanghai; the header row in Chinese and English. Written by ``core.csv_export``, which
keeps every cell from running as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime

from loopmall.core.clock import local
from loopmall.core.csv_export import BOM, Cell, csv_bytes, neutralise
from loopmall.core.money import format_yuan
from loopmall.rebates.schemas import EntryOut, SettlementLineOut, SettlementOut

ENTRY_HEADER = [
    "时间 time",
    "订单号 order",
    "类型 kind",
    "角色 role",
    "规则 rule",
    "受益人类型 earner kind",
    "受益人 earner",
    "受益人编号 earner id",
    "门店 store",
    "计佣金额 base (yuan)",
    "比例 rate (bp)",
    "佣金 commission (yuan)",
    "结算单 settlement",
]

LINE_HEADER = [
    "结算单 settlement",
    "截止 period end",
    "受益人类型 earner kind",
    "受益人 earner",
    "受益人编号 earner id",
    "门店 store",
    "笔数 entries",
    "佣金 earned (yuan)",
    "退款扣回 clawed back (yuan)",
    "应结 net (yuan)",
]


def entry_rows(entries: Sequence[EntryOut]) -> list[list[str]]:
    return [
        [
            local(e.at).strftime("%Y-%m-%d %H:%M:%S"),
            e.order_number or "",
            e.kind,
            e.role,
            e.rule,
            e.earner.kind,
            e.earner.name,
            e.earner.id or "",
            e.store_name,
            format_yuan(e.base_fen),
            str(e.rate_bp),
            format_yuan(e.amount_fen),
            e.settlement or "",
        ]
        for e in entries
    ]


def entries_csv(entries: Sequence[EntryOut]) -> bytes:
    """Ledger lines as one CSV file (the API streams them in pieces instead)."""
    return csv_bytes(ENTRY_HEADER, entry_rows(entries))


def rows_bytes(rows: Sequence[Sequence[Cell]], *, header: bool = False) -> bytes:
    """Some rows of a CSV file written piece by piece (``header``: the first piece, with
    the byte-order mark); cells neutralised as ``core.csv_export`` does."""
    buffer = io.StringIO()
    if header:
        buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([neutralise(c) for c in row] for row in rows)
    return buffer.getvalue().encode("utf-8")


def settlement_rows(
    settlement_id: str, period_end: datetime, lines: Sequence[SettlementLineOut]
) -> list[list[str]]:
    end = local(period_end).strftime("%Y-%m-%d %H:%M")
    return [
        [
            settlement_id,
            end,
            line.earner.kind,
            line.earner.name,
            line.earner.id or "",
            line.store_name,
            str(line.entries),
            format_yuan(line.earned_fen),
            format_yuan(line.clawed_back_fen),
            format_yuan(line.net_fen),
        ]
        for line in lines
    ]


def settlement_csv(settlement: SettlementOut) -> bytes:
    """A settlement with its lines as one CSV file (the API streams it in pieces instead)."""
    rows = settlement_rows(settlement.id, settlement.period_end, settlement.lines or [])
    return csv_bytes(LINE_HEADER, rows)
