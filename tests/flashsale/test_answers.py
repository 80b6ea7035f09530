"""The gate's answers written whole (``flashsale.answers.write_whole``, one write per answer
under uvicorn) are byte for byte what uvicorn writes for the same answer through ASGI, and
a connection's pipelined attempts are each answered, in order (issue #21)."""

from __future__ import annotations

import asyncio
import re
import socket
from datetime import timedelta

import pytest
import uvicorn

from loopmall.app import create_server_app
from loopmall.config import Settings
from loopmall.core import clock
from loopmall.core.state import AppState
from loopmall.flashsale import answers
from loopmall.flashsale.tokens import issue_token
from tests.flashsale.fixtures import Sale, holders, make_sale
from tests.orders.fixtures import login_shopper

DATE = re.compile(rb"date: [^\r]*\r\n")


def attempt(sale: Sale, token: str) -> bytes:
    body = b'{"token":"' + token.encode() + b'"}'
    path = f"/api/v1/mall/{sale.tenant.slug}/flash/{sale.public_id}/buy".encode()
    head = b"POST " + path + b" HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n"
    return head + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body


async def read_answers(reader: asyncio.StreamReader, n: int) -> list[bytes]:
    """``n`` whole answers off the connection, the date header taken out."""
    found: list[bytes] = []
    for _ in range(n):
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"content-length: (\d+)", head)[1])  # type: ignore[index]
        found.append(DATE.sub(b"", head + await reader.readexactly(length)))
    return found


async def pipelined(port: int, requests: list[bytes]) -> list[bytes]:
    """The requests written at once on one connection; their answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"".join(requests))
        await writer.drain()
        return await asyncio.wait_for(read_answers(reader, len(requests)), 60)
    finally:
        writer.close()


async def test_answers_written_whole_equal_what_uvicorn_writes_through_asgi(
    settings: Settings, state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a live sale of 2 units served by uvicorn (httptools), three holders, and a
    # shopper who never reserved
    sale = await make_sale(state, units=2)
    a, b, c = await holders(state, sale, 3)
    stranger = await login_shopper(state, sale.tenant, "路人")
    now = clock.now()

    def token(customer_id: int) -> str:
        return issue_token(settings.secret_key, sale_id=sale.id, customer_id=customer_id, now=now)

    forged = token(a.customer_id)[:-1] + "A"
    expired = issue_token(
        settings.secret_key,
        sale_id=sale.id,
        customer_id=a.customer_id,
        now=now - timedelta(hours=1),
        ttl_seconds=60,
    )
    written = 0
    real_write = answers.write_whole

    def counting(send: object, ready: answers.Ready) -> bool:
        nonlocal written
        done = real_write(send, ready)  # type: ignore[arg-type]
        written += done
        return done

    monkeypatch.setattr(answers, "write_whole", counting)
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    config = uvicorn.Config(
        create_server_app(settings), http="httptools", access_log=False, log_level="warning"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        refusals = [attempt(sale, t) for t in (forged, expired, token(stranger.customer_id))]
        # When the same attempts are answered written whole, then through ASGI
        whole = await pipelined(port, [attempt(sale, token(b.customer_id)), *refusals])
        assert written == 4
        monkeypatch.setattr(answers, "write_whole", lambda _send, _ready: False)
        asgi = await pipelined(port, [attempt(sale, token(c.customer_id)), *refusals])
        # And once the sale is sold out, "sold out" both ways (the remembered one too)
        monkeypatch.setattr(answers, "write_whole", counting)
        sold_out_whole = await pipelined(port, [attempt(sale, token(a.customer_id))] * 2)
        monkeypatch.setattr(answers, "write_whole", lambda _send, _ready: False)
        sold_out_asgi = await pipelined(port, [attempt(sale, token(a.customer_id))] * 2)
    finally:
        server.should_exit = True
        await serving
    # Then the bytes are the same (the accepted answers name their own request)
    b_request, c_request = (f"fs{sale.id}-{x.customer_id}".encode() for x in (b, c))
    assert len(b_request) == len(c_request)
    assert whole[0].startswith(b"HTTP/1.1 200 OK\r\n") and b_request in whole[0]
    assert whole[0].replace(b_request, c_request) == asgi[0]
    assert whole[1:] == asgi[1:]
    codes = [re.search(rb'"code":"(\w+)"', w)[1] for w in whole[1:]]  # type: ignore[index]
    assert codes == [b"flash_token_invalid", b"flash_token_invalid", b"flash_not_reserved"]
    assert sold_out_whole == sold_out_asgi
    assert sold_out_whole[0].startswith(b"HTTP/1.1 409 Conflict\r\n")
    assert b'"code":"flash_sold_out"' in sold_out_whole[1]
    assert written == 6
