import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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



@asynccontextmanager
async def new_ledger_database(infra) -> AsyncIterator[tuple[str, Database]]:
    """A migrated ledger database of its own, dropped afterwards: (url, Database)."""
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


@pytest.fixture
async def scratch_ledger(infra):
    """A ledger database of its own, so a broken entry never reaches the one the
    run is checked against at the end: (url, Database)."""
    async with new_ledger_database(infra) as made:
        yield made


@pytest.fixture
async def other_scratch_ledger(infra):
    """A second one, for applying the same events another way and comparing."""
    async with new_ledger_database(infra) as made:
        yield made
