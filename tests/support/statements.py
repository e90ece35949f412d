"""Counting what a piece of code asks of PostgreSQL: the set-based handlers'
tests assert that a batch costs the same number of statements whatever its size."""

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from common.db import Database


@contextmanager
def statements_run(database: Database) -> Iterator[list[str]]:
    """The SQL statements sent through `database` inside the block (an
    executemany is one statement: one round of the protocol)."""
    sent: list[str] = []

    def record(connection, cursor, statement, *rest) -> None:
        sent.append(statement)

    sa.event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(database.engine.sync_engine, "before_cursor_execute", record)
