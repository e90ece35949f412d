"""Which notifications each contract event makes, and for whom.

`RULES` maps a contract event model to the function that drafts its
notifications. A new notification type is one more row here; the consumer
subscribes to every model in the table.
"""

from collections.abc import Callable
from datetime import UTC
from typing import Any

from contracts.envelope import Event
from contracts.events.debts import DebtCreated, DebtDeducted, DebtSettled
from contracts.events.disputes import DisputeClosed, DisputeCreated, DisputeData, DisputeUpdated
from contracts.events.payments import PaymentNeedsReview, PaymentSucceeded
from contracts.events.payouts import (
    PayoutApproved,
    PayoutBlocked,
    PayoutCanceled,
    PayoutData,
    PayoutFailed,
    PayoutPaid,
    PayoutProcessing,
    PayoutRejected,
    PayoutRequested,
)
from contracts.events.refunds import RefundCreated, RefundFailed
from notifications.domain.vocabulary import NotificationDraft, NotificationType, format_money


def payment_link(payment_id: str) -> str:
    return f"/payments/{payment_id}"


def payment_received(event: PaymentSucceeded) -> list[NotificationDraft]:
    data = event.data
    share = format_money(data.creator_share_minor, data.currency)
    price = format_money(data.price_minor, data.currency)
    return [
        NotificationDraft(
            type=NotificationType.PAYMENT_RECEIVED,
            recipient_user_id=data.creator_id,
            title="New payment received",
            body=f"You earned {share} from a payment of {price}",
            link=payment_link(data.payment_id),
        )
    ]


def payment_needs_review(event: PaymentNeedsReview) -> list[NotificationDraft]:
    data = event.data
    price = format_money(data.price_minor, data.currency)
    return [
        NotificationDraft(
            type=NotificationType.PAYMENT_NEEDS_REVIEW,
            recipient_role="admin",
            title="A payment needs review",
            body=f"Stripe reported payment {data.payment_id} of {price} to creator {data.creator_id} "
            f"as succeeded, but {data.reason}; nothing was credited",
            link=payment_link(data.payment_id),
        )
    ]


def refund_created(event: RefundCreated) -> list[NotificationDraft]:
    data = event.data
    refunded = format_money(data.amount_minor, data.currency)
    taken = format_money(data.creator_clawback_minor, data.currency)
    return [
        NotificationDraft(
            type=NotificationType.REFUND_CREATED,
            recipient_user_id=data.creator_id,
            title="A payment was refunded",
            body=f"{refunded} was refunded to the fan; {taken} was taken back from your earnings",
            link=payment_link(data.payment_id),
        )
    ]


def refund_failed(event: RefundFailed) -> list[NotificationDraft]:
    data = event.data
    amount = format_money(data.amount_minor, data.currency)
    body = f"The refund of {amount} on payment {data.payment_id} failed"
    if data.failure_reason:
        body += f" ({data.failure_reason})"
    if data.was_succeeded:
        # It had counted as done: the fan has not been paid back after all, and
        # the ledger has given the creator's clawback back to them.
        clawback = format_money(data.creator_clawback_minor, data.currency)
        body += f" after it had succeeded; the {clawback} taken from creator {data.creator_id} is returned"
    return [
        NotificationDraft(
            type=NotificationType.REFUND_FAILED,
            recipient_role="admin",
            title="A refund failed",
            body=body,
            link=f"/payments/{data.payment_id}/refunds",
        )
    ]


def _status(status: str) -> str:
    return status.replace("_", " ")


def _due(data: DisputeData) -> str:
    due = data.evidence_due_by
    if due is None:
        return ""
    if due.tzinfo is not None:
        due = due.astimezone(UTC)
    return f"; evidence due by {due:%Y-%m-%d %H:%M} UTC"


def _for_admins(type_: NotificationType, title: str, data: DisputeData, what: str) -> NotificationDraft:
    amount = format_money(data.amount_minor, data.currency)
    return NotificationDraft(
        type=type_,
        recipient_role="admin",
        title=title,
        body=f"Dispute {data.stripe_dispute_id} for {amount} on payment {data.payment_id} "
        f"(creator {data.creator_id}) {what}",
        link=payment_link(data.payment_id),
    )


def dispute_created(event: DisputeCreated) -> list[NotificationDraft]:
    data = event.data
    amount = format_money(data.amount_minor, data.currency)
    frozen = format_money(data.creator_share_minor, data.currency)
    reason = f" ({_status(data.reason)})" if data.reason else ""
    return [
        NotificationDraft(
            type=NotificationType.DISPUTE_CREATED,
            recipient_user_id=data.creator_id,
            title="A payment is disputed",
            body=f"A fan disputed {amount} with their bank{reason}; {frozen} of your earnings "
            "is frozen until the dispute is closed",
            link=payment_link(data.payment_id),
        ),
        _for_admins(NotificationType.DISPUTE_CREATED, "New dispute", data,
                    f"was opened{reason}, status {_status(data.status)}{_due(data)}"),
    ]


def dispute_updated(event: DisputeUpdated) -> list[NotificationDraft]:
    data = event.data
    amount = format_money(data.amount_minor, data.currency)
    return [
        NotificationDraft(
            type=NotificationType.DISPUTE_UPDATED,
            recipient_user_id=data.creator_id,
            title="A dispute was updated",
            body=f"The dispute on {amount} is now {_status(data.status)}",
            link=payment_link(data.payment_id),
        )
    ]


def dispute_closed(event: DisputeClosed) -> list[NotificationDraft]:
    data = event.data
    amount = format_money(data.amount_minor, data.currency)
    share = format_money(data.creator_share_minor, data.currency)
    if data.outcome == "won":
        type_, title = NotificationType.DISPUTE_WON, "Dispute won"
        body = f"The dispute on {amount} was won: {share} of your earnings is available again"
    else:
        type_, title = NotificationType.DISPUTE_LOST, "Dispute lost"
        body = f"The dispute on {amount} was lost: {share} of your earnings is taken back"
    return [
        NotificationDraft(type=type_, recipient_user_id=data.creator_id, title=title, body=body,
                          link=payment_link(data.payment_id)),
        _for_admins(type_, title, data, f"was {data.outcome} ({_status(data.status)})"),
    ]


def debt_created(event: DebtCreated) -> list[NotificationDraft]:
    data = event.data
    amount = format_money(data.amount_minor, data.currency)
    total = format_money(data.total_debt_minor, data.currency)
    return [
        NotificationDraft(
            type=NotificationType.DEBT_CREATED,
            recipient_user_id=data.creator_id,
            title="You owe the platform",
            body=f"Your available balance could not cover {amount} after a {data.cause_type}; "
            f"your debt is now {total}, deducted from your next payouts",
            link="/debts",
        )
    ]


def debt_deducted(event: DebtDeducted) -> list[NotificationDraft]:
    data = event.data
    amount = format_money(data.amount_minor, data.currency)
    remaining = format_money(data.remaining_minor, data.currency)
    return [
        NotificationDraft(
            type=NotificationType.DEBT_DEDUCTED,
            recipient_user_id=data.creator_id,
            title="Debt deducted from a payout",
            body=f"{amount} of your debt was deducted from payout {data.payout_id}; {remaining} of it remains",
            link=payout_link(data.payout_id),
        )
    ]


def debt_settled(event: DebtSettled) -> list[NotificationDraft]:
    data = event.data
    amount = format_money(data.amount_minor, data.currency)
    return [
        NotificationDraft(
            type=NotificationType.DEBT_SETTLED,
            recipient_user_id=data.creator_id,
            title="Debt paid off",
            body=f"Your debt of {amount} is fully paid off",
            link="/debts",
        )
    ]


def payout_link(payout_id: str) -> str:
    return f"/payouts/{payout_id}"


def _net(data: PayoutData) -> str:
    """What reaches the bank, and what the debt took, for a creator's message."""
    net = data.net_minor if data.net_minor is not None else data.amount_minor - data.debt_deducted_minor
    text = format_money(net, data.currency)
    if data.debt_deducted_minor:
        text += f" (after {format_money(data.debt_deducted_minor, data.currency)} of debt was deducted)"
    return text


def _to_creator(type_: NotificationType, title: str, data: PayoutData, body: str) -> list[NotificationDraft]:
    return [NotificationDraft(type=type_, recipient_user_id=data.creator_id, title=title, body=body,
                              link=payout_link(data.payout_id))]


def payout_requested(event: PayoutRequested) -> list[NotificationDraft]:
    data = event.data
    asked = "all available funds" if data.amount_minor is None else format_money(data.amount_minor, data.currency)
    return [
        NotificationDraft(
            type=NotificationType.PAYOUT_REQUESTED,
            recipient_role="admin",
            title="Payout to review",
            body=f"Creator {data.creator_id} asked for a payout of {asked} ({data.currency}); it awaits approval",
            link=f"/admin/payouts/{data.payout_id}",
        )
    ]


def payout_approved(event: PayoutApproved) -> list[NotificationDraft]:
    return _to_creator(NotificationType.PAYOUT_APPROVED, "Payout approved", event.data,
                       f"Your payout of {_net(event.data)} was approved and is on its way")


def payout_rejected(event: PayoutRejected) -> list[NotificationDraft]:
    data = event.data
    reason = f": {data.reason}" if data.reason else ""
    return _to_creator(NotificationType.PAYOUT_REJECTED, "Payout rejected", data,
                       f"Your payout{_asked(data)} was rejected{reason}; the funds are available again")


def payout_processing(event: PayoutProcessing) -> list[NotificationDraft]:
    return _to_creator(NotificationType.PAYOUT_PROCESSING, "Payout sent to your bank", event.data,
                       f"{_net(event.data)} is on its way to your bank account")


def payout_paid(event: PayoutPaid) -> list[NotificationDraft]:
    data = event.data
    if data.stripe_payout_id is None:  # the whole gross went to the debt: nothing reaches the bank
        body = f"Your payout of {format_money(data.amount_minor, data.currency)} went wholly to your debt"
    else:
        body = f"{_net(data)} was paid to your bank account"
    return _to_creator(NotificationType.PAYOUT_PAID, "Payout paid", data, body)


def payout_failed(event: PayoutFailed) -> list[NotificationDraft]:
    data = event.data
    why = data.failure_message or data.failure_code
    reason = f" ({why})" if why else ""
    when = " after it had been reported paid" if data.was_paid else ""
    return _to_creator(NotificationType.PAYOUT_FAILED, "Payout failed", data,
                       f"Your payout of {_net(data)} failed{when}{reason}; the funds are back in your balance. "
                       "Check your bank details")


def _asked(data: PayoutData) -> str:
    # 0: a request for "all available" refused before anything was reserved
    return f" of {format_money(data.amount_minor, data.currency)}" if data.amount_minor else ""


def payout_canceled(event: PayoutCanceled) -> list[NotificationDraft]:
    data = event.data
    return _to_creator(NotificationType.PAYOUT_CANCELED, "Payout canceled", data,
                       f"Your payout{_asked(data)} was canceled; the funds are available again")


def payout_blocked(event: PayoutBlocked) -> list[NotificationDraft]:
    data = event.data
    reason = f": {data.reason}" if data.reason else ""
    return _to_creator(NotificationType.PAYOUT_BLOCKED, "Payout blocked", data,
                       f"Your payout request{_asked(data)} could not go ahead{reason}")


RULES: dict[type[Event], Callable[[Any], list[NotificationDraft]]] = {
    PaymentSucceeded: payment_received,
    PaymentNeedsReview: payment_needs_review,
    RefundCreated: refund_created,
    RefundFailed: refund_failed,
    DisputeCreated: dispute_created,
    DisputeUpdated: dispute_updated,
    DisputeClosed: dispute_closed,
    DebtCreated: debt_created,
    DebtDeducted: debt_deducted,
    DebtSettled: debt_settled,
    PayoutRequested: payout_requested,
    PayoutApproved: payout_approved,
    PayoutRejected: payout_rejected,
    PayoutProcessing: payout_processing,
    PayoutPaid: payout_paid,
    PayoutFailed: payout_failed,
    PayoutCanceled: payout_canceled,
    PayoutBlocked: payout_blocked,
}


def drafts_for(event: Event) -> list[NotificationDraft]:
    """The notifications `event` makes (one per recipient)."""
    return RULES[type(event)](event)
