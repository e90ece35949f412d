"""Kafka is no open door: every client authenticates, and each service's principal
may write only what it produces and read only what it consumes, in its own group."""

from __future__ import annotations

import os
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from common.kafka import KafkaAccess, encode, make_producer
from contracts import topics
from contracts.events.stripe import StripeEventReceived, StripeEventReceivedData
from stack.config import StackConfig
from stack.kafka_access import CONSUMES, GROUPS, PRINCIPALS, grants


def as_principal(infra, principal: str, password: str | None = None) -> KafkaAccess:
    passwords = StackConfig.for_profile("test", environ=dict(os.environ)).kafka_passwords()
    return KafkaAccess(infra.kafka_bootstrap, principal, password or passwords[principal])


def harmless() -> bytes:
    """A verified-looking Stripe event of a type no service acts on: what the tests
    manage to write changes nothing and dead-letters nothing."""
    evt = f"evt_acl_{uuid.uuid4().hex[:16]}"
    return encode(StripeEventReceived.new(
        StripeEventReceivedData(stripe_event_id=evt, type="customer.created", connect=False, livemode=False,
                                created=0, payload={"id": evt, "type": "customer.created"}),
        producer="gateway", creator_id=None, event_id=StripeEventReceived.event_id_for(evt)))


async def produce(access: KafkaAccess, topic: str) -> None:
    producer = make_producer(access, client_id=f"acl-test-{uuid.uuid4().hex[:6]}")
    try:
        await producer.start()
        await producer.send_and_wait(topic, harmless(), key=b"acl-test")
    finally:
        await producer.stop()


async def consume(access: KafkaAccess, topic: str, group: str | None) -> None:
    consumer = AIOKafkaConsumer(topic, **access.client_options(), group_id=group, auto_offset_reset="latest",
                                enable_auto_commit=False)
    try:
        await consumer.start()
        await consumer.getmany(timeout_ms=2000)
        if group is not None:
            await consumer.commit()
    finally:
        await consumer.stop()


async def test_a_client_without_credentials_is_refused(infra):
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, request_timeout_ms=5000)
    try:
        with pytest.raises(KafkaError):
            await producer.start()
            await producer.send_and_wait(topics.STRIPE_EVENT_RECEIVED, harmless())
    finally:
        await producer.stop()


async def test_a_wrong_password_is_refused(infra):
    with pytest.raises(KafkaError):
        await produce(as_principal(infra, "gateway", password="not-the-password"), topics.STRIPE_EVENT_RECEIVED)


async def test_only_the_gateway_writes_verified_stripe_events(infra):
    await produce(as_principal(infra, "gateway"), topics.STRIPE_EVENT_RECEIVED)
    for principal in PRINCIPALS:
        if principal != "gateway":
            with pytest.raises(TopicAuthorizationFailedError):
                await produce(as_principal(infra, principal), topics.STRIPE_EVENT_RECEIVED)


async def test_notifications_cannot_produce_a_payment(infra):
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(as_principal(infra, "notifications"), topics.PAYMENT_SUCCEEDED)


async def test_a_service_reads_only_the_topics_it_consumes(infra):
    await consume(as_principal(infra, "payments"), topics.STRIPE_EVENT_RECEIVED, group="payments")

    with pytest.raises(TopicAuthorizationFailedError):
        await consume(as_principal(infra, "notifications"), topics.STRIPE_EVENT_RECEIVED, group="notifications")


async def test_a_service_cannot_read_in_another_services_group(infra):
    with pytest.raises(GroupAuthorizationFailedError):
        await consume(as_principal(infra, "ledger"), topics.PAYMENT_SUCCEEDED, group="notifications")


def test_the_access_table_matches_what_each_service_subscribes_to():
    from ledger.handlers import handlers as ledger
    from notifications.handlers import handlers as notifications
    from payments.handlers import handlers as payments
    from payouts.handlers import handlers as payouts

    subscribed = {
        "ledger": ledger.subscriptions, "notifications": notifications.subscriptions,
        "payments": payments.subscriptions, "payouts": payouts.subscriptions,
    }

    assert {svc: set(topics_) for svc, topics_ in subscribed.items()} == {
        svc: set(CONSUMES[svc]) for svc in subscribed}


def test_each_principal_writes_what_it_produces_and_the_dead_letters_of_what_it_consumes():
    from contracts.export import producer_of

    for principal in PRINCIPALS:
        written = {g.name for g in grants(principal) if g.operation == "WRITE"}
        assert written == ({t for t in topics.ALL if producer_of(t) == principal}
                           | {topics.dlq(t) for t in CONSUMES[principal]})
        groups = {g.name for g in grants(principal) if g.resource == "GROUP"}
        assert groups == ({GROUPS[principal]} if GROUPS[principal] else set())
