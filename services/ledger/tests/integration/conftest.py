import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from common.db import Database, migrate
from ledger.app import create_app
from ledger.settings import Settings
from tests.support.in_process import migrated, service_database

SERVICE_DIR = Path(__file__).resolve().parents[2]
MIGRATIONS = SERVICE_DIR / "migrations"


@pytest.fixture(scope="module")
async def client(infra):
    """The whole service in-process (consumers, outbox relay, API) on the test stack."""
    # The infra fixture has put the stack's addresses in os.environ.
    settings = await asyncio.to_thread(migrated, Settings(), SERVICE_DIR)
    async with AsyncTestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
async def db(client):
    async with service_database(Settings()) as database:
        yield database



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

