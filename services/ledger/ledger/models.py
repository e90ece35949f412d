"""The journal (entries and their postings, append-only) and the debts projection."""

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common import hash_chain
from ledger import domain
from ledger.domain import chain, movements, reservations


class Base(DeclarativeBase):
    pass


class JournalEntry(Base):
    __tablename__ = "journal_entries"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    # The event that caused the entry; unique, so replaying a topic posts nothing twice.
    cause_event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    kind: Mapped[str] = mapped_column(sa.Text)
    creator_id: Mapped[str | None] = mapped_column(sa.Text, index=True)
    # The business object the entry is about ("payment:<id>", "refund:<id>",
    # "dispute:<id>"); unique per kind, so one refund is posted once even if it
    # were announced by two different events.
    reference: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.clock_timestamp())
    # The hash chain (ledger.domain.chain): entries in `seq` order, each hash covering
    # the entry, its postings and the previous hash.
    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(always=True), unique=True)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The facts the entry books (chain.EntryFacts), NULL where they do not apply.
    payment_id: Mapped[str | None] = mapped_column(sa.Text, index=True)
    dispute_id: Mapped[str | None] = mapped_column(sa.Text)
    fact_amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    stripe_balance_transaction_id: Mapped[str | None] = mapped_column(sa.Text, index=True)

    __table_args__ = (
        sa.Index(
            "journal_entries_kind_reference", "kind", "reference", unique=True,
            postgresql_where=sa.text("reference IS NOT NULL"),
        ),
    )


class PostingRow(Base):
    __tablename__ = "postings"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("journal_entries.id"), index=True)
    account: Mapped[str] = mapped_column(sa.Text)
    currency: Mapped[str] = mapped_column(sa.String(3))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)  # debit > 0, credit < 0

    __table_args__ = (sa.Index("postings_account_currency", "account", "currency"),)


class AccountBalance(Base):
    """The sum of an account's postings in a currency, updated in the transaction
    that posts them (the check compares it with the journal)."""

    __tablename__ = "account_balances"

    account: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    currency: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    balance_minor: Mapped[int] = mapped_column(sa.BigInteger)


class Debt(Base):
    """A projection of `creator:{id}:debt` per cause; it changes (remaining,
    status), the journal does not. Payouts deduct the oldest open debts first."""

    __tablename__ = "debts"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    creator_id: Mapped[str] = mapped_column(sa.Text)
    currency: Mapped[str] = mapped_column(sa.String(3))
    cause_type: Mapped[str] = mapped_column(sa.Text)  # refund | dispute
    cause_id: Mapped[str] = mapped_column(sa.Text)  # our refund or dispute id
    entry_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("journal_entries.id"))  # the entry that created it
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    remaining_minor: Mapped[int] = mapped_column(sa.BigInteger)
    reversed_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    status: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.clock_timestamp())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.clock_timestamp())

    __table_args__ = (
        sa.UniqueConstraint("cause_type", "cause_id", name="debts_one_per_cause"),
        sa.Index("debts_creator_currency_status", "creator_id", "currency", "status"),
    )

    def amounts(self) -> domain.DebtAmounts:
        return domain.DebtAmounts(self.amount_minor, self.remaining_minor, self.reversed_minor)


class PayoutReservation(Base):
    """The ledger's answer to one payout request and where it stands since:
    REFUSED (nothing reserved), RESERVED, then RELEASED, PAID or FAILED. A
    projection beside the journal: sum(net of RESERVED) == creator:{id}:reserved."""

    __tablename__ = "payout_reservations"

    payout_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    creator_id: Mapped[str] = mapped_column(sa.Text)
    currency: Mapped[str] = mapped_column(sa.String(3))
    gross_minor: Mapped[int] = mapped_column(sa.BigInteger)  # 0 when refused
    debt_deducted_minor: Mapped[int] = mapped_column(sa.BigInteger)
    net_minor: Mapped[int] = mapped_column(sa.BigInteger)
    deductions: Mapped[list[dict]] = mapped_column(JSONB)  # [{"debt_id", "amount_minor"}], oldest debt first
    status: Mapped[str] = mapped_column(sa.Text)
    refusal_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.clock_timestamp())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.clock_timestamp())

    __table_args__ = (sa.Index("payout_reservations_creator_currency", "creator_id", "currency", "status"),)


def entry_key(kind: str, reference: str) -> str:
    """What an event that builds on this entry waits for while it is parked."""
    return f"entry:{kind}:{reference}"


@dataclass(frozen=True)
class NewEntry:
    """A balanced entry to append to the journal (post_entries)."""

    cause_event_id: uuid.UUID
    kind: str
    creator_id: str | None
    reference: str | None
    postings: Sequence[domain.Posting]
    facts: chain.EntryFacts = chain.EntryFacts()

    def unique_keys(self) -> list[tuple[str, ...]]:
        return _unique_keys(self.cause_event_id, self.kind, self.reference)


def _unique_keys(cause_event_id: uuid.UUID, kind: str, reference: str | None) -> list[tuple[str, ...]]:
    """What no two entries of the journal share (its unique indexes)."""
    keys = [("cause", str(cause_event_id))]
    if reference is not None:
        keys.append(("reference", kind, reference))
    return keys


# Built once, with the rows as one array per column: one statement text for any
# number of rows, compiled and prepared once, and run once.
#
# One chain for the whole journal: appends are serialized by this transaction-scoped
# lock, so `seq` order is commit order and each entry links to the one before.
JOURNAL_CHAIN_LOCK = 0x1ED6E4  # any constant of this database
_LOCK_CHAIN = sa.select(sa.func.pg_advisory_xact_lock(JOURNAL_CHAIN_LOCK))
# In the order of the creators' ids, whoever takes them: two transactions locking
# overlapping sets of creators wait for each other instead of deadlocking.
_LOCK_CREATORS = sa.text("""
    SELECT pg_advisory_xact_lock(hashtextextended('ledger-creator:' || creator_id, 0))
    FROM unnest(CAST(:creator_ids AS text[])) AS creator(creator_id)
    ORDER BY creator_id
""")
# What appending needs, in one read: the entries already in the journal with
# one of these causes or (kind, reference)s (hash NULL), and the hash of the
# journal's last entry (the only row with a hash, none while it is empty).
_POSTED_AND_LAST_HASH = sa.text("""
    SELECT cause_event_id, kind, reference, NULL AS hash FROM journal_entries
    WHERE cause_event_id = ANY(CAST(:cause_event_ids AS uuid[]))
    UNION ALL
    SELECT posted.cause_event_id, posted.kind, posted.reference, NULL
    FROM unnest(CAST(:kinds AS text[]), CAST(:references AS text[])) AS new(kind, reference)
    JOIN journal_entries AS posted ON posted.kind = new.kind AND posted.reference = new.reference
    WHERE posted.reference IS NOT NULL
    UNION ALL
    (SELECT NULL, NULL, NULL, hash FROM journal_entries ORDER BY seq DESC LIMIT 1)
""")
# WITH ORDINALITY ... ORDER BY: rows are inserted in the arrays' order, so `seq`
# (entries) and `id` (postings) follow the chain's order.
_INSERT_ENTRIES = sa.text("""
    INSERT INTO journal_entries (id, cause_event_id, kind, creator_id, reference, created_at, prev_hash, hash,
                                 payment_id, dispute_id, fact_amount_minor, stripe_balance_transaction_id)
    SELECT id, cause_event_id, kind, creator_id, reference, created_at, prev_hash, hash,
           payment_id, dispute_id, fact_amount_minor, stripe_balance_transaction_id
    FROM unnest(
        CAST(:ids AS uuid[]), CAST(:cause_event_ids AS uuid[]), CAST(:kinds AS text[]),
        CAST(:creator_ids AS text[]), CAST(:references AS text[]), CAST(:created_ats AS timestamptz[]),
        CAST(:prev_hashes AS text[]), CAST(:hashes AS text[]), CAST(:payment_ids AS text[]),
        CAST(:dispute_ids AS text[]), CAST(:fact_amounts AS bigint[]), CAST(:transaction_ids AS text[])
    ) WITH ORDINALITY AS new(id, cause_event_id, kind, creator_id, reference, created_at, prev_hash, hash,
                             payment_id, dispute_id, fact_amount_minor, stripe_balance_transaction_id, ord)
    ORDER BY ord
""")
_INSERT_POSTINGS = sa.text("""
    INSERT INTO postings (entry_id, account, currency, amount_minor)
    SELECT entry_id, account, currency, amount_minor
    FROM unnest(CAST(:entry_ids AS uuid[]), CAST(:accounts AS text[]), CAST(:currencies AS text[]),
                CAST(:amounts AS bigint[])) WITH ORDINALITY AS new(entry_id, account, currency, amount_minor, ord)
    ORDER BY ord
""")
# One row per (account, currency) and in their order (the caller sums and sorts):
# a statement may change a row once, and every posting transaction takes the
# rows' locks in one order.
_ADD_TO_BALANCES = sa.text("""
    INSERT INTO account_balances (account, currency, balance_minor)
    SELECT account, currency, amount
    FROM unnest(CAST(:accounts AS text[]), CAST(:currencies AS text[]), CAST(:amounts AS bigint[]))
         WITH ORDINALITY AS new(account, currency, amount, ord)
    ORDER BY ord
    ON CONFLICT (account, currency)
    DO UPDATE SET balance_minor = account_balances.balance_minor + excluded.balance_minor
""")
_BALANCES_OF = sa.select(AccountBalance.currency, AccountBalance.account, AccountBalance.balance_minor).where(
    AccountBalance.account == sa.func.any(sa.bindparam("accounts", type_=ARRAY(sa.Text())))
)


async def post_entries(session: AsyncSession, entries: Sequence[NewEntry]) -> dict[uuid.UUID, uuid.UUID]:
    """Append balanced entries to the chain in this order, in a number of
    statements that does not depend on how many; cause event id -> entry id of
    those posted. An entry whose cause, or (kind, reference), was already posted,
    before or earlier among `entries`, posts nothing, as if each were posted in turn."""
    for entry in entries:
        domain.check_balanced(entry.postings)
    await session.execute(_LOCK_CHAIN)
    # Under the chain's lock nothing else appends: what is read here is what the
    # inserts below would conflict with, so each entry's link is to the entry before it.
    rows = (await session.execute(_POSTED_AND_LAST_HASH, {
        "cause_event_ids": [entry.cause_event_id for entry in entries],
        "kinds": [entry.kind for entry in entries if entry.reference is not None],
        "references": [entry.reference for entry in entries if entry.reference is not None],
    })).all()
    last_hash = next((row.hash for row in rows if row.hash is not None), hash_chain.GENESIS_HASH)
    taken = [key for row in rows if row.hash is None
             for key in _unique_keys(row.cause_event_id, row.kind, row.reference)]
    fresh = [entries[position] for position in domain.first_posted([e.unique_keys() for e in entries], taken)]
    if not fresh:
        return {}
    chained = [
        chain.ChainedEntry(
            id=str(uuid.uuid4()), cause_event_id=str(entry.cause_event_id), kind=entry.kind,
            creator_id=entry.creator_id, reference=entry.reference, facts=entry.facts,
            # Set here, not by the database, so the hash covers the value stored (PostgreSQL keeps microseconds too).
            created_at=datetime.now(UTC),
            postings=tuple(entry.postings),
        )
        for entry in fresh
    ]
    links = hash_chain.linked(last_hash, chained)
    await session.execute(_INSERT_ENTRIES, {
        "ids": [uuid.UUID(entry.id) for entry in chained],
        "cause_event_ids": [entry.cause_event_id for entry in fresh],
        "kinds": [entry.kind for entry in fresh],
        "creator_ids": [entry.creator_id for entry in fresh],
        "references": [entry.reference for entry in fresh],
        "created_ats": [entry.created_at for entry in chained],
        "prev_hashes": [prev_hash for prev_hash, _ in links],
        "hashes": [entry_hash for _, entry_hash in links],
        "payment_ids": [entry.facts.payment_id for entry in fresh],
        "dispute_ids": [entry.facts.dispute_id for entry in fresh],
        "fact_amounts": [entry.facts.fact_amount_minor for entry in fresh],
        "transaction_ids": [entry.facts.stripe_balance_transaction_id for entry in fresh],
    })
    postings = [(uuid.UUID(entry.id), posting) for entry in chained for posting in entry.postings]
    await session.execute(_INSERT_POSTINGS, {
        "entry_ids": [entry_id for entry_id, _ in postings],
        "accounts": [posting.account for _, posting in postings],
        "currencies": [posting.currency for _, posting in postings],
        "amounts": [posting.amount_minor for _, posting in postings],
    })
    net = sorted(domain.net_by_account(posting for _, posting in postings).items())
    await session.execute(_ADD_TO_BALANCES, {
        "accounts": [account for (account, _), _ in net],
        "currencies": [currency for (_, currency), _ in net],
        "amounts": [amount for _, amount in net],
    })
    return {entry.cause_event_id: uuid.UUID(appended.id) for entry, appended in zip(fresh, chained, strict=True)}


async def lock_creators(session: AsyncSession, creator_ids: Iterable[str]) -> None:
    """Serialize the entries that read a creator's balance before posting (a
    refund's shortfall depends on `available`), until the transaction ends.

    The journal's chain lock comes first: a transaction holding a creator's lock
    and waiting for the chain's, while another holds the chain's and waits for
    that creator's, would deadlock. The creators' own come in their ids' order."""
    await session.execute(_LOCK_CHAIN)
    await session.execute(_LOCK_CREATORS, {"creator_ids": sorted(set(creator_ids))})


async def list_debts(
    session: AsyncSession, *, creator_id: str | None, status: str | None, limit: int
) -> list[Debt]:
    query = sa.select(Debt).order_by(Debt.created_at.desc(), Debt.id).limit(limit)
    if creator_id is not None:
        query = query.where(Debt.creator_id == creator_id)
    if status is not None:
        query = query.where(Debt.status == status)
    return list(await session.scalars(query))


async def creator_balance(session: AsyncSession, creator_id: str, currency: str) -> domain.CreatorBalance:
    for balance in await creator_balances(session, creator_id):
        if balance.currency == currency:
            return balance
    return domain.CreatorBalance(currency=currency)


async def creator_balances(session: AsyncSession, creator_id: str) -> list[domain.CreatorBalance]:
    """Every currency the creator has postings in, from the accounts' balance rows."""
    sums = await creator_account_sums(session, [creator_id])
    return [domain.creator_balance(creator_id, currency, by_account) for currency, by_account in sorted(sums.items())]


async def creator_account_sums(session: AsyncSession, creator_ids: Iterable[str]) -> dict[str, dict[str, int]]:
    """Currency -> account -> signed sum, of these creators' accounts' balance rows."""
    accounts = [domain.creator_account(creator_id, bucket)
                for creator_id in sorted(set(creator_ids)) for bucket in domain.CREATOR_BUCKETS]
    rows = await session.execute(_BALANCES_OF, {"accounts": accounts})
    sums: dict[str, dict[str, int]] = defaultdict(dict)
    for currency, account, total in rows:
        sums[currency][account] = int(total)
    return dict(sums)


# Payout reservations and the debts they deduct, read and written a run of
# payout events at a time (ledger.handlers.payouts, ledger.domain.reservations). The
# reads select columns, not ORM objects (and so flush what an earlier handler
# of the batch changed through the ORM first); the writes are one statement each.
_DEBT_COLUMNS = (
    Debt.id, Debt.creator_id, Debt.currency, Debt.amount_minor, Debt.remaining_minor, Debt.reversed_minor,
    # A debt whose refund failed after succeeding (the refund's reversal is posted).
    sa.and_(Debt.cause_type == "refund", sa.exists().where(
        JournalEntry.kind == "refund_reversal", JournalEntry.reference == "refund:" + Debt.cause_id,
    )).label("cause_undone"),
)


def _stored_debt(row: sa.Row) -> domain.StoredDebt:
    return domain.StoredDebt(
        str(row.id), row.creator_id, row.currency,
        domain.DebtAmounts(int(row.amount_minor), int(row.remaining_minor), int(row.reversed_minor)),
        cause_undone=bool(row.cause_undone),
    )


async def open_debts_for_update(
    session: AsyncSession, creator_ids: Iterable[str]
) -> dict[str, domain.StoredDebt]:
    """The creators' debts still owed, in every currency, oldest first (payouts deduct FIFO)."""
    rows = await session.execute(
        sa.select(*_DEBT_COLUMNS)
        .where(Debt.creator_id.in_(sorted(set(creator_ids))),
               Debt.status.in_([domain.DEBT_OPEN, domain.DEBT_PARTIALLY_DEDUCTED]))
        .order_by(Debt.created_at, Debt.id)
        .with_for_update(of=Debt)
    )
    return {str(row.id): _stored_debt(row) for row in rows}


async def debts_for_update(session: AsyncSession, debt_ids: Iterable[str]) -> dict[str, domain.StoredDebt]:
    ids = sorted({uuid.UUID(debt_id) for debt_id in debt_ids})
    if not ids:
        return {}
    rows = await session.execute(
        sa.select(*_DEBT_COLUMNS).where(Debt.id.in_(ids)).order_by(Debt.id).with_for_update(of=Debt)
    )
    return {str(row.id): _stored_debt(row) for row in rows}


_SET_DEBT_AMOUNTS = sa.text("""
    UPDATE debts SET remaining_minor = new.remaining_minor, reversed_minor = new.reversed_minor,
                     status = new.status, updated_at = clock_timestamp()
    FROM unnest(CAST(:ids AS uuid[]), CAST(:remaining AS bigint[]), CAST(:reversed AS bigint[]),
                CAST(:statuses AS text[])) AS new(id, remaining_minor, reversed_minor, status)
    WHERE debts.id = new.id
""")


async def set_debts_amounts(session: AsyncSession, debts: Sequence[domain.StoredDebt]) -> None:
    if not debts:
        return
    await session.execute(_SET_DEBT_AMOUNTS, {
        "ids": [uuid.UUID(debt.debt_id) for debt in debts],
        "remaining": [debt.amounts.remaining_minor for debt in debts],
        "reversed": [debt.amounts.reversed_minor for debt in debts],
        "statuses": [debt.amounts.status for debt in debts],
    })


async def reservations_for_update(
    session: AsyncSession, payout_ids: Iterable[str]
) -> dict[str, reservations.StoredReservation]:
    reservation = PayoutReservation
    rows = await session.execute(
        sa.select(reservation.payout_id, reservation.creator_id, reservation.currency, reservation.status,
                  reservation.gross_minor, reservation.deductions, reservation.refusal_reason)
        .where(reservation.payout_id.in_(sorted(set(payout_ids))))
        .order_by(reservation.payout_id)
        .with_for_update()
    )
    return {
        row.payout_id: reservations.StoredReservation(
            row.payout_id, row.creator_id, row.currency, row.status,
            domain.Reservation(int(row.gross_minor),
                               tuple(domain.Deduction(d["debt_id"], int(d["amount_minor"])) for d in row.deductions)),
            row.refusal_reason,
        )
        for row in rows
    }


_ADD_RESERVATIONS = sa.text("""
    INSERT INTO payout_reservations (payout_id, creator_id, currency, gross_minor, debt_deducted_minor, net_minor,
                                     deductions, status, refusal_reason)
    SELECT payout_id, creator_id, currency, gross_minor, debt_deducted_minor, net_minor, CAST(deductions AS jsonb),
           status, refusal_reason
    FROM unnest(CAST(:payout_ids AS text[]), CAST(:creator_ids AS text[]), CAST(:currencies AS text[]),
                CAST(:grosses AS bigint[]), CAST(:deducted AS bigint[]), CAST(:nets AS bigint[]),
                CAST(:deductions AS text[]), CAST(:statuses AS text[]), CAST(:reasons AS text[]))
         AS new(payout_id, creator_id, currency, gross_minor, debt_deducted_minor, net_minor, deductions, status,
                refusal_reason)
""")
_SET_RESERVATION_STATUSES = sa.text("""
    UPDATE payout_reservations SET status = new.status, updated_at = clock_timestamp()
    FROM unnest(CAST(:payout_ids AS text[]), CAST(:statuses AS text[])) AS new(payout_id, status)
    WHERE payout_reservations.payout_id = new.payout_id
""")


async def add_reservations(session: AsyncSession, added: Sequence[reservations.StoredReservation]) -> None:
    """The answers to payout requests: reservations, or refusals (nothing reserved)."""
    if not added:
        return
    await session.execute(_ADD_RESERVATIONS, {
        "payout_ids": [r.payout_id for r in added],
        "creator_ids": [r.creator_id for r in added],
        "currencies": [r.currency for r in added],
        "grosses": [r.reserved.gross_minor for r in added],
        "deducted": [r.reserved.debt_deducted_minor for r in added],
        "nets": [r.reserved.net_minor for r in added],
        "deductions": [
            json.dumps([{"debt_id": d.debt_id, "amount_minor": d.amount_minor} for d in r.reserved.deductions])
            for r in added
        ],
        "statuses": [r.status for r in added],
        "reasons": [r.refusal_reason for r in added],
    })


async def set_reservation_statuses(session: AsyncSession, changed: Sequence[reservations.StoredReservation]) -> None:
    if not changed:
        return
    await session.execute(_SET_RESERVATION_STATUSES, {
        "payout_ids": [r.payout_id for r in changed],
        "statuses": [r.status for r in changed],
    })


class PaymentTerms(Base):
    """A payment as the creator's entitlement needs it (ledger.domain.entitlement):
    written with its `payment` entry, locked by every movement on the payment."""

    __tablename__ = "payment_terms"

    payment_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    creator_id: Mapped[str] = mapped_column(sa.Text)
    currency: Mapped[str] = mapped_column(sa.String(3))
    price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    creator_share_minor: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.clock_timestamp())


class PaymentTakeback(Base):
    """A refund or dispute of a payment, and where it stands: the facts the
    payment's totals are summed from. `reference` is that of its journal entries."""

    __tablename__ = "payment_takebacks"

    reference: Mapped[str] = mapped_column(sa.Text, primary_key=True)  # refund:<id> | dispute:<id>
    payment_id: Mapped[str] = mapped_column(sa.ForeignKey("payment_terms.payment_id"), index=True)
    kind: Mapped[str] = mapped_column(sa.Text)  # entitlement.REFUND | entitlement.DISPUTE
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)  # refunded, or disputed
    status: Mapped[str] = mapped_column(sa.Text)  # entitlement.TAKEBACK_STATUSES[kind]
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.clock_timestamp())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.clock_timestamp())


@dataclass(frozen=True)
class NewPaymentTerms:
    payment_id: str
    creator_id: str
    currency: str
    price_minor: int
    creator_share_minor: int


_ADD_PAYMENT_TERMS = sa.text("""
    INSERT INTO payment_terms (payment_id, creator_id, currency, price_minor, creator_share_minor)
    SELECT * FROM unnest(CAST(:payment_ids AS text[]), CAST(:creator_ids AS text[]), CAST(:currencies AS text[]),
                         CAST(:prices AS bigint[]), CAST(:shares AS bigint[]))
    ON CONFLICT DO NOTHING
""")


async def add_payment_terms(session: AsyncSession, terms: Sequence[NewPaymentTerms]) -> None:
    """The terms of payments just posted, in one statement."""
    if not terms:
        return
    await session.execute(_ADD_PAYMENT_TERMS, {
        "payment_ids": [t.payment_id for t in terms],
        "creator_ids": [t.creator_id for t in terms],
        "currencies": [t.currency for t in terms],
        "prices": [t.price_minor for t in terms],
        "shares": [t.creator_share_minor for t in terms],
    })


async def booked_on_stripe_balance(
    session: AsyncSession | AsyncConnection, transaction_ids: list[str]
) -> dict[str, dict[str, int]]:
    """Transaction id -> currency -> what the ledger posted on `stripe:balance` for
    that Stripe balance transaction: the entry naming it, plus, for a charge's
    settlement, the payment's own entry (which booked the price before the
    balance transaction was known)."""
    entries = JournalEntry.__table__
    tagged = (
        sa.select(entries.c.id, entries.c.kind, entries.c.payment_id,
                  entries.c.stripe_balance_transaction_id.label("txn"))
        .where(entries.c.stripe_balance_transaction_id.in_(transaction_ids))
        .cte("tagged")
    )
    payment_entries = entries.alias("payment_entries")
    booking = sa.union_all(
        sa.select(tagged.c.txn, tagged.c.id.label("entry_id")),
        sa.select(tagged.c.txn, payment_entries.c.id)
        .join(payment_entries, sa.and_(payment_entries.c.kind == "payment",
                                       payment_entries.c.payment_id == tagged.c.payment_id))
        .where(tagged.c.kind == "processing_fee"),
    ).subquery("booking")
    rows = await session.execute(
        sa.select(booking.c.txn, PostingRow.currency, sa.func.sum(PostingRow.amount_minor))
        .join(PostingRow, PostingRow.entry_id == booking.c.entry_id)
        .where(PostingRow.account == domain.STRIPE_BALANCE)
        .group_by(booking.c.txn, PostingRow.currency)
    )
    booked: dict[str, dict[str, int]] = defaultdict(dict)
    for transaction_id, currency, total in rows:
        booked[transaction_id][currency] = int(total)
    # A transaction whose entries post nothing on stripe:balance is still booked.
    for transaction_id in await session.scalars(sa.select(tagged.c.txn)):
        booked.setdefault(transaction_id, {})
    return dict(booked)


# --- Refunds and disputes, set-based (handlers/takebacks.py): what a batch of
# them reads, each in one statement for the whole batch, and writes, each in one.

_POSTED_OF = sa.text("""
    SELECT posted.kind, posted.reference
    FROM unnest(CAST(:kinds AS text[]), CAST(:references AS text[])) AS asked(kind, reference)
    JOIN journal_entries AS posted ON posted.kind = asked.kind AND posted.reference = asked.reference
    WHERE posted.reference IS NOT NULL
""")


async def entries_posted(session: AsyncSession, asked: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (kind, reference) entries are in the journal."""
    pairs = sorted(set(asked))
    rows = await session.execute(_POSTED_OF, {"kinds": [kind for kind, _ in pairs],
                                              "references": [reference for _, reference in pairs]})
    return {(kind, reference) for kind, reference in rows}


async def payment_terms_for_update(session: AsyncSession, payment_ids: Iterable[str]) -> dict[str, movements.Terms]:
    """The payments' terms, locked (in id order) until their movements are posted."""
    terms = PaymentTerms
    rows = await session.execute(
        sa.select(terms.payment_id, terms.creator_id, terms.currency, terms.price_minor, terms.creator_share_minor)
        .where(terms.payment_id == sa.func.any(sa.bindparam("payment_ids", type_=ARRAY(sa.Text()))))
        .order_by(terms.payment_id)
        .with_for_update(),
        {"payment_ids": sorted(set(payment_ids))},
    )
    return {payment_id: movements.Terms(creator_id, currency, int(price), int(share))
            for payment_id, creator_id, currency, price, share in rows}


async def takebacks_of(
    session: AsyncSession, payment_ids: Iterable[str], references: Iterable[str]
) -> dict[str, movements.Takeback]:
    """By reference, the takebacks of these payments, and of these references
    whatever payment they name."""
    takeback = PaymentTakeback
    rows = await session.execute(
        sa.select(takeback.reference, takeback.payment_id, takeback.kind, takeback.amount_minor, takeback.status)
        .where(sa.or_(
            takeback.payment_id == sa.func.any(sa.bindparam("payment_ids", type_=ARRAY(sa.Text()))),
            takeback.reference == sa.func.any(sa.bindparam("references", type_=ARRAY(sa.Text()))),
        )),
        {"payment_ids": sorted(set(payment_ids)), "references": sorted(set(references))},
    )
    return {reference: movements.Takeback(payment_id, kind, int(amount), status)
            for reference, payment_id, kind, amount, status in rows}


async def refund_debts_for_update(session: AsyncSession, refund_ids: Iterable[str]) -> dict[str, domain.StoredDebt]:
    """By refund id, the debt its shortfall opened, locked."""
    rows = await session.execute(
        sa.select(*_DEBT_COLUMNS, Debt.cause_id)
        .where(Debt.cause_type == "refund",
               Debt.cause_id == sa.func.any(sa.bindparam("refund_ids", type_=ARRAY(sa.Text()))))
        .order_by(Debt.id)
        .with_for_update(of=Debt),
        {"refund_ids": sorted(set(refund_ids))},
    )
    return {row.cause_id: _stored_debt(row) for row in rows}


# A takeback is added by its opening movement and moves status by its closing one.
_STORE_TAKEBACKS = sa.text("""
    INSERT INTO payment_takebacks (reference, payment_id, kind, amount_minor, status)
    SELECT * FROM unnest(CAST(:references AS text[]), CAST(:payment_ids AS text[]), CAST(:kinds AS text[]),
                         CAST(:amounts AS bigint[]), CAST(:statuses AS text[]))
    ON CONFLICT (reference) DO UPDATE SET status = excluded.status, updated_at = clock_timestamp()
""")


async def store_takebacks(session: AsyncSession, takebacks: dict[str, movements.Takeback]) -> None:
    """Add these takebacks (by reference), or set their status."""
    if not takebacks:
        return
    await session.execute(_STORE_TAKEBACKS, {
        "references": list(takebacks),
        "payment_ids": [t.payment_id for t in takebacks.values()],
        "kinds": [t.kind for t in takebacks.values()],
        "amounts": [t.amount_minor for t in takebacks.values()],
        "statuses": [t.status for t in takebacks.values()],
    })


@dataclass(frozen=True)
class NewDebt:
    id: uuid.UUID
    creator_id: str
    currency: str
    cause_type: str
    cause_id: str
    entry_id: uuid.UUID  # the entry whose shortfall it is
    amount_minor: int


# Inserted in the arrays' order; created_at (the database's clock, per row) can
# tie within a statement, so payouts' FIFO order (created_at, id) needs the ids
# in that order too (add_debts).
_ADD_DEBTS = sa.text("""
    INSERT INTO debts (id, creator_id, currency, cause_type, cause_id, entry_id, amount_minor, remaining_minor,
                       reversed_minor, status)
    SELECT id, creator_id, currency, cause_type, cause_id, entry_id, amount_minor, amount_minor, 0, :status
    FROM unnest(CAST(:ids AS uuid[]), CAST(:creator_ids AS text[]), CAST(:currencies AS text[]),
                CAST(:cause_types AS text[]), CAST(:cause_ids AS text[]), CAST(:entry_ids AS uuid[]),
                CAST(:amounts AS bigint[])) WITH ORDINALITY
         AS new(id, creator_id, currency, cause_type, cause_id, entry_id, amount_minor, ord)
    ORDER BY ord
""")


def new_debt_ids(count: int) -> list[uuid.UUID]:
    """Ids for debts added together, increasing: the order they are deducted in when created_at ties."""
    return sorted(uuid.uuid4() for _ in range(count))


async def add_debts(session: AsyncSession, debts: Sequence[NewDebt]) -> None:
    """Open these debts, oldest first (ids from new_debt_ids, in this order)."""
    if not debts:
        return
    await session.execute(_ADD_DEBTS, {
        "status": domain.DEBT_OPEN,
        "ids": [d.id for d in debts],
        "creator_ids": [d.creator_id for d in debts],
        "currencies": [d.currency for d in debts],
        "cause_types": [d.cause_type for d in debts],
        "cause_ids": [d.cause_id for d in debts],
        "entry_ids": [d.entry_id for d in debts],
        "amounts": [d.amount_minor for d in debts],
    })

