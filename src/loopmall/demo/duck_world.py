"""The Nanjing duck seller's community (SPEC "Demo world"): the regulars of the 夫子庙 shop,
who joined its 鸭友会 through the join code on the counter, and pass the whole duck on to
each other (a share chain). Loaded through the domains' services, in the caller's
transaction. (Its articles come with the content domain.)"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.tenancy import Tenant
from loopmall.customers.service import customer_for, new_consumer
from loopmall.members.service import JoinOffer, join
from loopmall.o2o import service as o2o
from loopmall.social.demo import demo_share_chain

REGULARS = ("老周", "秦阿婆", "小陶", "马师傅", "钱老师", "方姐", "阿杰", "顾奶奶")
CLUB = "鸭友会"


async def build(session: AsyncSession, tenant: Tenant, *, product_public_id: str) -> int:
    """The club's join code, its members (the regulars) and a share chain of
    ``product_public_id``; returns how many joined the club."""
    code = await o2o.create_channel(
        session,
        tenant,
        kind="join",
        name=f"柜台二维码 · 加入{CLUB}",
        poster_title=f"扫码加入{CLUB}",
        poster_text="会员价买鸭，每周三到店优先取新出炉的鸭",
        coupon_title=f"{CLUB}见面礼",
        coupon_fen=500,
        coupon_threshold_fen=5000,
    )
    offer = JoinOffer(
        channel_id=code.id,
        coupon_title=code.coupon_title,
        coupon_fen=code.coupon_fen,
        coupon_threshold_fen=code.coupon_threshold_fen or 0,
    )
    for name in REGULARS:
        consumer = await new_consumer(session, display_name=name)
        customer = await customer_for(session, tenant, consumer, display_name=name)
        await join(session, tenant, customer.id, offer=offer)
    chain = await demo_share_chain(session, tenant, product_public_id=product_public_id)
    for customer_id in chain.customer_ids:  # the sharers are regulars too
        await join(session, tenant, customer_id, offer=offer)
    return len(REGULARS) + len(chain.customer_ids)
