"""The offer catalogue: what a fan can buy from a creator, at the creator's price."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gateway.schemas.money import Currency, CurrencyIn, MinorUnits, MinorUnitsIn

_OFFER = {
    "offer_id": "0b7c2f4e-8a9d-4e1f-b2c3-d4e5f6a7b8c9", "creator_id": "creator-42", "title": "A 10-minute call",
    "price_minor": 2500, "currency": "EUR", "active": True,
    "created_at": "2026-12-01T10:00:00+00:00", "updated_at": "2026-12-01T10:00:00+00:00"}


class NewOffer(BaseModel):
    model_config = ConfigDict(extra="forbid", example={"title": "A 10-minute call", "price_minor": 2500, "currency": "EUR"})

    title: str
    price_minor: MinorUnitsIn = Field(description="What a fan pays, in minor units")
    currency: CurrencyIn


class OfferChange(BaseModel):
    """Only what is given changes; a new price applies to intents opened from now on."""

    model_config = ConfigDict(extra="forbid", example={"price_minor": 3000})

    title: str | None = None
    price_minor: MinorUnitsIn | None = None
    currency: CurrencyIn | None = None


class Offer(BaseModel):
    model_config = ConfigDict(example=_OFFER)

    offer_id: str
    creator_id: str
    title: str
    price_minor: MinorUnits
    currency: Currency
    active: bool = Field(description="false: disabled, no new intent can name it")
    created_at: datetime
    updated_at: datetime


class OfferList(BaseModel):
    model_config = ConfigDict(example={"items": [_OFFER]})

    items: list[Offer]
