"""Issue #11: a channel's poster is drawn once per content, not on every request (0.6-1.5 s
of CPU each at p95, bench chainscale); a change of what it shows draws it again."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from loopmall.core.state import AppState
from loopmall.o2o import printing
from tests.o2o.world import World, create, make_world


@pytest.fixture
async def world(state: AppState, client: httpx.AsyncClient) -> World:
    return await make_world(state, client)


async def test_a_poster_is_drawn_once_until_what_it_shows_changes(
    client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[str] = []
    draw = printing.render_poster

    def counting(content: Any, *args: Any) -> bytes:
        drawn.append(content.title)
        return draw(content, *args)

    monkeypatch.setattr(printing, "render_poster", counting)
    code = await create(client, world.owner, {"kind": "store", "store": world.store})
    url = f"/api/v1/channels/{code['id']}/poster?size=a5"

    first = await client.get(url, headers=world.owner)
    again = await client.get(url, headers=world.owner)
    console = await client.get(f"/api/v1/channels/{code['id']}/poster?size=a4", headers=world.owner)
    assert first.status_code == again.status_code == console.status_code == 200
    assert again.content == first.content and again.content.startswith(b"\x89PNG")
    assert drawn == ["扫码进店", "扫码进店"]  # A5 once, A4 once

    r = await client.patch(
        f"/api/v1/channels/{code['id']}", json={"poster_title": "新店开业"}, headers=world.owner
    )
    assert r.status_code == 200, r.text
    changed = await client.get(url, headers=world.owner)
    assert changed.status_code == 200 and changed.content != first.content
    assert drawn == ["扫码进店", "扫码进店", "新店开业"]
