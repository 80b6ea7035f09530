"""Payment accounts for the demo: the sandbox always, WeChat Pay and Alipay against the
stand-ins when they run.

    with PaymentStandins() as standins:            # loopmall.standins.harness
        settings.wechatpay_base_url = standins.wechatpay_url
        settings.alipay_gateway_url = standins.alipay_gateway_url
        async with UnitOfWork(state.write_factory) as uow:
            await configure_demo_accounts(
                uow.session, tenant,
                wechatpay=standins.new_wechatpay_merchant(name="VERO MODA"),
                alipay=standins.new_alipay_app(name="VERO MODA"),
            )
            await uow.commit()

Keys kept across restarts (``WeChatPayMerchantKeys.to_dict`` / ``from_dict``) must be
registered with a fresh stand-in again (``standins.wechatpay.add_merchant(keys)``,
``standins.alipay.add_app(keys)``) before paying.

It is the demo's, not payments': it takes the stand-ins' keys, and payments must not import
the stand-ins (they speak the providers' protocols back and sit below every domain).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.tenancy import Tenant
from loopmall.payments import accounts, codes, sandbox
from loopmall.payments.models import PaymentAccount

if TYPE_CHECKING:
    from loopmall.standins.keys import AlipayAppKeys, WeChatPayMerchantKeys


async def configure_demo_accounts(
    session: AsyncSession,
    tenant: Tenant,
    *,
    wechatpay: WeChatPayMerchantKeys | None = None,
    alipay: AlipayAppKeys | None = None,
) -> list[PaymentAccount]:
    """The merchant's sandbox account (kept if it exists), plus WeChat Pay / Alipay accounts
    for the given stand-in keys; and every store's and guide's payment code."""
    made: list[PaymentAccount] = []
    existing = {a.provider: a for a in await accounts.list_accounts(session, tenant)}
    if "sandbox" in existing:
        made.append(existing["sandbox"])
    else:
        made.append(
            await accounts.configure_account(session, tenant, "sandbox", sandbox.new_credentials())
        )
    if wechatpay is not None:
        made.append(
            await accounts.configure_account(session, tenant, "wechatpay", asdict(wechatpay.config))
        )
    if alipay is not None:
        made.append(
            await accounts.configure_account(session, tenant, "alipay", asdict(alipay.config))
        )
    await codes.ensure_codes(session, tenant)
    return made
