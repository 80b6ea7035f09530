"""The o2o contract other domains call (``ensure_store_code``, ``ensure_guide_code``,
``codes_for_guide``, ``is_member``, ``after_login``) and the table of what each kind of code
needs, checked against every combination of targets."""

from __future__ import annotations

import itertools

import httpx
import pytest

from loopmall.core.errors import LoopmallError, NotFound
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.o2o import members, service
from loopmall.o2o.rules import NEEDS, ChannelKind, ChannelTargetInvalid, NotAGuide
from tests.factories import make_merchant, make_staff
from tests.o2o.world import World, make_world


@pytest.fixture
async def world(state: AppState, client: httpx.AsyncClient) -> World:
    return await make_world(state, client)


async def test_ensure_codes_make_one_and_keep_it(state: AppState, world: World) -> None:
    tenant = world.mall.tenant
    async with UnitOfWork(state.write_factory) as uow:
        store = await service.ensure_store_code(uow.session, tenant, world.store_id)
        guide = await service.ensure_guide_code(uow.session, tenant, world.guide.staff_id)
        await uow.commit()
    async with UnitOfWork(state.write_factory) as uow:
        assert (await service.ensure_store_code(uow.session, tenant, world.store_id)).id == store.id
        again = await service.ensure_guide_code(uow.session, tenant, world.guide.staff_id)
        assert again.id == guide.id
        assert (store.kind, guide.kind, guide.store_id) == ("store", "guide", world.store_id)
        views = await service.codes_for_guide(uow.session, tenant, world.guide.staff_id)
        assert [v.public_id for v in views] == [guide.public_id]
        assert views[0].guide_name == "小美" and views[0].url.endswith(f"/q/{guide.code}")


async def test_codes_for_guide_lists_their_own_code_first(
    state: AppState, client: httpx.AsyncClient, world: World
) -> None:
    product = await client.post(
        "/api/v1/channels",
        json={
            "kind": "product",
            "store": world.store,
            "guide": world.guide.public_id,
            "product": world.mall.coat,
        },
        headers=world.owner,
    )
    assert product.status_code == 201
    async with UnitOfWork(state.write_factory) as uow:
        views = await service.codes_for_guide(uow.session, world.mall.tenant, world.guide.staff_id)
        await uow.commit()
    assert [v.kind for v in views] == ["guide", "product"]
    assert views[1].public_id == product.json()["id"]


async def test_the_contract_refuses_other_merchants_and_non_guides(
    state: AppState, world: World
) -> None:
    rival = await make_merchant(state, "rival", "Rival")
    cashier = await make_staff(state, world.mall.tenant, phone="13800000009", role="cashier")
    async with UnitOfWork(state.write_factory) as uow:
        with pytest.raises(NotFound):
            await service.ensure_store_code(uow.session, rival, world.store_id)
        with pytest.raises(NotFound):
            await service.ensure_guide_code(uow.session, rival, world.guide.staff_id)
        with pytest.raises(NotAGuide):
            await service.ensure_guide_code(uow.session, world.mall.tenant, cashier.staff_id)
        assert await members.is_member(uow.session, world.mall.tenant, None) is False
        for bad in (None, "", "x", "v_short", "v_" + "a" * 60, "v_bad id with spaces!!"):
            assert await service.after_login(uow.session, world.mall.tenant, bad, 1) == 0


async def test_what_each_kind_needs(state: AppState, world: World) -> None:
    """Every kind × every subset of targets: made exactly when the table allows it."""
    tenant = world.mall.tenant
    targets = {
        "store_public_id": world.store,
        "guide_public_id": world.guide.public_id,
        "product_public_id": world.mall.coat,
        "place_name": "街角咖啡",
    }
    for kind in ChannelKind:
        for given in itertools.product((False, True), repeat=4):
            allowed = all(
                (need is not True or has) and (need is not False or not has)
                for need, has in zip(NEEDS[kind], given, strict=True)
            )
            kwargs = {k: v for (k, v), on in zip(targets.items(), given, strict=True) if on}
            async with UnitOfWork(state.write_factory) as uow:
                try:
                    made = await service.create_channel(uow.session, tenant, kind=kind, **kwargs)
                except ChannelTargetInvalid:
                    assert not allowed, (kind, given)
                    continue
                except LoopmallError as exc:  # pragma: no cover - shows what went wrong
                    raise AssertionError((kind, given, exc.code)) from exc
                assert allowed, (kind, given)
                assert made.kind == kind.value
                # not committed: the one-per-store/guide codes stay free for the next case
