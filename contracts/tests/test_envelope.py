from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts.events.ledger import BalanceChanged, BalanceChangedData
from contracts.events.payments import PaymentSucceeded, PaymentSucceededData
from contracts.events.stripe import StripeEventReceived, StripeEventReceivedData
from contracts.money import Currency, MinorUnits

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def payment_data(**overrides) -> PaymentSucceededData:
    fields = dict(
        payment_id="pay_1",
        fan_id="fan_1",
        creator_id="cr_1",
        price_minor=10000,
        creator_share_minor=8500,
        platform_fee_minor=1500,
        currency="EUR",
        stripe_payment_intent_id="pi_1",
        succeeded_at=NOW,
    )
    return PaymentSucceededData(**{**fields, **overrides})


def payment_succeeded(**kwargs) -> PaymentSucceeded:
    return PaymentSucceeded.new(payment_data(), producer="payments", creator_id="cr_1", **kwargs)


def stripe_event(evt_id: str = "evt_1", object_id: str | None = "pi_1") -> StripeEventReceived:
    data = StripeEventReceivedData(
        stripe_event_id=evt_id,
        type="payment_intent.succeeded",
        connect=False,
        livemode=False,
        created=1777636800,
        object_id=object_id,
        payload={"id": evt_id, "object": "event"},
    )
    return StripeEventReceived.new(
        data,
        producer="gateway",
        creator_id=None,
        event_id=StripeEventReceived.event_id_for(evt_id),
    )


def test_event_survives_a_json_round_trip():
    event = payment_succeeded()

    assert PaymentSucceeded.model_validate_json(event.model_dump_json()) == event


def test_new_event_fixes_type_and_version_from_its_model():
    event = payment_succeeded()

    assert (event.event_type, event.schema_version) == ("payment.succeeded", 1)


@pytest.mark.parametrize(
    "field, value", [("event_type", "payment.failed"), ("schema_version", 2)]
)
def test_message_for_another_type_or_version_is_refused(field, value):
    raw = payment_succeeded().model_dump(mode="json")
    raw[field] = value

    with pytest.raises(ValidationError, match=field):
        PaymentSucceeded.model_validate(raw)


def test_unknown_envelope_field_is_refused():
    raw = payment_succeeded().model_dump(mode="json")
    raw["amount"] = 1

    with pytest.raises(ValidationError, match="amount"):
        PaymentSucceeded.model_validate(raw)


def test_unknown_data_field_is_refused():
    raw = payment_succeeded().model_dump(mode="json")
    raw["data"]["tip_minor"] = 100

    with pytest.raises(ValidationError, match="tip_minor"):
        PaymentSucceeded.model_validate(raw)


@pytest.mark.parametrize("amount", [100.0, 99.5, -1, "100", True])
def test_minor_units_refuse_floats_negatives_strings_and_bools(amount):
    with pytest.raises(ValidationError):
        TypeAdapter(MinorUnits).validate_python(amount)
    with pytest.raises(ValidationError):
        payment_data(price_minor=amount)


@pytest.mark.parametrize("raw", [b"100.0", b"1e2", b'"100"', b"-1"])
def test_minor_units_refuse_non_integers_on_the_wire(raw):
    with pytest.raises(ValidationError):
        TypeAdapter(MinorUnits).validate_json(raw)


def test_minor_units_accept_zero_and_integers():
    assert TypeAdapter(MinorUnits).validate_json(b"0") == 0
    assert payment_data(price_minor=123456789).price_minor == 123456789


@pytest.mark.parametrize("code", ["eur", "EURO", "EU", "Eur", "EUR\n", ""])
def test_currency_refuses_anything_but_three_upper_case_letters(code):
    with pytest.raises(ValidationError):
        TypeAdapter(Currency).validate_python(code)
    with pytest.raises(ValidationError):
        payment_data(currency=code)


def test_currency_accepts_an_iso_code():
    assert payment_data(currency="USD").currency == "USD"


def test_kafka_key_is_the_creator_id():
    balance = BalanceChanged.new(
        BalanceChangedData(
            creator_id="cr_9", currency="EUR", journal_entry_id="je_1", available_minor=8500
        ),
        producer="ledger",
        creator_id="cr_9",
    )

    assert payment_succeeded().key() == b"cr_1"
    assert balance.key() == b"cr_9"


def test_event_without_creator_has_no_key():
    event = PaymentSucceeded.new(payment_data(), producer="payments", creator_id=None)

    assert event.key() is None


def test_stripe_event_is_keyed_by_its_object_id():
    assert stripe_event(object_id="pi_42").key() == b"pi_42"


def test_stripe_event_without_object_is_keyed_by_its_event_id():
    assert stripe_event(evt_id="evt_7", object_id=None).key() == b"evt_7"


def test_stripe_event_id_is_stable_for_one_stripe_event():
    assert StripeEventReceived.event_id_for("evt_1") == StripeEventReceived.event_id_for("evt_1")
    assert stripe_event("evt_1").event_id == stripe_event("evt_1").event_id


def test_stripe_event_ids_differ_between_stripe_events():
    assert StripeEventReceived.event_id_for("evt_1") != StripeEventReceived.event_id_for("evt_2")


def test_event_caused_by_another_carries_its_correlation_and_names_its_cause():
    cause = stripe_event()

    effect = payment_succeeded(cause=cause)

    assert effect.correlation_id == cause.correlation_id
    assert effect.causation_id == cause.event_id
    assert effect.event_id != cause.event_id


def test_event_without_cause_starts_a_new_correlation():
    first, second = payment_succeeded(), payment_succeeded()

    assert first.causation_id is None
    assert first.correlation_id != second.correlation_id
    assert first.event_id != second.event_id


def test_explicit_correlation_id_wins():
    assert payment_succeeded(correlation_id="req-1").correlation_id == "req-1"


def test_events_are_immutable():
    event = payment_succeeded()

    with pytest.raises(ValidationError):
        event.creator_id = "someone_else"  # type: ignore[misc]


def test_explicit_event_id_is_kept():
    event_id = uuid4()

    assert payment_succeeded(event_id=event_id).event_id == event_id
