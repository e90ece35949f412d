"""A service in-process against the `infra` stack, the same way for every
service's integration tests: its migrations applied with the owner role (its
app then runs with its lifespan behind litestar's AsyncTestClient), and its
database opened from the tests' own event loop (the test client runs the app on
another loop, so the app's engine cannot be shared)."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

from common.db import Database, migrate
from common.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def migrated(settings: S, service_dir: Path) -> S:
    """`settings`, once the service's Alembic migrations (`service_dir`/migrations) are applied."""
    migrate(service_dir / "migrations", settings.owner_database_url)
    return settings


@contextlib.asynccontextmanager
async def service_database(settings: ServiceSettings) -> AsyncIterator[Database]:
    database = Database(settings.database_url, pool_size=2)
    try:
        yield database
    finally:
        await database.dispose()
