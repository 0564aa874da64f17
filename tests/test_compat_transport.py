"""mockserver.compat's HTTP protocol: each response leaves in one write, with the same bytes.

The transport is tested on its own, then through uvicorn's parser and request cycle (the
protocol fed raw requests, its writes recorded), then on a live server.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from uvicorn.server import ServerState

from mockserver import compat
from mockserver.app import create_app
from mockserver.backend import Backend
from mockserver.compat import HTTP_PROTOCOL, HeadHoldingTransport, OneWriteHttpProtocol
from mockserver.live import LiveServer, server_config

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class RecordingTransport(asyncio.Transport):
    """What a socket would have been asked to send, one entry per write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: Any, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


def held() -> tuple[HeadHoldingTransport, RecordingTransport]:
    inner = RecordingTransport()
    return HeadHoldingTransport(inner), inner


# -- the transport ---------------------------------------------------------------------------


def test_a_head_waits_for_the_body_and_both_leave_in_one_write() -> None:
    transport, inner = held()
    transport.write(HEAD)
    assert inner.writes == []
    assert transport.get_write_buffer_size() == len(HEAD)  # what is held still counts as buffered
    transport.write(b"hello")
    assert inner.writes == [HEAD + b"hello"]


def test_later_chunks_of_a_streamed_body_are_not_held() -> None:
    transport, inner = held()
    for chunk in (HEAD, b"one", b"two", b"three"):
        transport.write(chunk)
    assert inner.writes == [HEAD + b"one", b"two", b"three"]


def test_an_interim_100_continue_goes_out_at_once_and_the_final_head_is_still_held() -> None:
    transport, inner = held()
    transport.write(CONTINUE)
    assert inner.writes == [CONTINUE]  # the client waits for it before sending the body
    transport.write(HEAD)
    transport.write(b"hello")
    assert inner.writes == [CONTINUE, HEAD + b"hello"]


def test_a_response_without_a_body_write_lets_its_head_go_when_it_completes() -> None:
    transport, inner = held()
    transport.write(HEAD)  # a HEAD request: uvicorn writes no body
    transport.response_complete()
    assert inner.writes == [HEAD]
    transport.write(HEAD)  # the next response's head is held again
    assert inner.writes == [HEAD]
    transport.write(b"hello")
    assert inner.writes == [HEAD, HEAD + b"hello"]


def test_closing_sends_what_is_held_first_and_aborting_drops_it() -> None:
    transport, inner = held()
    transport.write(HEAD)
    transport.close()
    assert inner.writes == [HEAD] and inner.closed
    transport, inner = held()
    transport.write(HEAD)
    transport.abort()
    assert inner.writes == [] and inner.aborted


def test_nothing_is_written_to_a_transport_already_closing() -> None:
    transport, inner = held()
    transport.write(HEAD)
    inner.closed = True  # the peer went away
    transport.response_complete()
    assert inner.writes == []


# -- through uvicorn's protocol ----------------------------------------------------------------


async def answer(protocol: OneWriteHttpProtocol, state: ServerState, raw: bytes) -> None:
    protocol.data_received(raw)
    await asyncio.gather(*state.tasks)


def connection(app: Any) -> tuple[OneWriteHttpProtocol, ServerState, RecordingTransport]:
    state = ServerState()
    config = server_config(app, log_level="warning")
    protocol = OneWriteHttpProtocol(config=config, server_state=state, app_state={})
    inner = RecordingTransport()
    protocol.connection_made(inner)
    return protocol, state, inner


def test_every_response_on_a_kept_alive_connection_is_one_write_of_uvicorns_bytes() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        body = b"" if scope["method"] == "HEAD" else b"hello"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": body})

    async def scenario() -> None:
        protocol, state, inner = connection(app)
        await answer(protocol, state, b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n")
        (first,) = inner.writes
        assert first.startswith(b"HTTP/1.1 200 OK\r\n") and first.endswith(b"\r\n\r\nhello")
        await answer(protocol, state, b"HEAD /a HTTP/1.1\r\nHost: t\r\n\r\n")
        assert len(inner.writes) == 2 and inner.writes[1].endswith(b"content-length: 5\r\n\r\n")
        await answer(protocol, state, b"GET /b HTTP/1.1\r\nHost: t\r\n\r\n")
        assert len(inner.writes) == 3 and inner.writes[2].endswith(b"hello")
        protocol.connection_lost(None)

    asyncio.run(scenario())


def test_a_client_expecting_100_continue_gets_it_before_sending_its_body() -> None:
    received: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        received.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 201, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def scenario() -> None:
        protocol, state, inner = connection(app)
        protocol.data_received(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        )
        for _ in range(20):  # the app starts and asks for the body
            await asyncio.sleep(0)
        assert inner.writes == [CONTINUE]
        await answer(protocol, state, b"data")
        assert received == [b"data"]
        assert len(inner.writes) == 2 and inner.writes[1].startswith(b"HTTP/1.1 201 Created\r\n")
        assert inner.writes[1].endswith(b"\r\n\r\nok")
        protocol.connection_lost(None)

    asyncio.run(scenario())


def test_the_mock_answers_a_request_in_one_write() -> None:
    async def scenario() -> None:
        protocol, state, inner = connection(create_app(Backend(), swagger_ui=False))
        await answer(protocol, state, b"GET /v1/datasets/nope HTTP/1.1\r\nHost: t\r\n\r\n")
        (written,) = inner.writes
        head, _, body = written.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 404 Not Found\r\n")
        assert json.loads(body)["error"]["status"] == "NOT_FOUND"
        protocol.connection_lost(None)

    asyncio.run(scenario())


# -- where it is used ------------------------------------------------------------------------


def test_serve_and_the_live_server_are_configured_with_the_one_write_protocol() -> None:
    assert server_config(object()).http is HTTP_PROTOCOL is OneWriteHttpProtocol
    assert isinstance(server_config(object(), http="h11").http, str)  # uvicorn's own options win


def test_a_live_server_sends_each_response_through_the_holding_transport(monkeypatch: Any) -> None:
    joined: list[int] = []
    original = compat.HeadHoldingTransport.write

    def spy(self: HeadHoldingTransport, data: Any) -> None:
        if self.get_write_buffer_size() > self.transport.get_write_buffer_size():  # a head is held
            joined.append(len(data))
        original(self, data)

    monkeypatch.setattr(compat.HeadHoldingTransport, "write", spy)
    with LiveServer(create_app(Backend(), swagger_ui=False)) as server:
        response = httpx.get(f"{server.url}/v1/datasets/nope")
    assert response.status_code == 404 and response.json()["error"]["status"] == "NOT_FOUND"
    assert joined == [len(response.content)]  # the body joined the held head
