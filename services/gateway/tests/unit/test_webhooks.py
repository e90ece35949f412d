import hashlib
import hmac
import json
import time

import pytest

from contracts.events.stripe import StripeEventReceived
from gateway.webhooks import InvalidWebhook, parse_event, stripe_event_received, verify_signature
from tests.support.stripe_events import sign_stripe_payload, stripe_event

SECRET = "whsec_unit_test"
TOLERANCE = 300


def body(event: dict | None = None) -> bytes:
    return json.dumps(event or stripe_event("payment_intent.succeeded", {"id": "pi_1"})).encode()


def test_valid_signature_passes():
    raw = body()
    verify_signature(raw, sign_stripe_payload(raw, SECRET), SECRET, TOLERANCE)


def test_signature_made_with_another_secret_fails():
    raw = body()
    with pytest.raises(InvalidWebhook, match="^bad Stripe-Signature$") as refused:
        verify_signature(raw, sign_stripe_payload(raw, "whsec_other"), SECRET, TOLERANCE)
    assert "expected signature" not in str(refused.value)  # Stripe's text is not passed on


def test_body_changed_after_signing_fails():
    raw = body()
    header = sign_stripe_payload(raw, SECRET)
    with pytest.raises(InvalidWebhook):
        verify_signature(raw.replace(b"pi_1", b"pi_2"), header, SECRET, TOLERANCE)


def test_timestamp_older_than_tolerance_fails():
    raw = body()
    stale = int(time.time()) - TOLERANCE - 5
    with pytest.raises(InvalidWebhook, match="^bad Stripe-Signature$"):  # never the SDK's own words
        verify_signature(raw, sign_stripe_payload(raw, SECRET, stale), SECRET, TOLERANCE)


def test_timestamp_within_tolerance_passes():
    raw = body()
    verify_signature(raw, sign_stripe_payload(raw, SECRET, int(time.time()) - TOLERANCE + 30),
                     SECRET, TOLERANCE)


@pytest.mark.parametrize("header", [None, "", "garbage", "v1=abc", "t=123"])
def test_missing_or_unparsable_header_fails(header):
    with pytest.raises(InvalidWebhook):
        verify_signature(body(), header, SECRET, TOLERANCE)


def test_one_valid_v1_among_several_passes():
    # During a secret roll Stripe signs with the old and the new secret.
    raw = body()
    ts = int(time.time())
    old = hmac.new(b"whsec_old", f"{ts}.".encode() + raw, hashlib.sha256).hexdigest()
    new = sign_stripe_payload(raw, SECRET, ts).split("v1=")[1]
    verify_signature(raw, f"t={ts},v1={old},v1={new},v0=deadbeef", SECRET, TOLERANCE)


def test_several_v1_none_valid_fails():
    raw = body()
    ts = int(time.time())
    sigs = [hmac.new(k, f"{ts}.".encode() + raw, hashlib.sha256).hexdigest() for k in (b"a", b"b")]
    with pytest.raises(InvalidWebhook):
        verify_signature(raw, f"t={ts},v1={sigs[0]},v1={sigs[1]}", SECRET, TOLERANCE)


def test_non_utf8_body_fails():
    raw = b"\xff\xfe{}"
    with pytest.raises(InvalidWebhook):
        verify_signature(raw, f"t={int(time.time())},v1=00", SECRET, TOLERANCE)


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b'"evt"', b'{"id": "evt_1", "type": "x"}',
                                 b'{"id": "evt_1", "type": "x", "data": {"object": "pi_1"}}',
                                 b'{"id": 1, "type": "x", "data": {"object": {}}}'])
def test_body_that_is_not_a_stripe_event_is_refused(raw):
    with pytest.raises(InvalidWebhook):
        parse_event(raw)


def test_connect_event_becomes_stripe_event_received():
    event = stripe_event("payout.paid", {"id": "po_123", "object": "payout"}, account="acct_42")
    received = stripe_event_received(parse_event(body(event)), connect=True, correlation_id="c-1")
    assert received.event_id == StripeEventReceived.event_id_for(event["id"])
    assert received.data.stripe_event_id == event["id"]
    assert received.data.type == "payout.paid"
    assert received.data.account == "acct_42"
    assert received.data.connect is True
    assert received.data.livemode is False
    assert received.data.api_version == event["api_version"]
    assert received.data.created == event["created"]
    assert received.data.object_id == "po_123"
    assert received.data.payload == event
    assert received.correlation_id == "c-1"
    assert received.producer == "gateway"
    assert received.key() == b"po_123"


def test_retried_stripe_event_keeps_its_envelope_id():
    event = stripe_event("charge.succeeded", {"id": "ch_1"})
    first = stripe_event_received(event, connect=False, correlation_id=None)
    again = stripe_event_received(event, connect=False, correlation_id=None)
    assert first.event_id == again.event_id
    assert first.data.account is None and first.data.connect is False


def test_event_whose_object_has_no_id_is_keyed_by_the_event_id():
    event = stripe_event("balance.available", {"object": "balance", "available": []})
    received = stripe_event_received(event, connect=False, correlation_id=None)
    assert received.data.object_id is None
    assert received.key() == event["id"].encode()


def test_event_without_created_or_livemode_is_refused():
    event = stripe_event("charge.succeeded", {"id": "ch_1"})
    del event["created"]
    with pytest.raises(InvalidWebhook, match="created"):
        stripe_event_received(event, connect=False, correlation_id=None)


@pytest.mark.parametrize("depth", [33, 100_000])
def test_a_deeply_nested_body_is_refused(depth):
    event = json.loads(body())
    raw = json.dumps(event).encode()[:-1] + b', "extra": ' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(InvalidWebhook, match="deeper than 32"):
        parse_event(raw)


def test_a_stripe_event_nesting_as_deep_as_stripe_does_is_accepted():
    event = json.loads(body())
    event["data"]["object"]["metadata"] = {"a": {"b": [[{"c": 1}]]}}
    assert parse_event(json.dumps(event).encode())["id"] == event["id"]
