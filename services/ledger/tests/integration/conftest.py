import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from common.db import Database, migrate
from ledger.app import create_app
from ledger.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


@pytest.fixture(scope="module")
async def client(infra):
    """The whole service in-process (consumers, outbox relay, API) on the test stack."""
    settings = Settings()  # the infra fixture has put the stack's addresses in os.environ
    await asyncio.to_thread(migrate, MIGRATIONS, settings.owner_database_url)
    async with AsyncTestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
async def db(client):
    """The service's database from the tests' own event loop (the test client runs
    the app on another loop, so the app's engine cannot be shared)."""
    database = Database(Settings().database_url)
    yield database
    await database.dispose()



@pytest.fixture
async def scratch_ledger(infra):
    """A ledger database of its own, so a broken entry never reaches the one the
    run is checked against at the end: (url, Database)."""
    name = f"ledger_check_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(infra.asyncpg_dsn("ledger", owner=True))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = infra.database_url("ledger", owner=True).rsplit("/", 1)[0] + f"/{name}"
    try:
        await asyncio.to_thread(migrate, MIGRATIONS, url)
        database = Database(url)
        yield url, database
        await database.dispose()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()

