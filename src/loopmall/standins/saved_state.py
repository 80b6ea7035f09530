"""The payment stand-ins' trades and refunds kept in a file across restarts (issue #14
item 6). The real WeChat Pay and Alipay remember every trade; stand-ins that forgot theirs
on a restart made the next daily reconciliation report every earlier payment as a
difference (24 in one demo run). The demo saves them in its data folder while it runs and
when it stops, and loads them when it starts.

    saved = SavedState(path, wechatpay, alipay)
    saved.load()            # what the last run left, if anything
    saved.start()           # save every few seconds while something changed
    saved.stop()            # save once more and stop
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from loopmall.standins.alipay import AlipayStandin
from loopmall.standins.alipay_models import AliTrade
from loopmall.standins.wechatpay import WeChatPayStandin
from loopmall.standins.wechatpay_models import WxRefund, WxTrade

log = logging.getLogger(__name__)

VERSION = 1
SAVE_EVERY_SECONDS = 2.0

_wx_trades = TypeAdapter(list[WxTrade])
_wx_refunds = TypeAdapter(list[WxRefund])
_ali_trades = TypeAdapter(list[AliTrade])


def snapshot(wechatpay: WeChatPayStandin, alipay: AlipayStandin) -> dict[str, Any]:
    """Both stand-ins' trades and refunds as plain JSON data."""
    with wechatpay.lock:
        wx_trades = list(wechatpay.trades.values())
        wx_refunds = list(wechatpay.refunds.values())
    with alipay.lock:
        ali_trades = list(alipay.trades.values())
    return {
        "version": VERSION,
        "wechatpay": {
            "trades": _wx_trades.dump_python(wx_trades, mode="json"),
            # A refund names its trade; the trade itself is kept once, above.
            "refunds": [
                {**r, "trade": None}
                for r in _wx_refunds.dump_python(
                    wx_refunds, mode="json", exclude={"__all__": {"trade"}}
                )
            ],
            "refund_trades": [[r.trade.mchid, r.trade.out_trade_no] for r in wx_refunds],
        },
        "alipay": {"trades": _ali_trades.dump_python(ali_trades, mode="json")},
    }


def restore(wechatpay: WeChatPayStandin, alipay: AlipayStandin, data: dict[str, Any]) -> int:
    """Put a snapshot's trades and refunds back; returns how many trades came back."""
    if data.get("version") != VERSION:
        return 0
    wx = data.get("wechatpay", {})
    trades = {(t.mchid, t.out_trade_no): t for t in _wx_trades.validate_python(wx["trades"])}
    refunds: dict[tuple[str, str], WxRefund] = {}
    for raw, key in zip(wx["refunds"], wx["refund_trades"], strict=True):
        refund = WxRefund(**{**raw, "trade": trades[(key[0], key[1])]})
        refunds[(refund.mchid, refund.out_refund_no)] = refund
    ali = _ali_trades.validate_python(data.get("alipay", {}).get("trades", []))
    with wechatpay.lock:
        wechatpay.trades.update(trades)
        wechatpay.refunds.update(refunds)
    with alipay.lock:
        alipay.trades.update({(t.app_id, t.out_trade_no): t for t in ali})
    return len(trades) + len(ali)


class SavedState:
    """Keeps the two payment stand-ins' trades in ``path`` (written whole, then renamed
    over the old file, so a crash never leaves half a file)."""

    def __init__(self, path: Path, wechatpay: WeChatPayStandin, alipay: AlipayStandin) -> None:
        self.path = path
        self.wechatpay = wechatpay
        self.alipay = alipay
        self._written = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self) -> int:
        if not self.path.exists():
            return 0
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return restore(self.wechatpay, self.alipay, data)
        except (ValueError, KeyError, TypeError) as exc:  # a damaged file: start empty
            log.warning("stand-in state %s not loaded: %s", self.path, exc)
            return 0

    def save(self) -> bool:
        """Write the file if anything changed since the last write; whether it wrote."""
        text = json.dumps(snapshot(self.wechatpay, self.alipay), ensure_ascii=False)
        if text == self._written:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, self.path)
        self._written = text
        return True

    def start(self) -> SavedState:
        def run() -> None:
            while not self._stop.wait(SAVE_EVERY_SECONDS):
                try:
                    self.save()
                except OSError as exc:
                    log.warning("stand-in state %s not saved: %s", self.path, exc)

        self._thread = threading.Thread(target=run, name="standin-state", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.save()
