"""Platform operators list dead event deliveries and retry them over the API."""

from __future__ import annotations

import httpx
import pytest

from loopmall.core.outbox import MAX_ATTEMPTS, Dispatcher
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from tests.factories import PASSWORD, make_merchant, make_staff, token_for
from tests.operations import world
from tests.operations.world import FLAKY, OPERATOR_EMAIL, OpsPing, OpsPong

DEAD = "/api/v1/platform/events/dead"


@pytest.fixture(autouse=True)
def _reset() -> None:
    world.reset()


@pytest.fixture
async def ops(state: AppState, client: httpx.AsyncClient) -> dict[str, str]:
    await world.make_operator(state)
    r = await client.post(
        "/api/v1/platform/auth/token", json={"email": OPERATOR_EMAIL, "password": PASSWORD}
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
async def merchants(state: AppState) -> tuple[Tenant, Tenant]:
    return await make_merchant(state, "acme", "Acme"), await make_merchant(state, "beta", "Beta")


async def test_lists_dead_deliveries_newest_first_with_their_errors(
    state: AppState,
    client: httpx.AsyncClient,
    ops: dict[str, str],
    merchants: tuple[Tenant, Tenant],
) -> None:
    acme, beta = merchants
    dead = await world.make_dead(
        state, OpsPing(merchant_id=acme.id, n=1), OpsPing(merchant_id=beta.id, n=2)
    )
    assert [d.subscriber for d in dead] == [FLAKY, FLAKY]
    r = await client.get(DEAD, headers=ops)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["next_cursor"] is None
    assert [(i["id"], i["merchant"], i["data"]) for i in body["items"]] == [
        (dead[1].id, "beta", {"merchant_id": beta.id, "n": 2}),
        (dead[0].id, "acme", {"merchant_id": acme.id, "n": 1}),
    ]
    item = body["items"][1]
    assert item["event_id"] == dead[0].event_id
    assert (item["topic"], item["version"], item["subscriber"]) == ("test.ops_ping", 1, FLAKY)
    assert item["attempts"] == MAX_ATTEMPTS
    assert item["error"] == "RuntimeError: gateway refused ping 1"
    assert item["last_error"].startswith("Traceback (most recent call last):")
    assert "in _flaky" in item["last_error"]
    assert item["occurred_at"] and item["failing_since"]


async def test_filters_and_pages(
    state: AppState,
    client: httpx.AsyncClient,
    ops: dict[str, str],
    merchants: tuple[Tenant, Tenant],
) -> None:
    acme, beta = merchants
    dead = await world.make_dead(
        state,
        OpsPing(merchant_id=acme.id, n=1),
        OpsPing(merchant_id=acme.id, n=2),
        OpsPong(merchant_id=acme.id, n=3),
        OpsPing(merchant_id=beta.id, n=4),
    )
    ids = [d.id for d in dead]
    assert len(ids) == 4

    async def listed(**query: str | int) -> tuple[list[int], str | None]:
        r = await client.get(DEAD, params=query, headers=ops)
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["items"]], r.json()["next_cursor"]

    first, cursor = await listed(limit=3)
    assert first == ids[::-1][:3] and cursor is not None
    assert await listed(limit=3, cursor=cursor) == ([ids[0]], None)
    assert await listed(merchant="beta") == ([ids[3]], None)
    assert await listed(merchant="BETA ") == ([ids[3]], None)
    assert await listed(merchant="nobody") == ([], None)
    assert await listed(topic="test.ops_pong") == ([ids[2]], None)
    assert await listed(subscriber="test.ops_flaky_pong") == ([ids[2]], None)
    assert await listed(subscriber=FLAKY, merchant="acme") == ([ids[1], ids[0]], None)
    r = await client.get(DEAD, params={"cursor": "not-a-cursor"}, headers=ops)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")


async def test_a_retried_delivery_is_delivered_on_the_next_round(
    state: AppState,
    client: httpx.AsyncClient,
    ops: dict[str, str],
    merchants: tuple[Tenant, Tenant],
) -> None:
    acme, _beta = merchants
    [dead] = await world.make_dead(state, OpsPing(merchant_id=acme.id, n=7))
    world.gateway["down"] = False  # the cause is fixed
    dispatcher = Dispatcher(state.write_factory)
    assert await dispatcher.run_once() == 0  # dead stays dead until someone retries
    r = await client.post(f"{DEAD}/{dead.id}/retry", headers=ops)
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["status"], r.json()["attempts"]) == (dead.id, "pending", 0)
    assert await dispatcher.run_once() == 1
    assert world.delivered == [("acme", 7)]
    [row] = [d for d in await world.deliveries(state) if d.id == dead.id]
    assert (row.status, row.attempts, row.last_error) == ("done", 1, None)
    assert (await client.get(DEAD, headers=ops)).json()["items"] == []
    # Retrying again: it is not dead any more.
    r = await client.post(f"{DEAD}/{dead.id}/retry", headers=ops)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (r.json()["code"], r.json()["delivery_status"]) == ("delivery_not_dead", "done")
    assert await dispatcher.run_once() == 0
    assert world.delivered == [("acme", 7)]


async def test_unknown_and_not_dead_deliveries(
    state: AppState,
    client: httpx.AsyncClient,
    ops: dict[str, str],
    merchants: tuple[Tenant, Tenant],
) -> None:
    acme, _beta = merchants
    [dead] = await world.make_dead(state, OpsPing(merchant_id=acme.id, n=8))
    [steady] = [d for d in await world.deliveries(state, status="done")]
    r = await client.post(f"{DEAD}/{dead.id + 1000}/retry", headers=ops)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "delivery_not_found"
    r = await client.post(f"{DEAD}/{steady.id}/retry", headers=ops)
    assert (r.status_code, r.json()["code"]) == (409, "delivery_not_dead")
    assert (await client.post(f"{DEAD}/0/retry", headers=ops)).status_code == 422
    assert (await client.post(f"{DEAD}/{2**63}/retry", headers=ops)).status_code == 422
    [still] = await world.deliveries(state, status="dead")
    assert still.id == dead.id


async def test_retry_with_the_same_idempotency_key_replays_the_first_answer(
    state: AppState,
    client: httpx.AsyncClient,
    ops: dict[str, str],
    merchants: tuple[Tenant, Tenant],
) -> None:
    acme, _beta = merchants
    [dead] = await world.make_dead(state, OpsPing(merchant_id=acme.id, n=9))
    headers = ops | {"Idempotency-Key": "retry-9"}
    first = await client.post(f"{DEAD}/{dead.id}/retry", headers=headers)
    again = await client.post(f"{DEAD}/{dead.id}/retry", headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    # Without the key, a second retry is told the delivery is not dead.
    r = await client.post(f"{DEAD}/{dead.id}/retry", headers=ops)
    assert r.json()["code"] == "delivery_not_dead"


async def test_bulk_retry_retries_the_dead_and_names_the_rest(
    state: AppState,
    client: httpx.AsyncClient,
    ops: dict[str, str],
    merchants: tuple[Tenant, Tenant],
) -> None:
    acme, beta = merchants
    a, b, c = await world.make_dead(
        state,
        OpsPing(merchant_id=acme.id, n=1),
        OpsPing(merchant_id=beta.id, n=2),
        OpsPing(merchant_id=beta.id, n=3),
    )
    steady = (await world.deliveries(state, status="done"))[0]
    world.gateway["down"] = False
    body = {"ids": [a.id, b.id, a.id, steady.id, 10_000]}
    r = await client.post(f"{DEAD}/retry", json=body, headers=ops)
    assert r.status_code == 200, r.text
    assert r.json() == {"retried": [a.id, b.id], "not_dead": [steady.id], "not_found": [10_000]}
    assert await Dispatcher(state.write_factory).drain() == 2
    assert sorted(world.delivered) == [("acme", 1), ("beta", 2)]
    assert [d.id for d in await world.deliveries(state, status="dead")] == [c.id]
    r = await client.post(f"{DEAD}/retry", json={"ids": [a.id, b.id]}, headers=ops)
    assert r.json() == {"retried": [], "not_dead": [a.id, b.id], "not_found": []}
    for bad in ({"ids": []}, {"ids": [0]}, {"ids": list(range(1, 502))}, {}):
        r = await client.post(f"{DEAD}/retry", json=bad, headers=ops)
        assert (r.status_code, r.json()["code"]) == (422, "validation_failed"), bad


async def test_only_operators_see_or_retry_dead_deliveries(
    state: AppState, client: httpx.AsyncClient, merchants: tuple[Tenant, Tenant]
) -> None:
    acme, _beta = merchants
    [dead] = await world.make_dead(state, OpsPing(merchant_id=acme.id, n=5))
    await make_staff(state, acme)
    staff = await token_for(client, "acme", "13800000001")
    calls = [
        ("GET", DEAD, None),
        ("POST", f"{DEAD}/{dead.id}/retry", None),
        ("POST", f"{DEAD}/retry", {"ids": [dead.id]}),
    ]
    for method, url, body in calls:
        r = await client.request(method, url, json=body, headers=staff)
        assert (r.status_code, r.json()["code"]) == (403, "forbidden"), url
        r = await client.request(method, url, json=body)
        assert (r.status_code, r.json()["code"]) == (401, "unauthorized"), url
    [still] = await world.deliveries(state, status="dead")
    assert (still.id, still.attempts) == (dead.id, MAX_ATTEMPTS)
