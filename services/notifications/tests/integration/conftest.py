import asyncio
import socket
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from litestar.testing import AsyncTestClient

from notifications.app import create_app
from notifications.settings import Settings
from tests.support.in_process import migrated, service_database

SERVICE_DIR = Path(__file__).resolve().parents[2]


class MailServer:
    """An SMTP server the tests can take down and bring back on the same port;
    it keeps what it received in memory."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.received: list[EmailMessage] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        self.received.append(BytesParser(policy=policy.default).parsebytes(envelope.original_content))
        return "250 OK"

    def up(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def down(self) -> None:
        if self._controller:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if m["To"] == address]


@pytest.fixture(scope="session")
def mail_server():
    server = MailServer()
    server.up()
    yield server
    server.down()


@pytest.fixture(scope="module")
async def client(infra, mail_server):
    """The whole service in-process (consumers, outbox relay, mailer, API) on the
    test stack, sending mail to `mail_server` and retrying it quickly.

    It shares the stack's notifications database and consumer group: these tests
    expect the stack's own notifications process not to be running yet (the
    default order runs services/ before tests/e2e, which starts it); run along
    with e2e tests, that process may take the events and send their mail to the
    stack's sink instead."""
    # The infra fixture has put the stack's addresses in os.environ.
    settings = Settings(smtp_port=mail_server.port, email_retry_base_s=0.2, email_retry_cap_s=1.0,
                        email_poll_s=0.2)
    await asyncio.to_thread(migrated, settings, SERVICE_DIR)
    async with AsyncTestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
async def db(client):
    async with service_database(Settings()) as database:
        yield database


