"""The gateway spreads its calls to a service over the service's instances."""

import asyncio
import socket

import pytest

from common.http import Identity
from gateway.clients import ServiceClient

KEY = "k" * 40
WHO = Identity(user_id="admin-1", role="admin")


async def instance(name: str, calls: list[str]) -> tuple[asyncio.Server, str]:
    """A minimal HTTP server answering every request with its name."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        calls.append(name)
        body = f'{{"instance": "{name}"}}'.encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
async def two_instances():
    calls: list[str] = []
    servers = [await instance(name, calls) for name in ("a", "b")]
    yield [url for _, url in servers], calls
    for server, _ in servers:
        server.close()


async def test_calls_go_to_each_instance_in_turn(two_instances) -> None:
    urls, calls = two_instances
    client = ServiceClient("ledger", ",".join(urls), KEY, timeout_s=5)
    try:
        for _ in range(4):
            assert (await client.forward("GET", "/balances", WHO)).status_code == 200
    finally:
        await client.aclose()
    assert calls == ["a", "b", "a", "b"]


async def test_an_instance_that_refuses_connections_is_passed_over(two_instances) -> None:
    urls, calls = two_instances
    client = ServiceClient("ledger", ",".join([closed_port_url(), *urls]), KEY, timeout_s=5)
    try:
        answers = [(await client.forward("POST", "/payouts", WHO, json={})).status_code for _ in range(3)]
    finally:
        await client.aclose()
    assert answers == [200, 200, 200]
    assert len(calls) == 3 and set(calls) == {"a", "b"}
