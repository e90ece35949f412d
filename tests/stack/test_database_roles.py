"""Least privilege in the databases: each service runs as a role that reads and
writes rows and nothing else; only the owner role (migrations) changes the schema."""

from __future__ import annotations

import asyncpg
import pytest

from stack.config import SERVICES

# What the role a service runs as must never do to its own tables.
FORBIDDEN = {
    "ALTER": 'ALTER TABLE "{table}" ADD COLUMN sneaky integer',
    "DISABLE TRIGGER": 'ALTER TABLE "{table}" DISABLE TRIGGER ALL',
    "TRUNCATE": 'TRUNCATE "{table}" CASCADE',
    "DROP": 'DROP TABLE "{table}" CASCADE',
    "CREATE": "CREATE TABLE sneaky (id integer)",
}


async def _tables(conn) -> list[str]:
    return [r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("what", FORBIDDEN)
async def test_the_runtime_role_cannot_change_the_schema(stack, service, what):
    conn = await asyncpg.connect(stack.asyncpg_dsn(service))
    try:
        tables = await _tables(conn)
        assert "alembic_version" in tables  # migrated, by the owner
        for table in tables:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with conn.transaction():
                    await conn.execute(FORBIDDEN[what].format(table=table))
            if what == "CREATE":
                break
    finally:
        await conn.close()


@pytest.mark.parametrize("service", SERVICES)
async def test_the_runtime_role_reads_and_writes_rows_and_owns_nothing(stack, service):
    conn = await asyncpg.connect(stack.asyncpg_dsn(service))
    try:
        owned = await conn.fetchval(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
            "WHERE r.rolname = current_user AND c.relnamespace = 'public'::regnamespace")
        writable = await conn.fetchval(
            "SELECT bool_and(has_table_privilege(current_user, format('%I', tablename), 'SELECT,INSERT,UPDATE,DELETE'))"
            " FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()

    assert owned == 0
    assert writable is True


@pytest.mark.parametrize("service", SERVICES)
async def test_no_other_service_can_connect_to_a_services_database(stack, service):
    others = [s for s in SERVICES if s != service]
    for other in others:
        dsn = stack.asyncpg_dsn(other).rsplit("/", 1)[0] + f"/{service}"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await asyncpg.connect(dsn)


async def test_the_owner_role_may_change_the_schema(stack):
    conn = await asyncpg.connect(stack.asyncpg_dsn("payouts", owner=True))
    try:
        async with conn.transaction():
            await conn.execute("ALTER TABLE payout_audit DISABLE TRIGGER ALL")
            await conn.execute("ALTER TABLE payout_audit ENABLE TRIGGER ALL")
    finally:
        await conn.close()
