"""The offer catalogue: what a creator sells, at the price the server charges.

An intent names an offer and nothing else; its price, currency and payee are
copied from the offer row onto the payment, so a later price change or a
disabled offer never touches a payment already opened.
"""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from payments.models import Base


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


def offer_view(offer: Offer) -> dict:
    return {
        "offer_id": str(offer.id),
        "creator_id": offer.creator_id,
        "title": offer.title,
        "price_minor": offer.price_minor,
        "currency": offer.currency,
        "active": offer.active,
        "created_at": offer.created_at.isoformat(),
        "updated_at": offer.updated_at.isoformat(),
    }
