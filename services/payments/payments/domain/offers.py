"""Offers' pure rules: what a title may hold and who may buy an offer. No I/O here."""

from payments.domain.payments import PaymentError


class InvalidOffer(PaymentError):
    pass


class OfferNotFound(PaymentError):
    pass


class OfferDisabled(PaymentError):
    pass


class OwnOfferRefused(PaymentError):
    """A creator cannot pay themselves (with a fan token under their own id)."""


MAX_TITLE_LENGTH = 200


def check_title(title: str) -> None:
    # Titles reach emails and CSV exports: no control characters (newlines included).
    if not title.strip() or len(title) > MAX_TITLE_LENGTH or any(ord(c) < 32 or ord(c) == 127 for c in title):
        raise InvalidOffer(f"a title is 1 to {MAX_TITLE_LENGTH} printable characters")


def check_can_buy(*, offer_active: bool, offer_creator_id: str, fan_id: str) -> None:
    """Raise unless `fan_id` may open a payment for this offer."""
    if not offer_active:
        raise OfferDisabled("this offer is disabled by its creator")
    if offer_creator_id == fan_id:
        raise OwnOfferRefused("a creator cannot buy their own offer")
