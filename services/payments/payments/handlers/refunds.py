"""The refund events (refund.*, charge.refund.updated, and charge.refunded as a
cross-check). Our refund records follow Stripe's Refund objects: this is the one
place a refund changes status and money is counted, used with every refund
webhook and with Stripe's answer to our API call (refunds_api, the reconciler),
so both paths end in the same record and a refund is counted once, whichever
arrives first or twice.
"""

import logging
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from common import outbox
from common.applying import PermanentError
from common.stripe_api import StripeCallFailed
from contracts.envelope import Event
from contracts.events.refunds import RefundCreated, RefundCreatedData, RefundFailed, RefundFailedData
from contracts.events.stripe import StripeEventReceived
from payments import models
from payments.domain import fees, refunds
from payments.domain.clawback import clawback
from payments.domain.refunds import RefundStatus
from payments.handlers.needs import PRODUCER, PaymentsApplying
from payments.handlers.stripe_objects import event_object, object_id
from payments.models import Payment, Refund
from payments.stripe_gateway import StripeGateway

log = logging.getLogger(__name__)


async def on_refund_event(event: StripeEventReceived, applying: PaymentsApplying) -> None:
    """refund.created / .updated / .failed and charge.refund.updated: the object is the Refund."""
    session = applying.session
    await apply_stripe_refund(session, event_object(event), applying.needs.stripe, cause=event)


async def on_charge_refunded(event: StripeEventReceived, applying: PaymentsApplying) -> None:
    """A cross-check only: on current API versions the charge carries no refund
    ids, so the refunds themselves arrive as refund.* events."""
    session = applying.session
    charge = event_object(event)
    intent_id = object_id(charge.get("payment_intent"))
    payment = await (models.get_payment_by_intent_for_update(session, intent_id) if intent_id
                     else models.get_payment_by_charge_for_update(session, charge["id"]))
    if payment is None:
        return
    if charge.get("amount_refunded") != payment.refunded_minor:
        log.warning(
            "charge %s says %r refunded, our succeeded refunds of payment %s add up to %s (Stripe event %s)",
            charge["id"], charge.get("amount_refunded"), payment.id, payment.refunded_minor,
            event.data.stripe_event_id,
        )


async def apply_stripe_refund(
    session: AsyncSession, obj: dict[str, Any], stripe: StripeGateway, *, cause: Event | None
) -> Refund | None:
    """Bring our record of the Stripe Refund `obj` to its status; None if the
    refund is not about one of our payments. `stripe` reads the balance
    transaction that settled it when `obj` names it by id only.

    Lock order is payment, then refund (as in the API), so the API's answer and
    webhooks about one refund apply one after the other."""
    status = refunds.from_stripe(obj.get("status"))
    if status is None:
        log.warning("Stripe refund %s has a status we do not know: %r; waiting for the next", obj["id"], obj.get("status"))
        return None
    found = await _find(session, obj)
    payment = await (models.get_payment_for_update(session, found.payment_id) if found else _payment_of(session, obj))
    if payment is None:
        log.info("ignoring Stripe refund %s: not about one of our payments", obj["id"])
        return None
    # Under the payment's lock: whoever came first has created or attached it.
    refund = await _find(session, obj, for_update=True) or _dashboard_refund(session, payment, obj)
    if refund.stripe_refund_id is None:
        refund.stripe_refund_id = obj["id"]
    await _move(session, payment, refund, status, obj, stripe, cause)
    return refund


async def apply_answer(
    session: AsyncSession, refund_id: uuid.UUID, answer: dict[str, Any], stripe: StripeGateway
) -> Refund:
    """Stripe's answer to our create call for `refund_id`, applied as a webhook
    would be. Attached by our id first: real Stripe echoes the refund id in the
    metadata, stripe-mock does not."""
    stored = await models.get_refund(session, refund_id)
    assert stored is not None
    if stored.stripe_refund_id is None:
        stored.stripe_refund_id = answer["id"]
    await session.flush()
    applied = await apply_stripe_refund(session, answer, stripe, cause=None)
    assert applied is not None and applied.id == refund_id
    return applied


async def fail_unmade_refund(session: AsyncSession, refund_id: uuid.UUID, reason: str) -> Refund:
    """A refund Stripe never made (and will not: refused, or given up on) is
    FAILED and announced, so admins hear of it and its amount is refundable again."""
    refund = await models.get_refund(session, refund_id)
    assert refund is not None
    payment = await models.get_payment_for_update(session, refund.payment_id)
    refund = await models.get_refund(session, refund_id, for_update=True)
    if refund.stripe_refund_id is None:  # a webhook may have settled it meanwhile
        # Never succeeded: no money moved, so no balance transaction is read (no gateway).
        await _move(session, payment, refund, RefundStatus.FAILED, {"failure_reason": reason}, None, cause=None)
    return refund


async def _find(session: AsyncSession, obj: dict[str, Any], *, for_update: bool = False) -> Refund | None:
    """By Stripe refund id, else by the refund_id our API put in the metadata."""
    refund = await models.get_refund_by_stripe_id(session, obj["id"], for_update=for_update)
    if refund is not None:
        return refund
    ours = _uuid((obj.get("metadata") or {}).get("refund_id"))
    if ours is None:
        return None
    refund = await models.get_refund(session, ours, for_update=for_update)
    if refund is None:
        raise PermanentError(f"Stripe refund {obj['id']} names refund {ours}, which does not exist")
    if refund.stripe_refund_id not in (None, obj["id"]):
        raise PermanentError(
            f"Stripe refund {obj['id']} names refund {ours}, which is Stripe refund {refund.stripe_refund_id}"
        )
    return refund


async def _payment_of(session: AsyncSession, obj: dict[str, Any]) -> Payment | None:
    intent, charge = object_id(obj.get("payment_intent")), object_id(obj.get("charge"))
    if intent is not None and (payment := await models.get_payment_by_intent_for_update(session, intent)):
        return payment
    if charge is not None:
        return await models.get_payment_by_charge_for_update(session, charge)
    return None


def _dashboard_refund(session: AsyncSession, payment: Payment, obj: dict[str, Any]) -> Refund:
    """A refund made outside our API (Stripe's dashboard, or Stripe itself)."""
    amount, currency = obj.get("amount"), obj.get("currency")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0 or not isinstance(currency, str):
        raise PermanentError(f"Stripe refund {obj['id']} has no usable amount/currency: {amount!r} {currency!r}")
    if currency.upper() != payment.currency:
        raise PermanentError(f"Stripe refund {obj['id']} is in {currency}, its payment {payment.id} in {payment.currency}")
    log.info("recording Stripe refund %s of payment %s, made outside our API", obj["id"], payment.id)
    refund = Refund(
        id=uuid.uuid4(),
        payment_id=payment.id,
        amount_minor=amount,
        currency=payment.currency,
        status=RefundStatus.PENDING,
        reason=obj.get("reason"),
        stripe_refund_id=obj["id"],
    )
    session.add(refund)
    return refund


async def _move(
    session: AsyncSession,
    payment: Payment,
    refund: Refund,
    target: RefundStatus,
    obj: dict[str, Any],
    stripe: StripeGateway | None,
    cause: Event | None,
) -> None:
    current = RefundStatus(refund.status)
    if not refunds.should_transition(current, target):
        if current != target:
            log.info("ignoring stale %s for refund %s already %s", target, refund.id, current)
        return
    refund.status = target
    if target == RefundStatus.SUCCEEDED:
        before = payment.taken_back_minor
        after = before + refund.amount_minor
        if after > payment.price_minor:
            raise PermanentError(
                f"refund {refund.id} would take back {after} of payment {payment.id}'s price {payment.price_minor}"
            )
        refund.creator_clawback_minor = clawback(payment.creator_share_minor, payment.price_minor, before, after)
        payment.taken_back_minor = after
        payment.refunded_minor += refund.amount_minor
        settled = await _settlement(obj, "balance_transaction", stripe)
        await outbox.add(session, _created(payment, refund, settled, cause))
    elif target in (RefundStatus.FAILED, RefundStatus.CANCELED):
        refund.failure_reason = obj.get("failure_reason") or target.lower()
        returned, settled = 0, None
        if current == RefundStatus.SUCCEEDED:
            # Give back what keeps the creator's total at floor(share * t / price):
            # the refund's own clawback, unless later movements shifted the rounding.
            before = payment.taken_back_minor
            after = before - refund.amount_minor
            returned = -clawback(payment.creator_share_minor, payment.price_minor, before, after)
            payment.taken_back_minor = after
            payment.refunded_minor -= refund.amount_minor
            settled = await _settlement(obj, "failure_balance_transaction", stripe)
        await outbox.add(session, _failed(payment, refund, returned, settled,
                                          was_succeeded=current == RefundStatus.SUCCEEDED, cause=cause))


async def _settlement(obj: dict[str, Any], field: str, stripe: StripeGateway | None) -> fees.RefundSettlement | None:
    """The balance transaction `obj[field]` as the refund settled it (the
    platform may settle in another currency than the charge's); None when
    Stripe names none (the ledger then books the refund unconverted)."""
    txn = obj.get(field)
    if isinstance(txn, str):  # only its id: read it
        if stripe is None:
            raise PermanentError(f"refund {obj.get('id')}: balance transaction {txn} cannot be read here")
        try:
            txn = await stripe.retrieve_balance_transaction(txn)
        except StripeCallFailed as error:
            if error.retryable:
                raise
            raise PermanentError(f"Stripe refused to read balance transaction {txn}: {error}") from error
    try:
        return fees.refund_settlement_from_balance_transaction(txn)
    except ValueError as error:
        raise PermanentError(f"refund {obj.get('id')}: {error}") from error


def _settlement_fields(settled: fees.RefundSettlement | None) -> dict[str, Any]:
    if settled is None:
        return {}
    return dict(
        balance_transaction_id=settled.balance_transaction_id, settlement_amount_minor=settled.settled_minor,
        settlement_currency=settled.currency, exchange_rate=settled.exchange_rate,
    )


def _created(
    payment: Payment, refund: Refund, settled: fees.RefundSettlement | None, cause: Event | None
) -> RefundCreated:
    assert refund.stripe_refund_id is not None
    return RefundCreated.new(
        RefundCreatedData(
            refund_id=str(refund.id),
            payment_id=str(payment.id),
            creator_id=payment.creator_id,
            stripe_refund_id=refund.stripe_refund_id,
            amount_minor=refund.amount_minor,
            currency=refund.currency,
            creator_clawback_minor=refund.creator_clawback_minor,
            refunded_total_minor=payment.refunded_minor,
            reason=refund.reason,
            **_settlement_fields(settled),
        ),
        producer=PRODUCER,
        creator_id=payment.creator_id,
        cause=cause,
    )


def _failed(
    payment: Payment, refund: Refund, returned: int, settled: fees.RefundSettlement | None, *,
    was_succeeded: bool, cause: Event | None,
) -> RefundFailed:
    return RefundFailed.new(
        RefundFailedData(
            refund_id=str(refund.id),
            payment_id=str(payment.id),
            creator_id=payment.creator_id,
            stripe_refund_id=refund.stripe_refund_id,
            amount_minor=refund.amount_minor,
            currency=refund.currency,
            creator_clawback_minor=returned,
            was_succeeded=was_succeeded,
            failure_reason=refund.failure_reason,
            **_settlement_fields(settled),
        ),
        producer=PRODUCER,
        creator_id=payment.creator_id,
        cause=cause,
    )


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None
