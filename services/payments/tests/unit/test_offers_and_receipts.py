"""Who may buy an offer, what a title may hold, and when a reported success is credited."""

import pytest

from payments.domain.offers import InvalidOffer, OfferDisabled, OwnOfferRefused, check_can_buy, check_title
from payments.domain.payments import (
    PaymentStatus,
    ReportedSuccess,
    receipt_mismatch,
    should_transition,
    success_reported,
)


def test_a_fan_buys_an_active_offer_of_someone_else():
    check_can_buy(offer_active=True, offer_creator_id="creator-1", fan_id="fan-1")


def test_a_disabled_offer_is_not_for_sale():
    with pytest.raises(OfferDisabled):
        check_can_buy(offer_active=False, offer_creator_id="creator-1", fan_id="fan-1")


def test_a_creator_cannot_pay_themselves():
    with pytest.raises(OwnOfferRefused):
        check_can_buy(offer_active=True, offer_creator_id="creator-1", fan_id="creator-1")


@pytest.mark.parametrize("title", ["", "   ", "x" * 201, "Call\nBcc: x@example.com", "tab\there", "bell\x07"])
def test_titles_are_printable_and_bounded(title):
    with pytest.raises(InvalidOffer):
        check_title(title)


def test_a_plain_title_is_fine():
    check_title("Call, 60 min — «VIP»")


def test_what_stripe_received_matches_the_snapshot():
    assert receipt_mismatch(price_minor=10_000, currency="EUR", amount_received=10_000, received_currency="eur") is None


@pytest.mark.parametrize(("amount", "currency"), [
    (50, "eur"), (10_001, "eur"), (10_000, "usd"), (None, "eur"), ("10000", "eur"), (10_000.0, "eur"),
    (True, "eur"), (10_000, None),
])
def test_any_other_receipt_is_a_mismatch(amount, currency):
    reason = receipt_mismatch(price_minor=10_000, currency="EUR", amount_received=amount, received_currency=currency)
    assert reason and ("10000" in reason or "EUR" in reason)


@pytest.mark.parametrize("source", [PaymentStatus.PENDING, PaymentStatus.FAILED])
def test_a_mismatched_success_goes_to_review(source):
    assert should_transition(source, PaymentStatus.NEEDS_REVIEW)


@pytest.mark.parametrize("target", list(PaymentStatus))
def test_a_payment_under_review_moves_no_further_on_stripe_events(target):
    assert not should_transition(PaymentStatus.NEEDS_REVIEW, target)


def test_a_credited_payment_is_not_reviewed_after_the_fact():
    assert not should_transition(PaymentStatus.SUCCEEDED, PaymentStatus.NEEDS_REVIEW)


def reported(current: PaymentStatus, amount_received: object = 10_000, received_currency: object = "eur"):
    return success_reported(current, price_minor=10_000, currency="EUR", amount_received=amount_received,
                            received_currency=received_currency)


@pytest.mark.parametrize("current", [PaymentStatus.PENDING, PaymentStatus.FAILED])
def test_a_reported_success_of_the_snapshot_succeeds(current):
    assert reported(current) == ReportedSuccess(PaymentStatus.SUCCEEDED, None)


@pytest.mark.parametrize("current", [PaymentStatus.PENDING, PaymentStatus.FAILED])
def test_a_reported_success_of_another_amount_or_currency_needs_review(current):
    assert reported(current, amount_received=9_999) == ReportedSuccess(
        PaymentStatus.NEEDS_REVIEW, "Stripe received 9999 minor units, the payment is for 10000")
    assert reported(current, received_currency="usd").status == PaymentStatus.NEEDS_REVIEW


@pytest.mark.parametrize("current", [PaymentStatus.SUCCEEDED, PaymentStatus.NEEDS_REVIEW])
@pytest.mark.parametrize("amount_received", [10_000, 9_999])
def test_a_reported_success_after_the_payment_settled_is_stale(current, amount_received):
    assert reported(current, amount_received=amount_received) is None

