"""customers.addresses on both databases: one default, the first address is it, removing
the default hands it on, another customer's address is not found, the book holds 20, the
checkout's ``remember`` keeps an address once."""

from __future__ import annotations

import pytest

from loopmall.core.errors import ValidationFailed
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.customers import addresses
from loopmall.customers.service import customer_for, new_consumer
from tests.factories import make_merchant


async def test_the_address_book(state: AppState) -> None:
    tenant = await make_merchant(state)
    async with UnitOfWork(state.write_factory) as uow:
        s = uow.session
        me = (await customer_for(s, tenant, await new_consumer(s, display_name="甲"))).id
        other = (await customer_for(s, tenant, await new_consumer(s, display_name="乙"))).id
        home = await addresses.add_address(s, tenant, me, name="甲", phone="139", address="家")
        office = await addresses.add_address(
            s, tenant, me, name="甲", phone="139", address="公司", make_default=True
        )
        assert [a.address for a in await addresses.list_addresses(s, tenant, me)] == [
            "公司",
            "家",
        ]
        assert (await addresses.default_address(s, tenant, me)) is office
        with pytest.raises(addresses.AddressNotFound):
            await addresses.set_default(s, tenant, other, home.public_id)
        with pytest.raises(ValidationFailed):
            await addresses.add_address(s, tenant, me, name=" ", phone="139", address="家")
        await addresses.remove_address(s, tenant, me, office.public_id)
        assert (await addresses.default_address(s, tenant, me)) is home

        assert await addresses.remember(s, tenant, me, name="甲", phone="139", address="家") is None
        kept = await addresses.remember(s, tenant, other, name="乙", phone="138", address="店")
        assert kept is not None and kept.is_default
        for n in range(19):
            await addresses.add_address(s, tenant, me, name="甲", phone="139", address=f"{n}")
        with pytest.raises(addresses.AddressBookFull):
            await addresses.add_address(s, tenant, me, name="甲", phone="139", address="多")
        assert await addresses.remember(s, tenant, me, name="甲", phone="139", address="多") is None
        await uow.commit()
