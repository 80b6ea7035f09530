"""The service functions other domains and the demo loader call, used directly."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.merchants import mall, service, stores
from loopmall.merchants.mall import InvalidBlocks
from loopmall.staff import service as staff
from loopmall.staff.models import Staff


async def test_a_fruit_stall_a_store_a_guide_and_its_home_page(state: AppState) -> None:
    async with UnitOfWork(state.write_factory) as uow:
        merchant, owner = await service.onboard_merchant(
            uow.session,
            name="王记水果",
            slug="wang-fruit",
            owner_name="王阿姨",
            owner_phone="13912345678",
            owner_password="apples-and-pears",
        )
        tenant = Tenant(merchant.id, merchant.slug)
        store = await stores.create_store(
            uow.session, tenant, code="WF01", name="校门口", opening_hours="07:00-19:00"
        )
        guide = await staff.create_staff(
            uow.session,
            tenant,
            phone="13900000001",
            name="小李",
            role="guide",
            stores=[store.public_id],
        )
        settings = await mall.update_mall_settings(
            uow.session,
            tenant,
            primary_color="#0A7A3B",
            blocks=[{"type": "article", "title": "我们的故事", "body": "…"}],
        )
        await uow.commit()
    assert owner.role == "owner"
    assert store.opening_hours["sun"] == [["07:00", "19:00"]]
    assert guide.password_hash is None
    assert (settings.mall_name, settings.primary_color) == ("王记水果", "#0a7a3b")
    assert settings.blocks == [{"title": "我们的故事", "type": "article", "body": "…"}]


async def test_bad_blocks_through_the_service_raise_invalid_blocks(state: AppState) -> None:
    async with UnitOfWork(state.write_factory) as uow:
        merchant, _owner = await service.onboard_merchant(
            uow.session,
            name="Acme",
            slug="acme",
            owner_name="O",
            owner_phone="13900000000",
            owner_password="password-1",
        )
        tenant = Tenant(merchant.id, merchant.slug)
        with pytest.raises(InvalidBlocks) as caught:
            await mall.update_mall_settings(uow.session, tenant, blocks=[{"type": "video"}])
    assert caught.value.extra["errors"][0]["loc"] == ["blocks", "0"]


async def test_two_owners_leaving_at_once_leave_one_owner(state: AppState) -> None:
    async with UnitOfWork(state.write_factory) as uow:
        merchant, first = await service.onboard_merchant(
            uow.session,
            name="Acme",
            slug="acme",
            owner_name="A",
            owner_phone="13900000000",
            owner_password="password-1",
        )
        tenant = Tenant(merchant.id, merchant.slug)
        second = await staff.create_staff(
            uow.session, tenant, phone="13900000001", name="B", role="owner"
        )
        await uow.commit()

    async def leave(public_id: str) -> str:
        async with UnitOfWork(state.write_factory) as uow:
            try:
                await staff.update_staff(uow.session, tenant, public_id, {"active": False})
            except staff.LastOwner:
                return "refused"
            await uow.commit()
            return "left"

    outcomes = await asyncio.gather(leave(first.public_id), leave(second.public_id))
    assert sorted(outcomes) == ["left", "refused"]
    async with UnitOfWork(state.read_factory) as uow:
        active = list(
            await uow.session.scalars(
                select(Staff.name).where(Staff.role == "owner", Staff.active.is_(True))
            )
        )
    assert len(active) == 1
