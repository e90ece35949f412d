"""The payouts app in-process against the `infra` stack (real PostgreSQL migrated
with Alembic, real Kafka, real stripe-mock), every Stripe request recorded."""

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from payouts.app import create_app
from payouts.settings import Settings
from services.payouts.tests.integration.payouts_driver import Payouts
from tests.support.in_process import migrated, service_database
from tests.support.stripe_recording import RecordingStripeHttp

SERVICE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def payouts_settings(infra) -> Settings:
    return migrated(Settings(), SERVICE_DIR)  # the infra fixture has put the stack's CALLASTAR_* in os.environ


@pytest.fixture(scope="module")  # its HTTP client belongs to the module's app and event loop
def stripe_http() -> RecordingStripeHttp:
    return RecordingStripeHttp()


@pytest.fixture(scope="module")
async def client(payouts_settings, stripe_http):
    """The whole service in-process (consumers, outbox relay, API) on the test stack.
    Its loop resuming stalled payouts is off: tests call `approval.resume_stalled` themselves."""
    settings = payouts_settings.model_copy(update={"resume_stalled_every_seconds": 0})
    async with AsyncTestClient(create_app(settings, stripe_http_client=stripe_http)) as client:
        yield client


@pytest.fixture(scope="session")
async def db(payouts_settings):
    async with service_database(payouts_settings) as database:
        yield database


@pytest.fixture
def payouts(client, publish_events, db) -> Payouts:
    return Payouts(client, publish_events, db)
