from datetime import UTC, datetime
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.events.payments import PaymentSucceeded, PaymentSucceededData
from notifications import domain
from notifications.domain import InvalidCursor, NotificationDraft, NotificationType, format_money


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
    assert decimals == domain.currency_exponent(currency)


def test_a_draft_needs_exactly_one_recipient() -> None:
    fields = dict(type=NotificationType.PAYMENT_RECEIVED, title="t", body="b", link=None)
    with pytest.raises(ValueError):
        NotificationDraft(**fields)
    with pytest.raises(ValueError):
        NotificationDraft(**fields, recipient_user_id="u1", recipient_role="admin")
    assert NotificationDraft(**fields, recipient_role="admin").recipient_user_id is None


def test_cursor_round_trips() -> None:
    created_at, notification_id = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC), uuid4()
    cursor = domain.encode_cursor(created_at, notification_id)
    assert domain.decode_cursor(cursor) == (created_at, notification_id)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64 !",
        "bm90LWEtY3Vyc29y",  # "not-a-cursor"
        domain.encode_cursor(datetime(2026, 3, 1), uuid4()),  # naive time: not one we issue
        "MjAyNi0wMy0wMVQxMjowMDowMCswMDowMHxub3QtYS11dWlk",  # valid time, bad uuid
        "\u00e9\u00e9\u00e9\u00e9",
    ],
)
def test_a_cursor_we_did_not_issue_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        domain.decode_cursor(cursor)
