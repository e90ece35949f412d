"""Payouts' tables and the queries the service needs."""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common import hash_chain
from contracts.events.ledger import BalanceChanged
from payouts.domain import audit
from payouts.domain.payout_events import PayoutRow


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


_balances = CreatorBalance.__table__
_STORED = [column for column in _balances.c if column.name != "updated_at"]
# Built once (every balance announcement passes here): a batch's balances as one
# array per column, so one statement text for any batch size, compiled and
# prepared once (a VALUES list would be a new statement per size).
_announced = sa.func.unnest(
    *(sa.bindparam(column.name, type_=ARRAY(column.type)) for column in _STORED)
).table_valued(*(column.name for column in _STORED)).render_derived(name="announced")
_balance_rows = insert(_balances).from_select([c.name for c in _STORED], sa.select(*_announced.c))
# Every figure the row holds is replaced. `<=`: at an equal timestamp the later
# delivery wins, since one creator's events arrive in the ledger's order (one
# key, one partition); domain.balances keeps the same rule within a batch.
_UPSERT_BALANCES = _balance_rows.on_conflict_do_update(
    index_elements=[_balances.c.creator_id, _balances.c.currency],
    set_={
        **{column.name: _balance_rows.excluded[column.name] for column in _STORED if not column.primary_key},
        "updated_at": sa.func.now(),
    },
    where=_balances.c.as_of <= _balance_rows.excluded.as_of,
).returning(_balances.c.creator_id, _balances.c.currency)


async def upsert_balances(session: AsyncSession, latest: Sequence[BalanceChanged]) -> set[tuple[str, str]]:
    """Each announcement stored as its creator's balance in its currency, in one
    statement, unless the stored figures are newer (a stale or replayed
    announcement); the (creator, currency) pairs stored. At most one announcement
    per pair (domain.balances.latest_balances): a statement updates a row once."""
    if not latest:
        return set()
    columns: dict[str, list[Any]] = {
        "creator_id": [e.data.creator_id for e in latest],
        "currency": [e.data.currency for e in latest],
        "available_minor": [e.data.available_minor for e in latest],
        "disputed_minor": [e.data.disputed_minor for e in latest],
        "reserved_minor": [e.data.reserved_minor for e in latest],
        "debt_minor": [e.data.debt_minor for e in latest],
        "journal_entry_id": [e.data.journal_entry_id for e in latest],
        "as_of": [e.occurred_at for e in latest],
        "source_event_id": [e.event_id for e in latest],
    }
    stored = await session.execute(_UPSERT_BALANCES, columns)
    return {(row.creator_id, row.currency) for row in stored}


async def lock_balances(session: AsyncSession) -> None:
    """Hold the live consumer's balance updates until the transaction ends (reads go on)."""
    await session.execute(sa.text("LOCK TABLE creator_balances IN EXCLUSIVE MODE"))


async def replace_balances(session: AsyncSession, latest: list[BalanceChanged]) -> None:
    """The projection rebuilt: every row dropped, then one per creator and currency from
    its latest announcement (the caller holds `lock_balances` since before it read them)."""
    await session.execute(sa.delete(_balances))
    await upsert_balances(session, latest)


async def creator_balances(session: AsyncSession, creator_id: str) -> list[CreatorBalance]:
    return list(
        await session.scalars(
            sa.select(CreatorBalance)
            .where(CreatorBalance.creator_id == creator_id)
            .order_by(CreatorBalance.currency)
        )
    )


class PayoutAccount(Base):
    """A creator's connected Stripe account, as the last account.updated told us."""

    __tablename__ = "payout_accounts"

    creator_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    # None between our row's commit and Stripe's answer (a retry fills it in).
    stripe_account_id: Mapped[str | None] = mapped_column(sa.Text, unique=True)
    payouts_enabled: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    charges_enabled: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    details_submitted: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    requirements: Mapped[dict] = mapped_column(JSONB, default=dict)
    # `created` (Unix seconds) of the Stripe event these flags come from: an older one never overwrites.
    stripe_event_created: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    # Set in Python on update so the loaded object keeps it (views read it after commit).
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=lambda: datetime.now(UTC)
    )


class Payout(Base):
    __tablename__ = "payouts"
    __table_args__ = (sa.UniqueConstraint("creator_id", "idempotency_key"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    creator_id: Mapped[str] = mapped_column(sa.Text, index=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    all_available: Mapped[bool] = mapped_column(sa.Boolean)
    # Minor units. requested: what the creator asked (None for "all"); gross,
    # debt deducted and net: what the ledger reserved (None until it answers).
    requested_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    minimum_minor: Mapped[int] = mapped_column(sa.BigInteger)
    gross_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    debt_deducted_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    net_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    state: Mapped[str] = mapped_column(sa.Text, index=True)
    funds_reserved: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    requested_by: Mapped[str] = mapped_column(sa.Text)
    idempotency_key: Mapped[str | None] = mapped_column(sa.Text)
    reason: Mapped[str | None] = mapped_column(sa.Text)  # rejection / block reason
    reason_detail: Mapped[str | None] = mapped_column(sa.Text)
    approved_by: Mapped[str | None] = mapped_column(sa.Text)
    stripe_account_id: Mapped[str | None] = mapped_column(sa.Text)
    stripe_transfer_id: Mapped[str | None] = mapped_column(sa.Text)
    stripe_payout_id: Mapped[str | None] = mapped_column(sa.Text, unique=True)
    stripe_reversal_id: Mapped[str | None] = mapped_column(sa.Text)
    # Set when an approver starts the Stripe steps, cleared when they fail: a
    # second approver neither repeats steps in flight nor waits on a dead one.
    stripe_claimed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    stripe_error_code: Mapped[str | None] = mapped_column(sa.Text)  # last Stripe error, for admins
    stripe_error_message: Mapped[str | None] = mapped_column(sa.Text)
    failure_code: Mapped[str | None] = mapped_column(sa.Text)  # Stripe's, from payout.failed
    failure_message: Mapped[str | None] = mapped_column(sa.Text)
    paid_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    # Set in Python on update so the loaded object keeps it (views read it after commit).
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=lambda: datetime.now(UTC)
    )

    @property
    def amount_minor(self) -> int | None:
        """Gross once reserved, else what was asked."""
        return self.gross_minor if self.gross_minor is not None else self.requested_minor


class PayoutAudit(Base):
    """Append-only (the database refuses UPDATE, DELETE and TRUNCATE) and
    hash-chained in `seq` order across all payouts."""

    __tablename__ = "payout_audit"

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(always=True), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    payout_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    actor_id: Mapped[str] = mapped_column(sa.Text)
    actor_role: Mapped[str] = mapped_column(sa.Text)  # admin, creator, stripe, system
    old_state: Mapped[str | None] = mapped_column(sa.Text)
    new_state: Mapped[str] = mapped_column(sa.Text)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    metadata_: Mapped[dict] = mapped_column("metadata", JSONB)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    def record(self) -> audit.AuditRecord:
        return audit.AuditRecord(
            id=str(self.id), payout_id=str(self.payout_id), actor_id=self.actor_id, actor_role=self.actor_role,
            old_state=self.old_state, new_state=self.new_state, reason=self.reason,
            metadata=self.metadata_, created_at=self.created_at,
        )


# One chain for the whole table: appends are serialized by this transaction-scoped lock.
AUDIT_CHAIN_LOCK = 0x0A0D17  # any constant of this database
_LOCK_AUDIT_CHAIN = sa.select(sa.func.pg_advisory_xact_lock(AUDIT_CHAIN_LOCK))
_AUDIT_CHAIN_HEAD = sa.select(PayoutAudit.hash).order_by(PayoutAudit.seq.desc()).limit(1)
# The rows as one array per column: one statement text for any number of rows.
# WITH ORDINALITY ... ORDER BY: rows are inserted in the arrays' order, so `seq`
# follows the chain's order.
_INSERT_AUDIT = sa.text("""
    INSERT INTO payout_audit (id, payout_id, actor_id, actor_role, old_state, new_state, reason, metadata,
                              created_at, prev_hash, hash)
    SELECT id, payout_id, actor_id, actor_role, old_state, new_state, reason, metadata, created_at, prev_hash, hash
    FROM unnest(
        CAST(:ids AS uuid[]), CAST(:payout_ids AS uuid[]), CAST(:actor_ids AS text[]), CAST(:actor_roles AS text[]),
        CAST(:old_states AS text[]), CAST(:new_states AS text[]), CAST(:reasons AS text[]),
        CAST(CAST(:metadata AS text[]) AS jsonb[]), CAST(:created_ats AS timestamptz[]),
        CAST(:prev_hashes AS text[]), CAST(:hashes AS text[])
    ) WITH ORDINALITY AS new(id, payout_id, actor_id, actor_role, old_state, new_state, reason, metadata,
                             created_at, prev_hash, hash, ord)
    ORDER BY ord
""")


@dataclass(frozen=True)
class NewAudit:
    """An audit row to append for the payout's current state."""

    payout: Payout | PayoutRow
    actor: audit.Actor
    old_state: str | None
    reason: str | None = None
    metadata: dict[str, Any] | None = None


async def append_audits(session: AsyncSession, new: Sequence[NewAudit]) -> None:
    """Chain the rows in this order, in the caller's transaction, in three
    statements whatever their number."""
    if not new:
        return
    await session.execute(_LOCK_AUDIT_CHAIN)
    # Under the chain's lock nothing else appends: each row links to the one before it.
    head = await session.scalar(_AUDIT_CHAIN_HEAD) or hash_chain.GENESIS_HASH
    records = [
        audit.AuditRecord(
            id=str(uuid.uuid4()), payout_id=str(row.payout.id), actor_id=row.actor.id, actor_role=row.actor.role,
            old_state=row.old_state, new_state=row.payout.state, reason=row.reason,
            metadata={**_amounts(row.payout), **(row.metadata or {})},
            # Microseconds, as PostgreSQL stores them, so the row reads back hashing the same.
            created_at=datetime.now(UTC),
        )
        for row in new
    ]
    links = hash_chain.linked(head, records)
    await session.execute(_INSERT_AUDIT, {
        "ids": [uuid.UUID(record.id) for record in records],
        "payout_ids": [uuid.UUID(record.payout_id) for record in records],
        "actor_ids": [record.actor_id for record in records],
        "actor_roles": [record.actor_role for record in records],
        "old_states": [record.old_state for record in records],
        "new_states": [record.new_state for record in records],
        "reasons": [record.reason for record in records],
        "metadata": [json.dumps(record.metadata) for record in records],
        "created_ats": [record.created_at for record in records],
        "prev_hashes": [prev_hash for prev_hash, _ in links],
        "hashes": [row_hash for _, row_hash in links],
    })


def _amounts(payout: Payout | PayoutRow) -> dict[str, Any]:
    figures = {
        "currency": payout.currency,
        "requested_minor": payout.requested_minor,
        "gross_minor": payout.gross_minor,
        "debt_deducted_minor": payout.debt_deducted_minor,
        "net_minor": payout.net_minor,
        "stripe_transfer_id": payout.stripe_transfer_id,
        "stripe_payout_id": payout.stripe_payout_id,
    }
    return {name: value for name, value in figures.items() if value is not None}


async def payout_audit(session: AsyncSession, payout_id: uuid.UUID) -> list[PayoutAudit]:
    return list(await session.scalars(
        sa.select(PayoutAudit).where(PayoutAudit.payout_id == payout_id).order_by(PayoutAudit.seq)
    ))


async def predecessor_hashes(session: AsyncSession, seqs: list[int]) -> dict[int, str]:
    """For each seq, the hash of the row just before it in the chain (absent for the first row).
    One index lookup per row: a payout's trail is a handful of rows."""
    found = {}
    for seq in seqs:
        previous = await session.scalar(
            sa.select(PayoutAudit.hash).where(PayoutAudit.seq < seq).order_by(PayoutAudit.seq.desc()).limit(1))
        if previous is not None:
            found[seq] = previous
    return found


async def get_payout(session: AsyncSession, payout_id: uuid.UUID) -> Payout | None:
    return await session.get(Payout, payout_id)


async def get_payout_for_update(session: AsyncSession, payout_id: uuid.UUID) -> Payout | None:
    return await session.scalar(sa.select(Payout).where(Payout.id == payout_id).with_for_update())


_payouts = Payout.__table__
# The batch's payouts by id or by Stripe payout id, in the order of their ids: two
# batches locking overlapping payouts wait for each other instead of deadlocking.
_PAYOUT_ROWS_FOR_UPDATE = (
    sa.select(*(_payouts.c[field.name] for field in fields(PayoutRow)))
    .where(sa.or_(_payouts.c.id == sa.any_(sa.bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))),
                  _payouts.c.stripe_payout_id == sa.any_(sa.bindparam("stripe_payout_ids", type_=ARRAY(sa.Text)))))
    .order_by(_payouts.c.id)
    .with_for_update()
)
# What the events change, written back from the rows (read FOR UPDATE in this
# transaction, so an unchanged column is written as it stands).
_CHANGED = ("state", "funds_reserved", "gross_minor", "debt_deducted_minor", "net_minor", "reason", "reason_detail",
            "stripe_transfer_id", "stripe_payout_id", "stripe_reversal_id", "stripe_claimed_at", "stripe_error_code",
            "stripe_error_message", "failure_code", "failure_message", "paid_at")
# Parameters named after their columns, prefixed: an UPDATE reserves the columns' own names.
_changed = sa.func.unnest(
    sa.bindparam("new_id", type_=ARRAY(UUID(as_uuid=True))),
    *(sa.bindparam(f"new_{name}", type_=ARRAY(_payouts.c[name].type)) for name in _CHANGED),
).table_valued("id", *_CHANGED).render_derived(name="changed")
_STORE_PAYOUTS = (
    sa.update(_payouts)
    .where(_payouts.c.id == _changed.c.id)
    .values(**{name: _changed.c[name] for name in _CHANGED}, updated_at=sa.func.now())
)


async def payout_rows_for_update(
    session: AsyncSession, ids: Sequence[uuid.UUID], stripe_payout_ids: Sequence[str]
) -> list[PayoutRow]:
    """The payouts with these ids or Stripe payout ids, locked, in one statement."""
    found = await session.execute(_PAYOUT_ROWS_FOR_UPDATE,
                                  {"ids": list(ids), "stripe_payout_ids": list(stripe_payout_ids)})
    return [PayoutRow(**row._mapping) for row in found]


async def store_payouts(session: AsyncSession, rows: Sequence[PayoutRow]) -> None:
    """Write each row's changeable columns, in one statement (one row per payout)."""
    if rows:
        await session.execute(_STORE_PAYOUTS, {
            "new_id": [row.id for row in rows],
            **{f"new_{name}": [getattr(row, name) for row in rows] for name in _CHANGED},
        })


async def get_payout_by_key(session: AsyncSession, creator_id: str, idempotency_key: str) -> Payout | None:
    return await session.scalar(
        sa.select(Payout).where(Payout.creator_id == creator_id, Payout.idempotency_key == idempotency_key)
    )


async def insert_payout(session: AsyncSession, values: dict[str, Any]) -> Payout | None:
    """Insert unless the creator already used this Idempotency-Key (then None:
    a concurrent duplicate waits for the first insert and finds the conflict)."""
    statement = (
        insert(Payout).values(**values)
        .on_conflict_do_nothing(index_elements=[Payout.creator_id, Payout.idempotency_key])
        .returning(Payout.id)
    )
    inserted = (await session.execute(statement)).scalar()
    return None if inserted is None else await session.get(Payout, inserted)


async def get_account(session: AsyncSession, creator_id: str, *, for_update: bool = False) -> PayoutAccount | None:
    query = sa.select(PayoutAccount).where(PayoutAccount.creator_id == creator_id)
    return await session.scalar(query.with_for_update() if for_update else query)


_accounts = PayoutAccount.__table__
# In the order of their ids, like the payouts: concurrent batches never deadlock.
_ACCOUNT_EVENTS_FOR_UPDATE = (
    sa.select(_accounts.c.stripe_account_id, _accounts.c.stripe_event_created)
    .where(_accounts.c.stripe_account_id == sa.any_(sa.bindparam("ids", type_=ARRAY(sa.Text))))
    .order_by(_accounts.c.stripe_account_id)
    .with_for_update()
)
_FLAGS = ("payouts_enabled", "charges_enabled", "details_submitted", "stripe_event_created")
_flags = sa.func.unnest(
    sa.bindparam("new_stripe_account_id", type_=ARRAY(sa.Text)),
    *(sa.bindparam(f"new_{name}", type_=ARRAY(_accounts.c[name].type)) for name in _FLAGS),
    sa.bindparam("new_requirements", type_=ARRAY(sa.Text)),
).table_valued("stripe_account_id", *_FLAGS, "requirements").render_derived(name="flags")
_STORE_ACCOUNT_FLAGS = (
    sa.update(_accounts)
    .where(_accounts.c.stripe_account_id == _flags.c.stripe_account_id)
    .values(**{name: _flags.c[name] for name in _FLAGS}, requirements=sa.cast(_flags.c.requirements, JSONB),
            updated_at=sa.func.now())
)


async def account_events_for_update(session: AsyncSession, stripe_account_ids: Sequence[str]) -> dict[str, int | None]:
    """The accounts we hold of these, locked: Stripe account id -> `created` of
    the event their flags come from."""
    found = await session.execute(_ACCOUNT_EVENTS_FOR_UPDATE, {"ids": list(stripe_account_ids)})
    return {row.stripe_account_id: row.stripe_event_created for row in found}


@dataclass(frozen=True)
class AccountFlags:
    """What an account.updated sets on a payout account."""

    stripe_account_id: str
    payouts_enabled: bool
    charges_enabled: bool
    details_submitted: bool
    requirements: dict[str, Any]
    stripe_event_created: int  # `created` (Unix seconds) of the Stripe event


async def store_account_flags(session: AsyncSession, flags: Sequence[AccountFlags]) -> None:
    """One statement for the batch; one entry per account."""
    if flags:
        await session.execute(_STORE_ACCOUNT_FLAGS, {
            **{f"new_{name}": [getattr(f, name) for f in flags] for name in ("stripe_account_id", *_FLAGS)},
            "new_requirements": [json.dumps(f.requirements) for f in flags],
        })
