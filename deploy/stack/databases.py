"""Each service's database and its two roles, least privilege.

`<svc>_owner` owns the database and everything in it and runs the migrations;
`<svc>` is what the service runs as: it may connect, read and write rows and use
sequences, and nothing else. It cannot ALTER, DISABLE TRIGGER, TRUNCATE or DROP
(only an owner may), so the append-only triggers of the ledger's journal and the
payout audit hold against the running service. No other role may connect to a
service's database (CONNECT is revoked from PUBLIC).

`python -m stack databases` provisions them on any PostgreSQL from a superuser URL
and the passwords in the environment (what docker-compose's `db-init` job runs);
the local runner and the containers backend call `provision` with the dev
passwords. Idempotent: run it again after a change and it converges, including a
database from before the split (owned by the runtime role), whose objects are
handed to the owner.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from stack.config import SERVICES
from stack.procs import StackError

RUNTIME_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
RUNTIME_SEQUENCE_PRIVILEGES = "USAGE, SELECT, UPDATE"


@dataclass(frozen=True)
class ServiceDatabase:
    service: str
    owner_password: str
    runtime_password: str
    owner_may_create_databases: bool = False  # the local stacks' tests make scratch databases

    @property
    def name(self) -> str:
        return self.service

    @property
    def owner(self) -> str:
        return f"{self.service}_owner"

    @property
    def runtime(self) -> str:
        return self.service

    @classmethod
    def for_development(cls, service: str) -> ServiceDatabase:
        """The local stacks' public passwords: the role names."""
        return cls(service, owner_password=f"{service}_owner", runtime_password=service,
                   owner_may_create_databases=True)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def _ensure_role(conn, role: str, password: str, *, createdb: bool) -> None:
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
    verb = "ALTER" if exists else "CREATE"
    await conn.execute(f'{verb} ROLE "{role}" LOGIN {"CREATEDB" if createdb else "NOCREATEDB"} '
                       f'NOSUPERUSER NOCREATEROLE PASSWORD {_literal(password)}')


async def provision(admin, connect_to: Callable[[str], Awaitable], databases: Iterable[ServiceDatabase]) -> None:
    """Roles, databases and grants. `admin` is a superuser connection to any database,
    `connect_to(name)` opens a superuser connection to database `name`."""
    for db in databases:
        await _ensure_role(admin, db.owner, db.owner_password, createdb=db.owner_may_create_databases)
        await _ensure_role(admin, db.runtime, db.runtime_password, createdb=False)
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db.name):
            await admin.execute(f'CREATE DATABASE "{db.name}" OWNER "{db.owner}"')
        conn = await connect_to(db.name)
        try:
            async with conn.transaction():
                # A database from before the split: the runtime role owned it all.
                await conn.execute(f'REASSIGN OWNED BY "{db.runtime}" TO "{db.owner}"')
                await conn.execute(f'ALTER DATABASE "{db.name}" OWNER TO "{db.owner}"')
                await conn.execute(f'ALTER SCHEMA public OWNER TO "{db.owner}"')
                await conn.execute(f'REVOKE ALL ON DATABASE "{db.name}" FROM PUBLIC')
                await conn.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{db.name}" TO "{db.runtime}"')
                await conn.execute('REVOKE CREATE ON SCHEMA public FROM PUBLIC')
                await conn.execute(f'GRANT USAGE ON SCHEMA public TO "{db.runtime}"')
                await conn.execute(f'GRANT {RUNTIME_TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA public TO "{db.runtime}"')
                await conn.execute(
                    f'GRANT {RUNTIME_SEQUENCE_PRIVILEGES} ON ALL SEQUENCES IN SCHEMA public TO "{db.runtime}"')
                # What the owner's migrations create later gets the same grants.
                await conn.execute(f'ALTER DEFAULT PRIVILEGES FOR ROLE "{db.owner}" IN SCHEMA public '
                                   f'GRANT {RUNTIME_TABLE_PRIVILEGES} ON TABLES TO "{db.runtime}"')
                await conn.execute(f'ALTER DEFAULT PRIVILEGES FOR ROLE "{db.owner}" IN SCHEMA public '
                                   f'GRANT {RUNTIME_SEQUENCE_PRIVILEGES} ON SEQUENCES TO "{db.runtime}"')
        finally:
            await conn.close()


def from_environment(environ: dict[str, str]) -> list[ServiceDatabase]:
    """CALLASTAR_<SVC>_DB_OWNER_PASSWORD and CALLASTAR_<SVC>_DB_PASSWORD for every service."""
    names = [f"CALLASTAR_{svc.upper()}_{kind}" for svc in SERVICES for kind in ("DB_OWNER_PASSWORD", "DB_PASSWORD")]
    if missing := [name for name in names if not environ.get(name)]:
        raise StackError(f"set {', '.join(missing)}")
    return [ServiceDatabase(svc, environ[f"CALLASTAR_{svc.upper()}_DB_OWNER_PASSWORD"],
                            environ[f"CALLASTAR_{svc.upper()}_DB_PASSWORD"]) for svc in SERVICES]


async def provision_at(admin_dsn: str, databases: list[ServiceDatabase]) -> None:
    """`provision` on the server a superuser's postgresql:// DSN names."""
    import asyncpg

    admin = await asyncpg.connect(admin_dsn)
    try:
        await provision(admin, lambda name: asyncpg.connect(admin_dsn, database=name), databases)
    finally:
        await admin.close()
