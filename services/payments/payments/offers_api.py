"""Offer routes of payments' internal API (called by the gateway only): a creator
keeps their catalogue; anyone reads a creator's active offers."""

import uuid
from typing import Annotated, Any

from litestar import Response, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from common.http import SAFE_ID_PATTERN, Identity, require_role
from common.money import CurrencyCode, MinorUnits
from common.service import DatabaseDep, IdentityDep
from payments import models
from payments.domain.offers import InvalidOffer, OfferNotFound, check_title
from payments.domain.payments import PaymentError, check_price
from payments.models import Offer


PriceMinor = Annotated[MinorUnits, Field(description="What a fan pays, in minor units")]


class NewOffer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    price_minor: PriceMinor
    currency: CurrencyCode


class OfferChange(BaseModel):
    """Only what is given changes; a new price applies to intents opened from now on."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    price_minor: PriceMinor | None = None
    currency: CurrencyCode | None = None


def _checked(title: str, price_minor: int, currency: str) -> None:
    check_title(title)
    try:
        check_price(price_minor, currency)
    except PaymentError as error:
        raise InvalidOffer(str(error)) from error


@post("/offers")
async def create_offer(data: JSONBody[NewOffer], db: DatabaseDep, who: IdentityDep) -> Response[dict[str, Any]]:
    require_role(who, "creator")
    currency = data.currency.upper()
    _checked(data.title, data.price_minor, currency)
    async with db.transaction() as session:
        offer = Offer(id=uuid.uuid4(), creator_id=who.user_id, title=data.title, price_minor=data.price_minor,
                      currency=currency, active=True)
        session.add(offer)
        await session.flush()
        await session.refresh(offer)
    return Response(offer_view(offer), status_code=201)


@get("/offers")
async def list_active_offers(
    db: DatabaseDep, creator_id: Annotated[str, QueryParameter(pattern=SAFE_ID_PATTERN)]
) -> dict[str, Any]:
    """A creator's offers a fan can buy (public: no identity needed)."""
    async with db.transaction() as session:
        found = await models.list_offers(session, creator_id, active_only=True)
    return {"items": [offer_view(offer) for offer in found]}


@get("/offers/mine")
async def list_own_offers(db: DatabaseDep, who: IdentityDep) -> dict[str, Any]:
    """The caller's whole catalogue, disabled offers included."""
    require_role(who, "creator")
    async with db.transaction() as session:
        found = await models.list_offers(session, who.user_id, active_only=False)
    return {"items": [offer_view(offer) for offer in found]}


async def _own_offer_for_update(session: AsyncSession, offer_id: uuid.UUID, who: Identity) -> Offer:
    offer = await models.get_offer(session, offer_id, for_update=True)
    if offer is None or offer.creator_id != who.user_id:  # another creator's offer is none of theirs
        raise OfferNotFound(f"no offer {offer_id}")
    return offer


@patch("/offers/{offer_id:uuid}")
async def update_offer(
    offer_id: FromPath[uuid.UUID], data: JSONBody[OfferChange], db: DatabaseDep, who: IdentityDep
) -> dict[str, Any]:
    require_role(who, "creator")
    async with db.transaction() as session:
        offer = await _own_offer_for_update(session, offer_id, who)
        title = data.title if data.title is not None else offer.title
        price = data.price_minor if data.price_minor is not None else offer.price_minor
        currency = data.currency.upper() if data.currency is not None else offer.currency
        _checked(title, price, currency)
        offer.title, offer.price_minor, offer.currency = title, price, currency
        await session.flush()
        await session.refresh(offer)
    return offer_view(offer)


@post("/offers/{offer_id:uuid}/disable", status_code=200)
async def disable_offer(offer_id: FromPath[uuid.UUID], db: DatabaseDep, who: IdentityDep) -> dict[str, Any]:
    """No new intent can name it; payments already opened for it go on. Disabling twice is harmless."""
    require_role(who, "creator")
    async with db.transaction() as session:
        offer = await _own_offer_for_update(session, offer_id, who)
        if offer.active:
            offer.active = False
            await session.flush()
            await session.refresh(offer)
    return offer_view(offer)


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


route_handlers = [create_offer, list_active_offers, list_own_offers, update_offer, disable_offer]
