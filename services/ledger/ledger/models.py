"""The journal: entries and their postings, append-only."""

import uuid
from collections import defaultdict
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ledger import domain


class Base(DeclarativeBase):
    pass


class JournalEntry(Base):
    __tablename__ = "journal_entries"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    # The event that caused the entry; unique, so replaying a topic posts nothing twice.
    cause_event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    kind: Mapped[str] = mapped_column(sa.Text)
    creator_id: Mapped[str | None] = mapped_column(sa.Text, index=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.clock_timestamp())


class PostingRow(Base):
    __tablename__ = "postings"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("journal_entries.id"), index=True)
    account: Mapped[str] = mapped_column(sa.Text)
    currency: Mapped[str] = mapped_column(sa.String(3))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)  # debit > 0, credit < 0

    __table_args__ = (sa.Index("postings_account_currency", "account", "currency"),)


async def post_entry(
    session: AsyncSession,
    *,
    cause_event_id: uuid.UUID,
    kind: str,
    creator_id: str | None,
    postings: list[domain.Posting],
) -> uuid.UUID | None:
    """Append a balanced entry; None if this cause was already posted."""
    domain.check_balanced(postings)
    entry_id = await session.scalar(
        insert(JournalEntry)
        .values(id=uuid.uuid4(), cause_event_id=cause_event_id, kind=kind, creator_id=creator_id)
        .on_conflict_do_nothing(index_elements=[JournalEntry.cause_event_id])
        .returning(JournalEntry.id)
    )
    if entry_id is None:
        return None
    await session.execute(
        sa.insert(PostingRow),
        [
            {"entry_id": entry_id, "account": p.account, "currency": p.currency, "amount_minor": p.amount_minor}
            for p in postings
        ],
    )
    return entry_id


async def creator_balances(session: AsyncSession, creator_id: str) -> list[domain.CreatorBalance]:
    """Every currency the creator has postings in, computed from the postings alone."""
    accounts = [domain.creator_account(creator_id, bucket) for bucket in domain.CREATOR_BUCKETS]
    rows = await session.execute(
        sa.select(PostingRow.currency, PostingRow.account, sa.func.sum(PostingRow.amount_minor))
        .where(PostingRow.account.in_(accounts))
        .group_by(PostingRow.currency, PostingRow.account)
    )
    sums: dict[str, dict[str, int]] = defaultdict(dict)
    for currency, account, total in rows:
        sums[currency][account] = int(total)
    return [domain.creator_balance(creator_id, currency, by_account) for currency, by_account in sorted(sums.items())]
