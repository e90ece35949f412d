"""Payouts' tables and the queries the service needs."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contracts.events.ledger import BalanceChanged


class Base(DeclarativeBase):
    pass


class CreatorBalance(Base):
    """The ledger's view of a creator's money, per currency, as last announced.

    A projection of `ledger.balance_changed`: the ledger stays the only place
    balances are computed; this copy lets payouts decide without asking it.
    """

    __tablename__ = "creator_balances"

    creator_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    currency: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    # Minor units, as the ledger reports them (debt positive = owed by the creator).
    available_minor: Mapped[int] = mapped_column(sa.BigInteger)
    disputed_minor: Mapped[int] = mapped_column(sa.BigInteger)
    reserved_minor: Mapped[int] = mapped_column(sa.BigInteger)
    debt_minor: Mapped[int] = mapped_column(sa.BigInteger)
    journal_entry_id: Mapped[str] = mapped_column(sa.Text)
    # occurred_at of the event these figures come from: an older event never overwrites.
    as_of: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    source_event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


async def apply_balance_changed(session: AsyncSession, event: BalanceChanged) -> bool:
    """Upsert the creator's balance in the event's currency; False if the stored
    figures are newer than the event (a stale or replayed announcement)."""
    data = event.data
    figures = {
        "available_minor": data.available_minor,
        "disputed_minor": data.disputed_minor,
        "reserved_minor": data.reserved_minor,
        "debt_minor": data.debt_minor,
        "journal_entry_id": data.journal_entry_id,
        "as_of": event.occurred_at,
        "source_event_id": event.event_id,
    }
    statement = insert(CreatorBalance).values(creator_id=data.creator_id, currency=data.currency, **figures)
    # `<=`: at an equal timestamp the later delivery wins, since one creator's
    # events arrive in the ledger's order (one key, one partition).
    statement = statement.on_conflict_do_update(
        index_elements=[CreatorBalance.creator_id, CreatorBalance.currency],
        set_={**{name: statement.excluded[name] for name in figures}, "updated_at": sa.func.now()},
        where=CreatorBalance.as_of <= statement.excluded.as_of,
    ).returning(CreatorBalance.creator_id)
    return (await session.execute(statement)).first() is not None


async def creator_balances(session: AsyncSession, creator_id: str) -> list[CreatorBalance]:
    return list(
        await session.scalars(
            sa.select(CreatorBalance)
            .where(CreatorBalance.creator_id == creator_id)
            .order_by(CreatorBalance.currency)
        )
    )
