"""The outside world of the demo: WeChat Pay, Alipay, the WeChat service account and the SMS
gateway, played by the stand-ins on fixed local ports, with each demo merchant's accounts.

Keys are made once and kept in ``<data_dir>/demo-outside.json`` (secrets of a local demo,
nothing else), so the accounts in the database and the stand-ins agree across restarts:
every start registers the keys with the stand-ins again, and the payment stand-ins' trades
are kept in ``<data_dir>/demo-standins.json`` (``standins.saved_state``).

    keys = load_keys(settings, ["vero", ...])       # made on first use, then read back
    await connect_accounts(state, keys)              # payment accounts, 收款码, WeChat app
    with Outside(keys) as outside:                   # the stand-ins on their ports
        settings = outside.settings_for(settings)    # the app pointed at them
"""

from __future__ import annotations

import json
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import select

from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.customers.models import WechatApp
from loopmall.customers.service import add_wechat_app
from loopmall.demo.payment_accounts import configure_demo_accounts
from loopmall.merchants.models import Merchant
from loopmall.standins.alipay import AlipayStandin
from loopmall.standins.keys import (
    AlipayAppKeys,
    WeChatPayMerchantKeys,
    new_alipay_app,
    new_wechatpay_merchant,
)
from loopmall.standins.runner import ServedApp, serve
from loopmall.standins.saved_state import SavedState
from loopmall.standins.sms import SmsStandin
from loopmall.standins.wechat_oa import WechatOAStandin
from loopmall.standins.wechatpay import WeChatPayStandin

PORTS = {"wechatpay": 8801, "alipay": 8802, "wechat": 8803, "sms": 8804}
KEYS_FILE = "demo-outside.json"
STATE_FILE = "demo-standins.json"  # the payment stand-ins' trades, kept across restarts


@dataclass(frozen=True)
class MerchantKeys:
    slug: str
    name: str
    wechatpay: WeChatPayMerchantKeys
    alipay: AlipayAppKeys
    oa_appid: str
    oa_secret: str
    open_platform_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "name": self.name,
            "wechatpay": self.wechatpay.to_dict(),
            "alipay": self.alipay.to_dict(),
            "oa_appid": self.oa_appid,
            "oa_secret": self.oa_secret,
            "open_platform_id": self.open_platform_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MerchantKeys:
        return cls(
            slug=data["slug"],
            name=data["name"],
            wechatpay=WeChatPayMerchantKeys.from_dict(data["wechatpay"]),
            alipay=AlipayAppKeys.from_dict(data["alipay"]),
            oa_appid=data["oa_appid"],
            oa_secret=data["oa_secret"],
            open_platform_id=data["open_platform_id"],
        )


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


def _new_keys(slug: str, name: str) -> MerchantKeys:
    return MerchantKeys(
        slug=slug,
        name=name,
        wechatpay=new_wechatpay_merchant("19" + _digits(8), "wx" + secrets.token_hex(8), name=name),
        alipay=new_alipay_app("2021" + _digits(12), "2088" + _digits(12), name=name),
        oa_appid="wx" + secrets.token_hex(8),
        oa_secret=secrets.token_hex(16),
        open_platform_id="open-" + slug,
    )


def load_keys(settings: Settings, merchants: list[tuple[str, str]]) -> dict[str, MerchantKeys]:
    """Each merchant's outside keys by slug: read from the data dir, made when missing."""
    path = Path(settings.data_dir) / KEYS_FILE
    stored: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    keys = {slug: MerchantKeys.from_dict(data) for slug, data in stored.items()}
    missing = [(slug, name) for slug, name in merchants if slug not in keys]
    for slug, name in missing:
        keys[slug] = _new_keys(slug, name)
    if missing:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({s: k.to_dict() for s, k in keys.items()}, ensure_ascii=False))
        path.chmod(0o600)
    return keys


async def connect_accounts(state: AppState, keys: dict[str, MerchantKeys]) -> None:
    """Give each merchant its sandbox, WeChat Pay and Alipay accounts, its stores' and guides'
    payment codes, and its WeChat service account. Idempotent (accounts are replaced with
    the same keys; the WeChat app is added once)."""
    for slug, k in keys.items():
        async with UnitOfWork(state.write_factory) as uow:
            merchant = await uow.session.scalar(select(Merchant).where(Merchant.slug == slug))
            if merchant is None:
                continue
            tenant = Tenant(merchant.id, merchant.slug)
            await configure_demo_accounts(
                uow.session, tenant, wechatpay=k.wechatpay, alipay=k.alipay
            )
            has_app = await uow.session.scalar(
                select(WechatApp.id).where(
                    WechatApp.merchant_id == tenant.id, WechatApp.appid == k.oa_appid
                )
            )
            if has_app is None:
                await add_wechat_app(
                    uow.session,
                    tenant,
                    appid=k.oa_appid,
                    secret=k.oa_secret,
                    open_platform_id=k.open_platform_id,
                    # Named as its brand, as real service accounts are: the follow
                    # card already says 服务号 after the name.
                    name=k.name,
                )
            await uow.commit()


class PortTaken(RuntimeError):
    pass


def _check_free(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortTaken(
                f"Port {port} (the {what} stand-in) is in use: stop what runs there, "
                f"or is another demo still running?"
            ) from exc


class Outside:
    """The four stand-ins on their fixed ports, with the demo merchants registered."""

    def __init__(
        self,
        keys: dict[str, MerchantKeys],
        *,
        host: str = "127.0.0.1",
        ports: dict[str, int] | None = None,
        state_path: Path | None = None,
    ) -> None:
        self.keys = keys
        self.host = host
        self.ports = dict(PORTS if ports is None else ports)
        self.wechatpay = WeChatPayStandin()
        self.alipay = AlipayStandin()
        self.wechat = WechatOAStandin()
        self.sms = SmsStandin()
        self._servers: dict[str, ServedApp] = {}
        # The payment stand-ins' trades outlive a restart, as the real providers' do: the
        # daily reconciliation asks them about every earlier payment.
        self.saved = (
            SavedState(state_path, self.wechatpay, self.alipay) if state_path is not None else None
        )

    def start(self) -> Outside:
        for name, port in self.ports.items():
            if port:
                _check_free(self.host, port, name)
        for k in self.keys.values():
            self.wechatpay.add_merchant(k.wechatpay)
            self.alipay.add_app(k.alipay)
            self.wechat.add_app(
                k.oa_appid,
                k.oa_secret,
                open_platform_id=k.open_platform_id,
                name=k.name,
            )
        apps = {
            "wechatpay": self.wechatpay.app,
            "alipay": self.alipay.app,
            "wechat": self.wechat.app,
            "sms": self.sms.app,
        }
        if self.saved is not None:
            self.saved.load()
            self.saved.start()
        try:
            for name, app in apps.items():
                self._servers[name] = serve(app, host=self.host, port=self.ports[name]).start()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers = {}
        if self.saved is not None:
            self.saved.stop()

    def __enter__(self) -> Outside:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def url(self, name: str) -> str:
        return self._servers[name].url

    def settings_for(self, settings: Settings) -> Settings:
        """``settings`` with every outside base URL pointed at the stand-ins."""
        return settings.model_copy(
            update={
                "wechatpay_base_url": self.url("wechatpay"),
                "alipay_gateway_url": self.url("alipay") + "/gateway.do",
                "wechat_api_base_url": self.url("wechat"),
                "wechat_open_base_url": self.url("wechat"),
                "sms_base_url": self.url("sms"),
            }
        )
