"""Writing a batch's changes to the rows it read: one statement per table,
whatever the number of rows, and the rows loaded in the session brought to what
was written (not left dirty: the session would write them again, a statement
each)."""

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from payments.models import Base

Change = tuple[Any, Mapping[str, Any]]  # a loaded row, and its columns' new values


class ColumnsUpdate:
    """UPDATE table SET columns FROM unnest(an array per column): the rows as
    arrays, like the inbox's claim, so one statement text (prepared once) serves
    any number of rows. For columns of scalar types (an array column cannot be
    unnested row by row)."""

    def __init__(self, entity: type[Base], *columns: str) -> None:
        table = entity.__table__
        names = ("id", *columns)
        given = sa.func.unnest(
            *(sa.bindparam(f"given_{name}", type_=ARRAY(table.c[name].type)) for name in names)
        ).table_valued(*names).render_derived(name="given")
        self._columns = columns
        self._statement = (
            sa.update(table)
            .where(table.c.id == given.c.id)
            .values({name: given.c[name] for name in columns} | {"updated_at": sa.func.now()})
            .returning(table.c.id, table.c.updated_at)
        )

    async def write(self, session: AsyncSession, changes: Sequence[Change]) -> None:
        if not changes:
            return
        written = await session.execute(self._statement, {
            "given_id": [row.id for row, _ in changes],
            **{f"given_{name}": [values[name] for _, values in changes] for name in self._columns},
        })
        updated_at = {row_id: at for row_id, at in written}
        for row, values in changes:
            for name in self._columns:
                set_committed_value(row, name, values[name])
            set_committed_value(row, "updated_at", updated_at[row.id])
