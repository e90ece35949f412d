"""A payment's own Stripe events, each type set-based: its PaymentIntent
succeeded (the hot path) or failed, and its charge's processing fee.
"""

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from common import outbox
from common.applying import PermanentError
from common.stripe_api import StripeCallFailed
from contracts.events.payments import (
    PaymentFailed,
    PaymentFailedData,
    PaymentFeeRecorded,
    PaymentFeeRecordedData,
    PaymentNeedsReview,
    PaymentNeedsReviewData,
    PaymentSucceeded,
    PaymentSucceededData,
)
from contracts.events.stripe import StripeEventReceived
from payments import models
from payments.domain import fees
from payments.domain.payments import PaymentStatus, is_integer, should_transition, success_reported
from payments.handlers.registry import PRODUCER, PaymentsApplying
from payments.handlers.stripe_objects import event_object, object_id
from payments.models import Payment
from payments.rows import ColumnsUpdate
from payments.stripe_gateway import StripeGateway

log = logging.getLogger(__name__)


_SUCCESS_REPORTED = ColumnsUpdate(Payment, "status", "stripe_charge_id", "succeeded_at", "review_reason")
_FAIL = ColumnsUpdate(Payment, "status", "failure_code", "failure_message")
_RECORD_FEE = ColumnsUpdate(Payment, "stripe_fee_minor", "stripe_fee_currency", "stripe_balance_transaction_id",
                            "stripe_charge_id")


async def on_payment_intents_succeeded(events: Sequence[StripeEventReceived], applying: PaymentsApplying) -> None:
    """payment_intent.succeeded, the hot path, set-based: one read that locks all
    the run's payments, the rule for each event in turn (in memory, so the second
    report of one success finds it succeeded already and emits nothing), one
    write of every move, one write of every announcement.

    What Stripe received is checked against the payment's snapshot first: when
    they differ, the creator is credited nothing (no payment.succeeded, so the
    ledger posts nothing) and admins hear about it (payment.needs_review). What
    builds on a credited payment waits parked meanwhile (its disputes here, its
    refunds' entries in the ledger), and is released by a success."""
    session = applying.session
    intents = [event_object(event) for event in events]
    payments = (await models.get_payments_for_update(session, intent_ids=[intent["id"] for intent in intents])).by_intent
    moves: dict[uuid.UUID, tuple[Payment, dict[str, Any]]] = {}
    announcements: list[PaymentSucceeded | PaymentNeedsReview] = []
    for event, intent in zip(events, intents, strict=True):
        payment = payments.get(intent["id"]) or await _payment_named_by(session, intent)
        if payment is None:
            continue
        payments[intent["id"]] = payment
        current = moves[payment.id][1]["status"] if payment.id in moves else payment.status
        reported = success_reported(
            PaymentStatus(current),
            price_minor=payment.price_minor,
            currency=payment.currency,
            amount_received=intent.get("amount_received"),
            received_currency=intent.get("currency"),
        )
        if reported is None:
            _log_stale(payment, current, event)
            continue
        # Stripe's latest charge as given (None included); the other of succeeded_at
        # and review_reason as it was.
        moved = {"status": reported.status, "stripe_charge_id": _latest_charge_id(intent),
                 "succeeded_at": payment.succeeded_at, "review_reason": payment.review_reason}
        if reported.review_reason is None:
            moved["succeeded_at"] = datetime.fromtimestamp(event.data.created, UTC)
            applying.ready(models.payment_succeeded_key(payment.id))  # releases early disputes
            announcements.append(_succeeded(payment, moved, intent, event))
        else:
            log.warning("payment %s needs review: %s (Stripe event %s)",
                        payment.id, reported.review_reason, event.data.stripe_event_id)
            moved["review_reason"] = reported.review_reason
            announcements.append(_needs_review(payment, reported.review_reason, intent, event))
        moves[payment.id] = (payment, moved)
    await _SUCCESS_REPORTED.write(session, list(moves.values()))
    await outbox.add_many(session, announcements)


def _succeeded(
    payment: Payment, moved: dict[str, Any], intent: dict[str, Any], event: StripeEventReceived
) -> PaymentSucceeded:
    return PaymentSucceeded.new(
        PaymentSucceededData(
            **_about(payment),
            creator_share_minor=payment.creator_share_minor,
            platform_fee_minor=payment.platform_fee_minor,
            stripe_payment_intent_id=intent["id"],
            stripe_charge_id=moved["stripe_charge_id"],
            succeeded_at=moved["succeeded_at"],
        ),
        producer=PRODUCER,
        creator_id=payment.creator_id,
        cause=event,
    )


def _needs_review(
    payment: Payment, reason: str, intent: dict[str, Any], event: StripeEventReceived
) -> PaymentNeedsReview:
    received, received_currency = intent.get("amount_received"), intent.get("currency")
    return PaymentNeedsReview.new(
        PaymentNeedsReviewData(
            **_about(payment),
            amount_received_minor=received if is_integer(received) else None,
            received_currency=received_currency.upper() if isinstance(received_currency, str) else None,
            stripe_payment_intent_id=intent["id"],
            reason=reason,
        ),
        producer=PRODUCER,
        creator_id=payment.creator_id,
        cause=event,
    )


async def on_payment_intents_payment_failed(events: Sequence[StripeEventReceived], applying: PaymentsApplying) -> None:
    """payment_intent.payment_failed, set-based like the successes: the second
    report of one failure finds the payment failed already and emits nothing."""
    session = applying.session
    intents = [event_object(event) for event in events]
    payments = (await models.get_payments_for_update(session, intent_ids=[intent["id"] for intent in intents])).by_intent
    failures: dict[uuid.UUID, tuple[Payment, dict[str, Any]]] = {}
    announcements: list[PaymentFailed] = []
    for event, intent in zip(events, intents, strict=True):
        payment = payments.get(intent["id"]) or await _payment_named_by(session, intent)
        if payment is None:
            continue
        payments[intent["id"]] = payment
        current = PaymentStatus.FAILED if payment.id in failures else PaymentStatus(payment.status)
        if not should_transition(current, PaymentStatus.FAILED):
            _log_stale(payment, current, event)
            continue
        error = intent.get("last_payment_error") or {}
        failed = {"status": PaymentStatus.FAILED, "failure_code": error.get("code"),
                  "failure_message": error.get("message")}
        failures[payment.id] = (payment, failed)
        announcements.append(PaymentFailed.new(
            PaymentFailedData(**_about(payment), stripe_payment_intent_id=intent["id"],
                              failure_code=failed["failure_code"], failure_message=failed["failure_message"]),
            producer=PRODUCER,
            creator_id=payment.creator_id,
            cause=event,
        ))
    await _FAIL.write(session, list(failures.values()))
    await outbox.add_many(session, announcements)


async def on_charges_succeeded_or_updated(events: Sequence[StripeEventReceived], applying: PaymentsApplying) -> None:
    """Stripe's processing fee, once per payment, when the charge has its
    balance transaction (often only on a later charge.updated): one read that
    locks the run's payments, Stripe asked for the balance transaction of each
    charge that names it by id only and whose payment has no fee yet (a second
    event of one charge in the run finds the fee recorded), one write of every fee."""
    session = applying.session
    charges = [event_object(event) for event in events]
    bearing = [(event, charge, intent_id) for event, charge in zip(events, charges, strict=True)
               if (intent_id := object_id(charge.get("payment_intent"))) is not None
               and charge.get("status") == "succeeded" and charge.get("balance_transaction") is not None]
    payments = (await models.get_payments_for_update(session, intent_ids=[i for _, _, i in bearing])).by_intent
    recorded: dict[uuid.UUID, tuple[Payment, dict[str, Any]]] = {}
    announcements: list[PaymentFeeRecorded] = []
    for event, charge, intent_id in bearing:
        payment = payments.get(intent_id)
        if payment is None or payment.id in recorded or payment.stripe_balance_transaction_id is not None:
            continue  # not ours, or its fee is recorded already
        fee = await _fee(charge, applying.needs.stripe)
        recorded[payment.id] = (payment, {
            "stripe_fee_minor": fee.fee_minor, "stripe_fee_currency": fee.currency,
            "stripe_balance_transaction_id": fee.balance_transaction_id,
            "stripe_charge_id": payment.stripe_charge_id or charge["id"],
        })
        # Announced even with no fee: the ledger books every charge's balance
        # transaction once, by id (its settlement currency may not be the charge's).
        announcements.append(PaymentFeeRecorded.new(
            PaymentFeeRecordedData(
                payment_id=str(payment.id),
                creator_id=payment.creator_id,
                fee_minor=fee.fee_minor,
                currency=fee.currency,
                stripe_balance_transaction_id=fee.balance_transaction_id,
                charge_amount_minor=payment.price_minor,
                charge_currency=payment.currency,
                settlement_amount_minor=fee.settled_minor,
                exchange_rate=fee.exchange_rate,
            ),
            producer=PRODUCER,
            creator_id=payment.creator_id,
            cause=event,
        ))
    await _RECORD_FEE.write(session, list(recorded.values()))
    await outbox.add_many(session, announcements)


async def _fee(charge: dict[str, Any], stripe: StripeGateway) -> fees.Fee:
    """The charge's fee, from its balance transaction: as the event expanded it,
    or read from Stripe through the charge when the event names it by id only."""
    txn = charge["balance_transaction"]
    if not isinstance(txn, dict):
        try:
            charge = await stripe.retrieve_charge_with_balance_transaction(charge["id"])
        except StripeCallFailed as error:
            if error.retryable:
                raise
            raise PermanentError(f"Stripe refused to read charge {charge['id']}: {error}") from error
        txn = charge.get("balance_transaction")
    try:
        fee = fees.fee_from_balance_transaction(txn)
    except ValueError as error:
        raise PermanentError(f"charge {charge['id']}: {error}") from error
    if fee is None:
        raise PermanentError(f"charge {charge['id']} came back without its balance transaction")
    return fee


def _about(payment: Payment) -> dict[str, Any]:
    """What every event about a payment's own progress says of it."""
    return {"payment_id": str(payment.id), "offer_id": payment.offer_id, "fan_id": payment.fan_id,
            "creator_id": payment.creator_id, "price_minor": payment.price_minor, "currency": payment.currency}


def _latest_charge_id(intent: dict[str, Any]) -> str | None:
    charge = intent.get("latest_charge")  # an id, or the Charge when expanded
    return charge.get("id") if isinstance(charge, dict) else charge


def _log_stale(payment: Payment, current: str, event: StripeEventReceived) -> None:
    log.info(
        "ignoring stale %s for payment %s already %s (Stripe event %s)",
        event.data.type, payment.id, current, event.data.stripe_event_id,
    )


async def _payment_named_by(session: AsyncSession, intent: dict[str, Any]) -> Payment | None:
    """The payment an intent unknown by its id names in its metadata, row-locked.

    An unknown intent is ours only if its metadata names one of our payments:
    - no payment_id (or one that is no UUID) in the metadata: created elsewhere on
      the same Stripe account (dashboard, another integration), so it is ignored;
    - our payment without an intent id: we crashed between Stripe's answer and
      storing it, so the intent is attached now;
    - a payment_id we cannot match: our records disagree with Stripe's about real
      money. That never heals by retrying, and dropping it would lose a payment,
      so it is a PermanentError: parked on the DLQ with the reason for an operator.
    """
    intent_id = intent["id"]
    claimed = (intent.get("metadata") or {}).get("payment_id")
    if not claimed:
        log.info("ignoring PaymentIntent %s: not created by this service", intent_id)
        return None
    try:
        payment_id = uuid.UUID(claimed)
    except (ValueError, TypeError):
        log.info("ignoring PaymentIntent %s: its payment_id %r is not one of ours", intent_id, claimed)
        return None
    payment = await models.get_payment_for_update(session, payment_id)
    if payment is None:
        raise PermanentError(f"PaymentIntent {intent_id} names payment {payment_id}, which does not exist")
    if payment.stripe_payment_intent_id is not None:
        raise PermanentError(
            f"PaymentIntent {intent_id} names payment {payment_id}, "
            f"which belongs to PaymentIntent {payment.stripe_payment_intent_id}"
        )
    log.warning("attaching PaymentIntent %s to payment %s (its id was never stored)", intent_id, payment_id)
    payment.stripe_payment_intent_id = intent_id
    return payment
