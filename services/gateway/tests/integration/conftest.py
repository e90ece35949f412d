"""A fake downstream service over real HTTP, and a gateway app driven in-process."""

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
import uvicorn

from common import internal_identity
from common.http import Identity
from gateway.app import create_app
from gateway.settings import Settings


def closed_port() -> int:
    """A port nothing listens on (bound once by us, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SIGNING_KEY = "integration-internal-signing-key-0123456789"
# One line per caller of the schema fuzzing, shown at the end of the run.
FUZZING_SUMMARY = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    if lines := config.stash.get(FUZZING_SUMMARY, []):
        terminalreporter.write_sep("=", "schema fuzzing")
        for line in lines:
            terminalreporter.write_line(line)


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    @property
    def audience(self) -> str:
        """The one service the gateway signed this call's identity for."""
        return jwt.decode(self.headers[internal_identity.HEADER.lower()], options={"verify_signature": False})["aud"]

    @property
    def identity(self) -> Identity:
        """The caller, from the identity the gateway signed (verified as the service would)."""
        return internal_identity.verify(self.headers[internal_identity.HEADER.lower()], self.audience, SIGNING_KEY)


@dataclass
class Reply:
    status: int
    content_type: str
    chunks: list[bytes]
    headers: dict[str, str] = field(default_factory=dict)
    # Awaited before the last chunk is sent: lets a test see the first chunks arrive first.
    hold_last_chunk: asyncio.Event | None = None


@dataclass
class FakeService:
    """Records every request; answers what `reply` holds for the path (else 200 {})."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    replies: dict[str, Reply] = field(default_factory=dict)

    def reply(self, path: str, status: int, body: object, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.replies[path] = Reply(status, content_type, [raw], headers or {})

    def reply_in_chunks(self, path: str, chunks: list[bytes], content_type: str,
                        headers: dict[str, str], hold_last_chunk: asyncio.Event) -> None:
        self.replies[path] = Reply(200, content_type, chunks, headers, hold_last_chunk)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.seen.append(Seen(scope["method"], scope["path"], scope["query_string"].decode(),
                              {k.decode(): v.decode() for k, v in scope["headers"]}, body))
        reply = self.replies.get(scope["path"], Reply(200, "application/json", [b"{}"]))
        headers = [(b"content-type", reply.content_type.encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in reply.headers.items()]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        *first, last = reply.chunks
        for chunk in first:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if reply.hold_last_chunk is not None:
            await reply.hold_last_chunk.wait()
        await send({"type": "http.response.body", "body": last})


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Run an ASGI app under uvicorn on a free loopback port; yields its URL. The
    server task owns the app's lifespan, as in production."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="auto", proxy_headers=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise its error
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway built from `settings`, running, and a client talking to it."""
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


@pytest.fixture
async def fake_service() -> AsyncIterator[FakeService]:
    fake = FakeService()
    async with serve(fake) as url:
        fake.url = url
        yield fake


@pytest.fixture
def gateway_settings(fake_service: FakeService) -> Settings:
    """Every service is the fake; Kafka is a closed port unless a test says otherwise."""
    return Settings(
        payments_url=fake_service.url,
        ledger_url=fake_service.url,
        payouts_url=fake_service.url,
        notifications_url=fake_service.url,
        kafka_bootstrap_servers=f"127.0.0.1:{closed_port()}",
        jwt_secret="integration-jwt-secret-0123456789abcdef",
        internal_signing_key=SIGNING_KEY,
        stripe_webhook_secret="whsec_it_platform",
        stripe_connect_webhook_secret="whsec_it_connect",
    )


@pytest.fixture
async def gateway(gateway_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(gateway_settings) as client:
        yield client
