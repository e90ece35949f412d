from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.events.debts import (
    DebtCreated,
    DebtCreatedData,
    DebtDeducted,
    DebtSettled,
)
from contracts.events.disputes import (
    DisputeClosed,
    DisputeClosedData,
    DisputeCreated,
    DisputeData,
    DisputeUpdated,
)
from contracts.events.payments import (
    PaymentNeedsReview,
    PaymentNeedsReviewData,
    PaymentSucceeded,
    PaymentSucceededData,
)
from contracts.events.payouts import (
    PayoutApproved,
    PayoutBlocked,
    PayoutCanceled,
    PayoutFailed,
    PayoutPaid,
    PayoutProcessing,
    PayoutRejected,
    PayoutRequested,
)
from contracts.events.refunds import RefundCreated, RefundCreatedData, RefundFailed, RefundFailedData
from contracts.money import decimal_places
from notifications import domain
from notifications.domain import NotificationDraft, NotificationType, format_money


def payment_succeeded(price: int, share: int, currency: str = "EUR") -> PaymentSucceeded:
    return PaymentSucceeded.new(
        PaymentSucceededData(
            payment_id="pay_1",
            fan_id="fan_1",
            creator_id="creator_1",
            price_minor=price,
            creator_share_minor=share,
            platform_fee_minor=price - share,
            currency=currency,
            stripe_payment_intent_id="pi_1",
            succeeded_at=datetime.now(UTC),
        ),
        producer="payments",
        creator_id="creator_1",
    )


def test_a_payment_held_for_review_tells_the_admins_and_credits_no_one() -> None:
    event = PaymentNeedsReview.new(
        PaymentNeedsReviewData(
            payment_id="pay_1", offer_id="off_1", fan_id="fan_1", creator_id="creator_1", price_minor=10000,
            currency="EUR", amount_received_minor=50, received_currency="EUR", stripe_payment_intent_id="pi_1",
            reason="Stripe received 50 minor units, the payment is for 10000",
        ),
        producer="payments",
        creator_id="creator_1",
    )

    [draft] = domain.drafts_for(event)

    assert (draft.type, draft.recipient_role, draft.recipient_user_id) == (
        NotificationType.PAYMENT_NEEDS_REVIEW, "admin", None)
    assert "pay_1" in draft.body and "100.00 EUR" in draft.body and "creator_1" in draft.body
    assert "received 50 minor units" in draft.body
    assert draft.link == "/payments/pay_1"


def test_payment_succeeded_tells_the_creator_their_share() -> None:
    [draft] = domain.drafts_for(payment_succeeded(10000, 8500))
    assert draft == NotificationDraft(
        type=NotificationType.PAYMENT_RECEIVED,
        recipient_user_id="creator_1",
        title="New payment received",
        body="You earned 85.00 EUR from a payment of 100.00 EUR",
        link="/payments/pay_1",
    )


def test_payment_received_in_yen_has_no_decimals() -> None:
    [draft] = domain.drafts_for(payment_succeeded(1000, 850, "JPY"))
    assert draft.body == "You earned 850 JPY from a payment of 1000 JPY"


def refund_created(amount: int, clawback: int, currency: str = "EUR") -> RefundCreated:
    return RefundCreated.new(
        RefundCreatedData(
            refund_id="ref_1", payment_id="pay_1", creator_id="creator_1", stripe_refund_id="re_1",
            amount_minor=amount, currency=currency, creator_clawback_minor=clawback,
            refunded_total_minor=amount, reason="requested_by_customer",
        ),
        producer="payments",
        creator_id="creator_1",
    )


def refund_failed(*, was_succeeded: bool, failure_reason: str | None = "expired_or_canceled_card") -> RefundFailed:
    return RefundFailed.new(
        RefundFailedData(
            refund_id="ref_1", payment_id="pay_1", creator_id="creator_1", stripe_refund_id="re_1",
            amount_minor=4000, currency="EUR", creator_clawback_minor=3400,
            was_succeeded=was_succeeded, failure_reason=failure_reason,
        ),
        producer="payments",
        creator_id="creator_1",
    )


DISPUTE = dict(
    dispute_id="dsp_1", stripe_dispute_id="dp_1", payment_id="pay_1", creator_id="creator_1",
    amount_minor=6000, currency="EUR", creator_share_minor=5100, reason="fraudulent",
)


def test_refund_created_tells_the_creator_what_was_refunded_and_taken_back() -> None:
    [draft] = domain.drafts_for(refund_created(4000, 3400))
    assert draft == NotificationDraft(
        type=NotificationType.REFUND_CREATED,
        recipient_user_id="creator_1",
        title="A payment was refunded",
        body="40.00 EUR was refunded to the fan; 34.00 EUR was taken back from your earnings",
        link="/payments/pay_1",
    )


def test_refund_created_in_yen_has_no_decimals() -> None:
    [draft] = domain.drafts_for(refund_created(400, 340, "JPY"))
    assert draft.body == "400 JPY was refunded to the fan; 340 JPY was taken back from your earnings"


def test_refund_failed_tells_the_admins_not_the_creator() -> None:
    [draft] = domain.drafts_for(refund_failed(was_succeeded=False))
    assert draft == NotificationDraft(
        type=NotificationType.REFUND_FAILED,
        recipient_role="admin",
        title="A refund failed",
        body="The refund of 40.00 EUR on payment pay_1 failed (expired_or_canceled_card)",
        link="/payments/pay_1/refunds",
    )


def test_refund_failing_after_success_says_the_clawback_is_returned() -> None:
    [draft] = domain.drafts_for(refund_failed(was_succeeded=True, failure_reason=None))
    assert draft.recipient_role == "admin"
    assert draft.body == (
        "The refund of 40.00 EUR on payment pay_1 failed after it had succeeded; "
        "the 34.00 EUR taken from creator creator_1 is returned"
    )


def test_dispute_created_tells_the_creator_what_is_frozen_and_the_admins_what_is_due() -> None:
    event = DisputeCreated.new(
        DisputeData(**DISPUTE, status="needs_response",
                    evidence_due_by=datetime(2026, 9, 30, 23, 59, tzinfo=UTC)),
        producer="payments", creator_id="creator_1",
    )
    creator, admins = domain.drafts_for(event)
    assert creator == NotificationDraft(
        type=NotificationType.DISPUTE_CREATED,
        recipient_user_id="creator_1",
        title="A payment is disputed",
        body="A fan disputed 60.00 EUR with their bank (fraudulent); 51.00 EUR of your earnings "
        "is frozen until the dispute is closed",
        link="/payments/pay_1",
    )
    assert admins == NotificationDraft(
        type=NotificationType.DISPUTE_CREATED,
        recipient_role="admin",
        title="New dispute",
        body="Dispute dp_1 for 60.00 EUR on payment pay_1 (creator creator_1) was opened (fraudulent), "
        "status needs response; evidence due by 2026-09-30 23:59 UTC",
        link="/payments/pay_1",
    )


def test_dispute_updated_tells_the_creator_the_new_status() -> None:
    event = DisputeUpdated.new(DisputeData(**DISPUTE, status="under_review"),
                               producer="payments", creator_id="creator_1")
    [draft] = domain.drafts_for(event)
    assert draft == NotificationDraft(
        type=NotificationType.DISPUTE_UPDATED,
        recipient_user_id="creator_1",
        title="A dispute was updated",
        body="The dispute on 60.00 EUR is now under review",
        link="/payments/pay_1",
    )


@pytest.mark.parametrize(
    ("outcome", "status", "type_", "title", "creator_body"),
    [
        ("won", "won", NotificationType.DISPUTE_WON, "Dispute won",
         "The dispute on 60.00 EUR was won: 51.00 EUR of your earnings is available again"),
        ("lost", "lost", NotificationType.DISPUTE_LOST, "Dispute lost",
         "The dispute on 60.00 EUR was lost: 51.00 EUR of your earnings is taken back"),
    ],
)
def test_dispute_closed_tells_the_creator_and_the_admins_the_outcome(
    outcome: str, status: str, type_: NotificationType, title: str, creator_body: str
) -> None:
    event = DisputeClosed.new(DisputeClosedData(**DISPUTE, status=status, outcome=outcome),
                              producer="payments", creator_id="creator_1")
    creator, admins = domain.drafts_for(event)
    assert creator == NotificationDraft(type=type_, recipient_user_id="creator_1", title=title,
                                        body=creator_body, link="/payments/pay_1")
    assert admins == NotificationDraft(
        type=type_, recipient_role="admin", title=title,
        body=f"Dispute dp_1 for 60.00 EUR on payment pay_1 (creator creator_1) was {outcome} ({status})",
        link="/payments/pay_1",
    )


def test_debt_created_tells_the_creator_the_shortfall_and_their_total_debt() -> None:
    event = DebtCreated.new(
        DebtCreatedData(debt_id="debt_1", creator_id="creator_1", amount_minor=1250, currency="EUR",
                        cause_type="dispute", cause_id="dsp_1", total_debt_minor=6250),
        producer="ledger", creator_id="creator_1",
    )
    [draft] = domain.drafts_for(event)
    assert draft == NotificationDraft(
        type=NotificationType.DEBT_CREATED,
        recipient_user_id="creator_1",
        title="You owe the platform",
        body="Your available balance could not cover 12.50 EUR after a dispute; "
        "your debt is now 62.50 EUR, deducted from your next payouts",
        link="/debts",
    )


def test_the_rules_cover_every_event_a_person_hears_about() -> None:
    assert set(domain.RULES) == {PaymentSucceeded, PaymentNeedsReview, RefundCreated, RefundFailed, DisputeCreated,
                                 DisputeUpdated, DisputeClosed, DebtCreated, DebtDeducted, DebtSettled,
                                 PayoutRequested, PayoutApproved, PayoutRejected, PayoutProcessing,
                                 PayoutPaid, PayoutFailed, PayoutCanceled, PayoutBlocked}


def test_an_event_without_a_rule_is_refused() -> None:
    class Unmapped(PaymentSucceeded):
        pass

    with pytest.raises(KeyError):
        domain.drafts_for(Unmapped.model_validate(payment_succeeded(100, 85).model_dump()))


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (1, "EUR", "0.01 EUR"),
        (0, "EUR", "0.00 EUR"),
        (10, "EUR", "0.10 EUR"),
        (100, "EUR", "1.00 EUR"),
        (123456789, "USD", "1234567.89 USD"),
        (-1, "EUR", "-0.01 EUR"),
        (-12345, "EUR", "-123.45 EUR"),
        (1, "JPY", "1 JPY"),
        (0, "JPY", "0 JPY"),
        (1500, "KRW", "1500 KRW"),
        (1, "KWD", "0.001 KWD"),
        (12340, "BHD", "12.340 BHD"),
        # Stripe carries ISK in two-decimal form: 100 minor units is 1 krona.
        (100, "ISK", "1.00 ISK"),
    ],
)
def test_money_is_formatted_with_the_currency_exponent(amount: int, currency: str, text: str) -> None:
    assert format_money(amount, currency) == text


@pytest.mark.parametrize("amount", [1.0, 0.5, True, "100"])
def test_money_formatting_refuses_anything_but_integer_minor_units(amount: object) -> None:
    with pytest.raises(TypeError):
        format_money(amount, "EUR")  # type: ignore[arg-type]


@given(amount=st.integers(-(10**15), 10**15), currency=st.sampled_from(["EUR", "JPY", "KWD"]))
def test_formatted_money_reads_back_to_the_same_minor_units(amount: int, currency: str) -> None:
    number, code = format_money(amount, currency).split(" ")
    assert code == currency
    assert int(number.replace(".", "")) == amount
    decimals = len(number.split(".")[1]) if "." in number else 0
    assert decimals == decimal_places(currency)


def test_a_draft_needs_exactly_one_recipient() -> None:
    fields = dict(type=NotificationType.PAYMENT_RECEIVED, title="t", body="b", link=None)
    with pytest.raises(ValueError):
        NotificationDraft(**fields)
    with pytest.raises(ValueError):
        NotificationDraft(**fields, recipient_user_id="u1", recipient_role="admin")
    assert NotificationDraft(**fields, recipient_role="admin").recipient_user_id is None


