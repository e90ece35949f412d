"""The payments app in-process, against the `infra` stack (real PostgreSQL migrated
with Alembic, real Kafka, real stripe-mock), with every Stripe request recorded."""

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import stripe
from litestar.testing import AsyncTestClient

from common.db import Database, migrate
from payments.app import create_app
from payments.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


@dataclass(frozen=True)
class StripeRequest:
    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, str]  # the form-encoded body, e.g. {"metadata[payment_id]": "..."}


class RecordingStripeHttp(stripe.HTTPXClient):
    """The SDK's own HTTPX client, remembering each request it sends. A queued
    refusal is answered instead of calling stripe-mock, which never refuses a
    well-formed request."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[StripeRequest] = []
        self.refusals: list[tuple[int, dict[str, Any]]] = []

    async def request_async(self, method, url, headers, post_data=None):  # noqa: ANN001, ANN201 - SDK signature
        body = post_data.decode() if isinstance(post_data, bytes) else post_data or ""
        self.requests.append(StripeRequest(method, url, dict(headers), dict(parse_qsl(body))))
        if self.refusals:
            status, error = self.refusals.pop(0)
            return json.dumps(error).encode(), status, {"request-id": "req_refused"}
        return await super().request_async(method, url, headers, post_data)

    def for_payment(self, payment_id: str) -> list[StripeRequest]:
        return [r for r in self.requests if r.params.get("metadata[payment_id]") == payment_id]


@pytest.fixture(scope="session")
def payments_settings(infra) -> Settings:
    settings = Settings()  # the infra fixture has put the stack's CALLASTAR_* in os.environ
    migrate(MIGRATIONS, settings.database_url)
    return settings


@pytest.fixture(scope="module")  # its HTTP client belongs to the module's app and event loop
def stripe_http() -> RecordingStripeHttp:
    return RecordingStripeHttp()


@pytest.fixture(scope="module")
async def client(payments_settings, stripe_http):
    """The app with its lifespan running (DB, outbox relay, Kafka consumers). The
    test client runs it on its own event loop in a thread: tests read the
    database through `db`, never through the app's engine."""
    app = create_app(payments_settings, stripe_http_client=stripe_http)
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.fixture(scope="session")
async def db(payments_settings):
    database = Database(payments_settings.database_url, pool_size=2)
    yield database
    await database.dispose()


@pytest.fixture
def as_user(payments_settings):
    def headers(role: str, user_id: str | None = None) -> dict[str, str]:
        return {
            "X-Internal-Token": payments_settings.internal_token,
            "X-User-Id": user_id or f"{role}-{uuid.uuid4().hex[:8]}",
            "X-User-Role": role,
        }

    return headers
