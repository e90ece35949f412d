import uuid

import asyncpg
import pytest

from common.db import Database

from tests.support.probe import create_tables, create_topics


@pytest.fixture(scope="session")
async def probe_db(infra):
    """A database of its own (created with the ledger's owner role, which may CREATEDB),
    so these tests never share an outbox with a running service."""
    name = f"probe_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(infra.asyncpg_dsn("ledger", owner=True))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = infra.database_url("ledger", owner=True).rsplit("/", 1)[0] + f"/{name}"
    db = Database(url)
    await create_tables(db)
    yield db
    await db.dispose()
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
async def probe_topic(infra) -> str:
    topic = f"probe.{uuid.uuid4().hex[:10]}"
    await create_topics(infra.kafka, topic)
    return topic
