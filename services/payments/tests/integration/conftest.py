"""The payments app in-process, against the `infra` stack (real PostgreSQL migrated
with Alembic, real Kafka, real stripe-mock), with every Stripe request recorded."""

import uuid
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from payments.app import create_app
from payments.settings import Settings
from tests.support.offers import create_offer, open_intent
from tests.support.in_process import migrated, service_database
from tests.support.stripe_recording import RecordingStripeHttp
from tests.support.internal_calls import CallerHeaders, as_caller

SERVICE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def payments_settings(infra) -> Settings:
    return migrated(Settings(), SERVICE_DIR)  # the infra fixture has put the stack's CALLASTAR_* in os.environ


@pytest.fixture(scope="module")  # its HTTP client belongs to the module's app and event loop
def stripe_http() -> RecordingStripeHttp:
    return RecordingStripeHttp()


@pytest.fixture(scope="module")
async def client(payments_settings, stripe_http):
    """The app with its lifespan running (DB, outbox relay, Kafka consumers). The
    test client runs it on its own event loop in a thread: tests read the
    database through `db`, never through the app's engine. Its stuck-refund
    reconciler loop is off: tests run `refunds_reconciler.reconcile` themselves."""
    settings = payments_settings.model_copy(update={"refund_reconcile_every_seconds": 0})
    app = create_app(settings, stripe_http_client=stripe_http)
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.fixture(scope="session")
async def db(payments_settings):
    async with service_database(payments_settings) as database:
        yield database


@pytest.fixture
def as_user(payments_settings):
    def headers(role: str, user_id: str | None = None) -> CallerHeaders:
        return as_caller("payments", user_id or f"{role}-{uuid.uuid4().hex[:8]}", role,
                         key=payments_settings.internal_signing_key)

    return headers


@pytest.fixture
def open_payment(client, as_user):
    """A creator's offer at `price_minor`, and a PENDING payment for it: the
    intent's answer plus `creator_id` and `offer_id`."""

    async def create(price_minor: int = 10_000, currency: str = "EUR", *, fan: dict | None = None) -> dict:
        creator = as_user("creator")
        offer = await create_offer(client, creator, price_minor, currency, prefix="")
        response = await open_intent(client, fan or as_user("fan"), offer["offer_id"], prefix="")
        assert response.status_code == 201, response.text
        return response.json() | {"creator_id": creator.user_id, "offer_id": offer["offer_id"]}

    return create
