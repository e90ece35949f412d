"""The payments table and the few queries the service needs.

The PaymentIntent's client secret is never stored: it is handed to the paying fan
once, in the answer to the request that created the intent.
"""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from payments.domain import PaymentStatus, Split


class Base(DeclarativeBase):
    pass


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
    succeeded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # The fan's Idempotency-Key, if the request carried one: a retried request
    # finds its payment again instead of opening a second one.
    idempotency_key: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )

    __table_args__ = (
        sa.CheckConstraint("status IN ('PENDING', 'SUCCEEDED', 'FAILED')", name="payments_status_known"),
        sa.CheckConstraint(
            "price_minor > 0 AND creator_share_minor >= 0 AND platform_fee_minor >= 0 "
            "AND creator_share_minor + platform_fee_minor = price_minor",
            name="payments_split_adds_up",
        ),
        sa.UniqueConstraint("fan_id", "idempotency_key", name="payments_fan_idempotency_key"),
    )


async def get_payment(session: AsyncSession, payment_id: uuid.UUID) -> Payment | None:
    return await session.get(Payment, payment_id)


async def get_payment_by_intent_for_update(session: AsyncSession, payment_intent_id: str) -> Payment | None:
    """Row-locked, so two different Stripe events about one intent apply one after the other."""
    return await session.scalar(
        sa.select(Payment).where(Payment.stripe_payment_intent_id == payment_intent_id).with_for_update()
    )


async def get_payment_for_update(session: AsyncSession, payment_id: uuid.UUID) -> Payment | None:
    return await session.get(Payment, payment_id, with_for_update=True)


async def open_payment(
    session: AsyncSession,
    *,
    fan_id: str,
    creator_id: str,
    offer_id: str | None,
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
        earlier = await session.scalar(
            sa.select(Payment).where(Payment.fan_id == fan_id, Payment.idempotency_key == idempotency_key)
        )
        assert earlier is not None  # the conflicting row exists and payments are never deleted
        return earlier, False
    payment = await session.get(Payment, payment_id)
    assert payment is not None
    return payment, True
