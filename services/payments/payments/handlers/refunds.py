"""The refund events (refund.*, charge.refund.updated, and charge.refunded as a
cross-check). Our refund records follow Stripe's Refund objects: this is the one
place a refund changes status and money is counted, used with every refund
webhook and with Stripe's answer to our API call (refunds_api, the reconciler),
so both paths end in the same record and a refund is counted once, whichever
arrives first or twice. Set-based: a run of refund events (or the one answer of
the API) costs the same statements whatever its length, the moves decided in
order by the pure domain (refunds.moves_in_order).
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from common import outbox
from common.applying import PermanentError
from common.stripe_api import StripeCallFailed
from contracts.envelope import Event
from contracts.events.refunds import RefundCreated, RefundCreatedData, RefundFailed, RefundFailedData
from contracts.events.stripe import StripeEventReceived
from payments import models
from payments.domain import fees, refunds
from payments.domain.refunds import RefundStatus
from payments.handlers.registry import PRODUCER, PaymentsApplying
from payments.handlers.stripe_objects import event_object, object_id
from payments.models import Payment, Refund
from payments.rows import ColumnsUpdate
from payments.stripe_gateway import StripeGateway

log = logging.getLogger(__name__)

_MOVE_REFUNDS = ColumnsUpdate(Refund, "status", "stripe_refund_id", "creator_clawback_minor", "failure_reason")
_MOVE_TOTALS = ColumnsUpdate(Payment, "taken_back_minor", "refunded_minor")
_ADD_REFUNDS = sa.insert(Refund.__table__)  # many rows: one executemany


async def on_refund_events(events: Sequence[StripeEventReceived], applying: PaymentsApplying) -> None:
    """refund.created / .updated / .failed and charge.refund.updated: the object is the Refund."""
    await apply_stripe_refunds(applying.session, [(event_object(event), event) for event in events],
                               applying.needs.stripe)


async def on_charges_refunded(events: Sequence[StripeEventReceived], applying: PaymentsApplying) -> None:
    """A cross-check only: on current API versions the charge carries no refund
    ids, so the refunds themselves arrive as refund.* events."""
    charges = [event_object(event) for event in events]
    intents = [object_id(charge.get("payment_intent")) for charge in charges]
    # By PaymentIntent when the charge names one, else by the charge itself.
    names = [(intent, None if intent else charge["id"]) for charge, intent in zip(charges, intents, strict=True)]
    payments = await models.get_payments_named_for_update(applying.session, names)
    for event, charge, (intent, charge_id) in zip(events, charges, names, strict=True):
        payment = payments.of(intent_id=intent, charge_id=charge_id)
        if payment is not None and charge.get("amount_refunded") != payment.refunded_minor:
            log.warning(
                "charge %s says %r refunded, our succeeded refunds of payment %s add up to %s (Stripe event %s)",
                charge["id"], charge.get("amount_refunded"), payment.id, payment.refunded_minor,
                event.data.stripe_event_id,
            )


@dataclass
class _Tracked:
    """A refund as a batch moves it: its row (None for one made outside our API,
    inserted at the end), its payment, and where it stands."""

    id: uuid.UUID
    row: Refund | None
    payment: Payment
    stripe_refund_id: str | None
    currency: str
    reason: str | None
    state: refunds.Refunding

    @classmethod
    def of(cls, row: Refund, payment: Payment) -> "_Tracked":
        return cls(row.id, row, payment, row.stripe_refund_id, row.currency, row.reason, refunds.Refunding(
            RefundStatus(row.status), row.amount_minor, row.creator_clawback_minor, row.failure_reason))


@dataclass(frozen=True)
class _Report:
    """Stripe's word (or ours, for a refund never made) that a refund is now `target`."""

    refund: _Tracked
    target: RefundStatus
    obj: dict[str, Any]  # the Stripe Refund, for its failure reason and balance transactions
    cause: Event | None


async def apply_stripe_refunds(
    session: AsyncSession, reported: Sequence[tuple[dict[str, Any], Event | None]], stripe: StripeGateway
) -> None:
    """Bring our records of these Stripe Refunds (each with the event that
    carried it) to their statuses, in order; those not about one of our
    payments are ignored. `stripe` reads the balance transaction that settled
    one when it is named by id only.

    Lock order is payments, then refunds (as in the API), so the API's answer and
    webhooks about one refund apply one after the other. Statements: the refunds
    named, their payments (by charge too, only for those a PaymentIntent does
    not find), the refunds again under the payments' locks, then the writes."""
    known = []
    for obj, cause in reported:
        status = refunds.from_stripe(obj.get("status"))
        if status is None:
            log.warning("Stripe refund %s has a status we do not know: %r; waiting for the next",
                        obj["id"], obj.get("status"))
        else:
            known.append((obj, status, cause))
    naming = _naming([obj for obj, _, _ in known])
    named = _Named(await models.get_refunds(session, **naming))
    unlocked = {obj["id"]: named.find(obj) for obj, _, _ in known}
    payments = await models.get_payments_named_for_update(
        session,
        [(object_id(obj.get("payment_intent")), object_id(obj.get("charge")))
         for obj, _, _ in known if unlocked[obj["id"]] is None],
        ids=[refund.payment_id for refund in unlocked.values() if refund is not None],
    )
    # Under the payments' locks: whoever came first has created or attached it.
    locked = _Named(await models.get_refunds(session, **naming, for_update=True))
    tracked, reports = _reports(known, unlocked, locked, payments)
    await _move_all(session, tracked, reports, stripe)


def _reports(
    known: Sequence[tuple[dict[str, Any], RefundStatus, Event | None]], unlocked: dict[str, Refund | None],
    locked: "_Named", payments: models.PaymentsFound,
) -> tuple[list[_Tracked], list[_Report]]:
    """Which refund each Stripe refund is (ours, found as read before and under
    the payments' locks, or one made outside our API, new), once per refund
    however many reports name it; a refund not about our payments is dropped."""
    tracked: dict[uuid.UUID, _Tracked] = {}
    by_stripe_id: dict[str, _Tracked] = {}
    reports = []
    for obj, status, cause in known:
        refund = by_stripe_id.get(obj["id"])
        if refund is None:
            found = unlocked[obj["id"]]
            payment = payments.by_id.get(found.payment_id) if found else payments.of(
                intent_id=object_id(obj.get("payment_intent")), charge_id=object_id(obj.get("charge")))
            if payment is None:
                log.info("ignoring Stripe refund %s: not about one of our payments", obj["id"])
                continue
            row = locked.find(obj)
            if row is None:
                refund = _dashboard_refund(payment, obj)
            elif row.id in tracked:  # our refund, named by two Stripe refunds
                raise PermanentError(
                    f"Stripe refund {obj['id']} names refund {row.id}, which is Stripe refund "
                    f"{tracked[row.id].stripe_refund_id}")
            else:
                refund = _Tracked.of(row, payment)
            refund.stripe_refund_id = refund.stripe_refund_id or obj["id"]
            tracked[refund.id] = by_stripe_id[obj["id"]] = refund
        reports.append(_Report(refund, status, obj, cause))
    return list(tracked.values()), reports


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
    await apply_stripe_refunds(session, [(answer, None)], stripe)
    applied = await models.get_refund(session, refund_id)  # the row the batch wrote, in the session
    assert applied is not None and applied.stripe_refund_id == answer["id"]
    return applied


async def fail_unmade_refund(session: AsyncSession, refund_id: uuid.UUID, reason: str) -> Refund:
    """A refund Stripe never made (and will not: refused, or given up on) is
    FAILED and announced, so admins hear of it and its amount is refundable again."""
    refund = await models.get_refund(session, refund_id)
    assert refund is not None
    payment = await models.get_payment_for_update(session, refund.payment_id)
    assert payment is not None
    refund = await models.get_refund(session, refund_id, for_update=True)
    assert refund is not None
    if refund.stripe_refund_id is None:  # a webhook may have settled it meanwhile
        # Never succeeded: no money moved, so no balance transaction is read (no gateway).
        tracked = _Tracked.of(refund, payment)
        await _move_all(session, [tracked], [_Report(tracked, RefundStatus.FAILED, {"failure_reason": reason}, None)],
                        None)
    return refund


async def _move_all(
    session: AsyncSession, tracked: list[_Tracked], reports: list[_Report], stripe: StripeGateway | None
) -> None:
    """The reports' moves (the pure decision, in order), the balance transactions
    of those that moved money, then one write per table and the announcements in order."""
    totals = {refund.payment.id: _totals(refund.payment) for refund in tracked}
    moves: list[refunds.Move | None] = []
    try:
        for move in refunds.moves_in_order(
            {refund.id: refund.state for refund in tracked}, totals,
            [(r.refund.id, r.refund.payment.id, r.target, r.obj.get("failure_reason")) for r in reports],
        ):
            moves.append(move)
    except refunds.TakesBackTooMuch as error:
        refund = reports[len(moves)].refund
        raise PermanentError(f"refund {refund.id} {error} of payment {refund.payment.id}") from error
    moved: list[tuple[_Report, refunds.Move]] = []
    for report, move in zip(reports, moves, strict=True):
        refund = report.refund
        if move is None:
            if refund.state.status != report.target:
                log.info("ignoring stale %s for refund %s already %s", report.target, refund.id, refund.state.status)
            continue
        refund.state, totals[refund.payment.id] = move.refund, move.payment
        moved.append((report, move))
    announcements = [await _announcement(report, move, stripe) for report, move in moved if move.announces]
    made_outside = [_new_row(refund) for refund in tracked if refund.row is None]
    if made_outside:
        await session.execute(_ADD_REFUNDS, made_outside)
    await _MOVE_REFUNDS.write(session, [(refund.row, columns) for refund in tracked if refund.row is not None
                                        if (columns := _columns(refund)) != {n: getattr(refund.row, n) for n in columns}])
    payments = {refund.payment.id: refund.payment for refund in tracked}
    await _MOVE_TOTALS.write(session, [
        (payments[payment_id], {"taken_back_minor": t.taken_back_minor, "refunded_minor": t.refunded_minor})
        for payment_id, t in totals.items() if t != _totals(payments[payment_id])
    ])
    await outbox.add_many(session, announcements)


class _Named:
    """A batch's refunds as read, found by Stripe refund id, else by the
    refund_id our API put in the Stripe refund's metadata."""

    def __init__(self, rows: Sequence[Refund]) -> None:
        self._by_id = {row.id: row for row in rows}
        self._by_stripe_id = {row.stripe_refund_id: row for row in rows if row.stripe_refund_id}

    def find(self, obj: dict[str, Any]) -> Refund | None:
        refund = self._by_stripe_id.get(obj["id"])
        if refund is not None:
            return refund
        ours = _ours(obj)
        if ours is None:
            return None
        refund = self._by_id.get(ours)
        if refund is None:
            raise PermanentError(f"Stripe refund {obj['id']} names refund {ours}, which does not exist")
        if refund.stripe_refund_id not in (None, obj["id"]):
            raise PermanentError(
                f"Stripe refund {obj['id']} names refund {ours}, which is Stripe refund {refund.stripe_refund_id}"
            )
        return refund


def _ours(obj: dict[str, Any]) -> uuid.UUID | None:
    return _uuid((obj.get("metadata") or {}).get("refund_id"))


def _naming(objs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What finds the records of these Stripe refunds (models.get_refunds)."""
    return {"ids": [ours for obj in objs if (ours := _ours(obj)) is not None],
            "stripe_refund_ids": [obj["id"] for obj in objs]}


def _dashboard_refund(payment: Payment, obj: dict[str, Any]) -> _Tracked:
    """A refund made outside our API (Stripe's dashboard, or Stripe itself)."""
    amount, currency = obj.get("amount"), obj.get("currency")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0 or not isinstance(currency, str):
        raise PermanentError(f"Stripe refund {obj['id']} has no usable amount/currency: {amount!r} {currency!r}")
    if currency.upper() != payment.currency:
        raise PermanentError(f"Stripe refund {obj['id']} is in {currency}, its payment {payment.id} in {payment.currency}")
    log.info("recording Stripe refund %s of payment %s, made outside our API", obj["id"], payment.id)
    return _Tracked(uuid.uuid4(), None, payment, obj["id"], payment.currency, obj.get("reason"),
                    refunds.Refunding(RefundStatus.PENDING, amount, 0, None))


def _totals(payment: Payment) -> refunds.Totals:
    return refunds.Totals(payment.price_minor, payment.creator_share_minor, payment.taken_back_minor,
                          payment.refunded_minor)


def _columns(refund: _Tracked) -> dict[str, Any]:
    """What a batch writes of a refund it moved or attached."""
    return {"status": refund.state.status, "stripe_refund_id": refund.stripe_refund_id,
            "creator_clawback_minor": refund.state.creator_clawback_minor, "failure_reason": refund.state.failure_reason}


def _new_row(refund: _Tracked) -> dict[str, Any]:
    return {"id": refund.id, "payment_id": refund.payment.id, "amount_minor": refund.state.amount_minor,
            "currency": refund.currency, "reason": refund.reason, **_columns(refund)}


async def _announcement(report: _Report, move: refunds.Move, stripe: StripeGateway | None) -> RefundCreated | RefundFailed:
    refund, payment = report.refund, report.refund.payment
    about = {"refund_id": str(refund.id), "payment_id": str(payment.id), "creator_id": payment.creator_id,
             "stripe_refund_id": refund.stripe_refund_id, "amount_minor": move.refund.amount_minor,
             "currency": refund.currency}
    new = {"producer": PRODUCER, "creator_id": payment.creator_id, "cause": report.cause}
    if move.announces == "created":
        assert refund.stripe_refund_id is not None
        settled = await _settlement(report.obj, "balance_transaction", stripe)
        return RefundCreated.new(RefundCreatedData(
            **about, creator_clawback_minor=move.refund.creator_clawback_minor,
            refunded_total_minor=move.payment.refunded_minor, reason=refund.reason, **_settlement_fields(settled),
        ), **new)
    settled = await _settlement(report.obj, "failure_balance_transaction", stripe) if move.was_succeeded else None
    return RefundFailed.new(RefundFailedData(
        **about, creator_clawback_minor=move.returned_minor, was_succeeded=move.was_succeeded,
        failure_reason=move.refund.failure_reason, **_settlement_fields(settled),
    ), **new)


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


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None
