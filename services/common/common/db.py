"""One async engine per service, transactions, and Alembic upgrades."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._after_commit: list[Callable[[dict], None]] = []

    def after_commit(self, callback: Callable[[dict], None]) -> None:
        """Run `callback(session.info)` after every committed transaction: what the
        transaction noted there (e.g. that it wrote to the outbox) says whether it matters."""
        self._after_commit.append(callback)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on exit, rolled back on error."""
        async with self.sessions() as session:
            async with session.begin():
                yield session
            info = dict(session.info)
        for callback in self._after_commit:
            callback(info)

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def migrate(migrations_dir: Path, url: str, revision: str = "head") -> None:
    """Upgrade a service's database with its own Alembic scripts."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, revision)
