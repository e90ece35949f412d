"""The tables (offers, payments, refunds, disputes) and the few queries the
service needs.

An intent names an offer and nothing else; its price, currency and payee are
copied from the offer row onto the payment, so a later price change or a
disabled offer never touches a payment already opened.

The PaymentIntent's client secret is never stored: it is handed to the paying fan
once, in the answer to the request that created the intent.
"""

import functools
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from payments.domain.payments import PaymentStatus, Split
from payments.domain.refunds import OPEN


class Base(DeclarativeBase):
    pass


# The offer catalogue: what a creator sells, at the price the server charges.
class Offer(Base):
    __tablename__ = "offers"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    creator_id: Mapped[str] = mapped_column(sa.Text, index=True)  # the payee of every payment for it
    title: Mapped[str] = mapped_column(sa.Text)
    price_minor: Mapped[int] = mapped_column(sa.BigInteger)  # what a fan pays, minor units of `currency`
    currency: Mapped[str] = mapped_column(sa.String(3))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )

    __table_args__ = (sa.CheckConstraint("price_minor > 0", name="offers_price_positive"),)


def parse_offer_id(value: str) -> uuid.UUID | None:
    """Offer ids are UUIDs; anything else names no offer."""
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def get_offer(session: AsyncSession, offer_id: uuid.UUID, *, for_update: bool = False) -> Offer | None:
    return await session.get(Offer, offer_id, with_for_update=for_update, populate_existing=for_update)


async def list_offers(session: AsyncSession, creator_id: str, *, active_only: bool) -> list[Offer]:
    query = sa.select(Offer).where(Offer.creator_id == creator_id)
    if active_only:
        query = query.where(Offer.active)
    return list(await session.scalars(query.order_by(Offer.created_at, Offer.id)))


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    fan_id: Mapped[str] = mapped_column(sa.Text, index=True)
    creator_id: Mapped[str] = mapped_column(sa.Text, index=True)
    offer_id: Mapped[str | None] = mapped_column(sa.Text)
    # Minor units; the three always satisfy price = share + fee (checked by the database).
    price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    creator_share_minor: Mapped[int] = mapped_column(sa.BigInteger)
    platform_fee_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.Text, default=PaymentStatus.PENDING)
    # NULL between our insert and Stripe's answer (or for good if we crashed in between).
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(sa.Text, unique=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(sa.Text)
    failure_code: Mapped[str | None] = mapped_column(sa.Text)
    failure_message: Mapped[str | None] = mapped_column(sa.Text)
    # Why a reported success was not credited (NEEDS_REVIEW): what Stripe received differs.
    review_reason: Mapped[str | None] = mapped_column(sa.Text)
    succeeded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # The fan's Idempotency-Key, if the request carried one: a retried request
    # finds its payment again instead of opening a second one.
    idempotency_key: Mapped[str | None] = mapped_column(sa.Text)
    # Succeeded refunds, and t of the cumulative clawback (see payments.domain.clawback):
    # succeeded refunds plus disputed amounts not won. Minor units.
    refunded_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    taken_back_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    # Stripe's processing fee, in its balance transaction's currency (may differ from `currency`).
    stripe_fee_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    stripe_fee_currency: Mapped[str | None] = mapped_column(sa.String(3))
    stripe_balance_transaction_id: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )

    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('PENDING', 'SUCCEEDED', 'FAILED', 'NEEDS_REVIEW')", name="payments_status_known"
        ),
        sa.CheckConstraint(
            "price_minor > 0 AND creator_share_minor >= 0 AND platform_fee_minor >= 0 "
            "AND creator_share_minor + platform_fee_minor = price_minor",
            name="payments_split_adds_up",
        ),
        sa.UniqueConstraint("fan_id", "idempotency_key", name="payments_fan_idempotency_key"),
    )


async def get_payment(session: AsyncSession, payment_id: uuid.UUID) -> Payment | None:
    return await session.get(Payment, payment_id)


_KEYS = {
    "ids": (Payment.id, ARRAY(UUID(as_uuid=True))),
    "intent_ids": (Payment.stripe_payment_intent_id, ARRAY(sa.Text)),
    "charge_ids": (Payment.stripe_charge_id, ARRAY(sa.Text)),
}


@functools.cache
def _for_update(keys: tuple[str, ...]) -> sa.Select[tuple[Payment]]:
    """Built once per kind of keys given: one statement text for any number of
    payments (so prepared once), in one lock order (by id) so that two batches
    never wait on each other in a circle."""
    return (
        sa.select(Payment)
        .where(sa.or_(*(_KEYS[name][0] == sa.func.any(sa.bindparam(name, type_=_KEYS[name][1])) for name in keys)))
        .order_by(Payment.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


@dataclass(frozen=True)
class PaymentsFound:
    """The payments a batch names, by id, PaymentIntent and charge."""

    by_id: dict[uuid.UUID, Payment]
    by_intent: dict[str, Payment]
    by_charge: dict[str, Payment]

    def of(self, *, intent_id: str | None, charge_id: str | None) -> Payment | None:
        """By PaymentIntent (present on current API versions), else by charge."""
        return self.by_intent.get(intent_id or "") or self.by_charge.get(charge_id or "")

    def __or__(self, other: "PaymentsFound") -> "PaymentsFound":
        return PaymentsFound(self.by_id | other.by_id, self.by_intent | other.by_intent,
                             self.by_charge | other.by_charge)


async def get_payments_for_update(
    session: AsyncSession,
    *,
    ids: Collection[uuid.UUID] = (),
    intent_ids: Collection[str | None] = (),
    charge_ids: Collection[str | None] = (),
) -> PaymentsFound:
    """The payments with any of these ids, PaymentIntents or charges, row-locked
    (so two Stripe events about one payment apply one after the other) and read
    afresh; those not ours are absent."""
    keys = {"ids": sorted(set(ids)), "intent_ids": sorted({i for i in intent_ids if i}),
            "charge_ids": sorted({c for c in charge_ids if c})}
    given = [name for name, values in keys.items() if values]
    found: list[Payment] = []
    if given:  # only the kinds given: a charge id (not indexed, seldom needed) costs a scan
        found = list(await session.scalars(_for_update(tuple(given)), {name: keys[name] for name in given}))
    return PaymentsFound(
        by_id={payment.id: payment for payment in found},
        by_intent={p.stripe_payment_intent_id: p for p in found if p.stripe_payment_intent_id},
        by_charge={p.stripe_charge_id: p for p in found if p.stripe_charge_id},
    )


async def get_payments_named_for_update(
    session: AsyncSession, names: Collection[tuple[str | None, str | None]], *, ids: Collection[uuid.UUID] = ()
) -> PaymentsFound:
    """The payments with these ids, and those Stripe objects name by (PaymentIntent,
    charge), row-locked: by PaymentIntent, then by charge the few not found so
    (a second statement, only then)."""
    found = await get_payments_for_update(session, ids=ids, intent_ids=[intent for intent, _ in names])
    by_charge = [charge for intent, charge in names if charge and found.of(intent_id=intent, charge_id=charge) is None]
    return found | await get_payments_for_update(session, charge_ids=by_charge) if by_charge else found


async def get_payment_for_update(session: AsyncSession, payment_id: uuid.UUID) -> Payment | None:
    return await session.get(Payment, payment_id, with_for_update=True)


async def get_payment_by_key(session: AsyncSession, fan_id: str, idempotency_key: str) -> Payment | None:
    """The payment this fan opened with this Idempotency-Key (keys are per fan)."""
    return await session.scalar(
        sa.select(Payment).where(Payment.fan_id == fan_id, Payment.idempotency_key == idempotency_key)
    )


async def open_payment(
    session: AsyncSession,
    *,
    fan_id: str,
    creator_id: str,
    offer_id: str,
    amounts: Split,
    currency: str,
    idempotency_key: str | None,
) -> tuple[Payment, bool]:
    """Insert a PENDING payment and return it with True; if this fan already used
    `idempotency_key`, return that earlier payment with False instead."""
    payment_id = uuid.uuid4()
    inserted = await session.scalar(
        insert(Payment)
        .values(
            id=payment_id,
            fan_id=fan_id,
            creator_id=creator_id,
            offer_id=offer_id,
            price_minor=amounts.price_minor,
            creator_share_minor=amounts.creator_share_minor,
            platform_fee_minor=amounts.platform_fee_minor,
            currency=currency,
            status=PaymentStatus.PENDING,
            idempotency_key=idempotency_key,
        )
        # NULL keys never conflict: a request without a key always opens a payment.
        .on_conflict_do_nothing(index_elements=[Payment.fan_id, Payment.idempotency_key])
        .returning(Payment.id)
    )
    if inserted is None:
        assert idempotency_key is not None  # NULL keys never conflict
        earlier = await get_payment_by_key(session, fan_id, idempotency_key)
        assert earlier is not None  # the conflicting row exists and payments are never deleted
        return earlier, False
    payment = await session.get(Payment, payment_id)
    assert payment is not None
    return payment, True


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    payment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), sa.ForeignKey("payments.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)  # given back to the fan, payment's currency
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.Text)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    # NULL between our insert and Stripe's answer; set at once for a dashboard-made refund.
    stripe_refund_id: Mapped[str | None] = mapped_column(sa.Text, unique=True)
    # What this refund took from the creator when it succeeded (kept after a failure, as history).
    creator_clawback_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    failure_reason: Mapped[str | None] = mapped_column(sa.Text)
    requested_by: Mapped[str | None] = mapped_column(sa.Text)  # the admin; NULL when made outside our API
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )

    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('PENDING', 'REQUIRES_ACTION', 'SUCCEEDED', 'FAILED', 'CANCELED')",
            name="refunds_status_known",
        ),
        sa.CheckConstraint("amount_minor > 0", name="refunds_amount_positive"),
        sa.CheckConstraint("creator_clawback_minor >= 0", name="refunds_clawback_not_negative"),
    )


async def open_refunds_minor(session: AsyncSession, payment_id: uuid.UUID) -> int:
    """Refunds of the payment still under way at Stripe (pending or requiring action)."""
    total = await session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_minor), 0)).where(
            Refund.payment_id == payment_id, Refund.status.in_(sorted(OPEN))
        )
    )
    return int(total)


async def list_refunds(session: AsyncSession, payment_id: uuid.UUID) -> list[Refund]:
    return list(
        await session.scalars(sa.select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.created_at, Refund.id))
    )


async def get_refund(session: AsyncSession, refund_id: uuid.UUID, *, for_update: bool = False) -> Refund | None:
    return await session.get(Refund, refund_id, with_for_update=for_update, populate_existing=for_update)


async def get_refunds(
    session: AsyncSession, *, ids: Collection[uuid.UUID], stripe_refund_ids: Collection[str], for_update: bool = False
) -> list[Refund]:
    """The refunds with any of these ids or Stripe refund ids (row-locked in id order, and read afresh, if asked)."""
    query = sa.select(Refund).where(sa.or_(
        Refund.id == sa.func.any(sa.bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))),
        Refund.stripe_refund_id == sa.func.any(sa.bindparam("stripe_ids", type_=ARRAY(sa.Text))),
    ))
    if for_update:
        query = query.order_by(Refund.id).with_for_update().execution_options(populate_existing=True)
    return list(await session.scalars(query, {"ids": sorted(set(ids)), "stripe_ids": sorted(set(stripe_refund_ids))}))


class Dispute(Base):
    """A Stripe dispute (chargeback or inquiry) on one of our payments; see payments.domain.disputes."""

    __tablename__ = "disputes"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    payment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), sa.ForeignKey("payments.id"), index=True)
    creator_id: Mapped[str] = mapped_column(sa.Text, index=True)  # the payment's, for the admin filters
    stripe_dispute_id: Mapped[str] = mapped_column(sa.Text, unique=True)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)  # disputed, in the payment's currency
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.Text)  # Stripe's, as is (statuses Stripe adds later included)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    evidence_due_by: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    observed_at: Mapped[int] = mapped_column(sa.BigInteger)  # `created` (Unix s) of the newest Stripe event seen
    # The creator's share frozen by the dispute; NULL while nothing is (an inquiry).
    creator_share_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    taken_back_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # added to the payment's total
    balance_transaction_ids: Mapped[list[str]] = mapped_column(sa.ARRAY(sa.Text), default=list)  # booked once each
    closed: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    outcome: Mapped[str | None] = mapped_column(sa.Text)  # won | lost; NULL while open or closed with no money moved
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )

    __table_args__ = (
        sa.CheckConstraint("amount_minor > 0", name="disputes_amount_positive"),
        sa.CheckConstraint(
            "creator_share_minor >= 0 AND taken_back_minor >= 0", name="disputes_share_not_negative"
        ),
        sa.CheckConstraint("outcome IN ('won', 'lost')", name="disputes_outcome_known"),
        sa.CheckConstraint("closed OR outcome IS NULL", name="disputes_outcome_only_when_closed"),
    )


_DISPUTES_FOR_UPDATE = (
    sa.select(Dispute)
    .where(Dispute.stripe_dispute_id == sa.func.any(sa.bindparam("stripe_ids", type_=ARRAY(sa.Text))))
    .order_by(Dispute.id)
    .with_for_update()
    .execution_options(populate_existing=True)
)


async def get_disputes_for_update(session: AsyncSession, stripe_dispute_ids: Collection[str]) -> dict[str, Dispute]:
    """These Stripe disputes' rows, by Stripe id, row-locked and read afresh; the unknown ones absent."""
    found = await session.scalars(_DISPUTES_FOR_UPDATE, {"stripe_ids": sorted(set(stripe_dispute_ids))})
    return {row.stripe_dispute_id: row for row in found}


def payment_succeeded_key(payment_id: uuid.UUID) -> str:
    """What an event parks on while the payment's success is not applied yet."""
    return f"payment-succeeded:{payment_id}"
