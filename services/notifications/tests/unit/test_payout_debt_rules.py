"""The payout and debt rows of the mapping table, one by one."""

from datetime import UTC, datetime

import pytest

from contracts.events.debts import DebtDeducted, DebtDeductedData, DebtSettled, DebtSettledData
from contracts.events.payouts import (
    PayoutApproved,
    PayoutBlocked,
    PayoutCanceled,
    PayoutDecisionData,
    PayoutFailed,
    PayoutFailedData,
    PayoutPaid,
    PayoutPaidData,
    PayoutProcessing,
    PayoutProcessingData,
    PayoutRejected,
    PayoutRequested,
    PayoutRequestedData,
)
from notifications import domain
from notifications.domain import NotificationDraft, NotificationType

FIGURES = dict(payout_id="po_1", creator_id="creator_1", currency="EUR", amount_minor=10000,
               debt_deducted_minor=2500, net_minor=7500)


def decision(model, **changes):
    data = PayoutDecisionData(**{**FIGURES, "actor_id": "admin_1", **changes})
    return model.new(data, producer="payouts", creator_id="creator_1")


def to_creator(type_: NotificationType, title: str, body: str) -> NotificationDraft:
    return NotificationDraft(type=type_, recipient_user_id="creator_1", title=title, body=body, link="/payouts/po_1")


def test_a_payout_request_goes_to_the_admins() -> None:
    event = PayoutRequested.new(
        PayoutRequestedData(payout_id="po_1", creator_id="creator_1", currency="EUR", amount_minor=10000,
                            minimum_minor=1000, requested_by="creator_1"),
        producer="payouts", creator_id="creator_1",
    )
    assert domain.drafts_for(event) == [NotificationDraft(
        type=NotificationType.PAYOUT_REQUESTED, recipient_role="admin", title="Payout to review",
        body="Creator creator_1 asked for a payout of 100.00 EUR (EUR); it awaits approval",
        link="/admin/payouts/po_1",
    )]


def test_a_request_for_everything_available_says_so() -> None:
    event = PayoutRequested.new(
        PayoutRequestedData(payout_id="po_1", creator_id="creator_1", currency="EUR", amount_minor=None,
                            minimum_minor=1000, requested_by="creator_1"),
        producer="payouts", creator_id="creator_1",
    )
    [draft] = domain.drafts_for(event)
    assert "all available funds" in draft.body


def test_approval_tells_the_creator_the_net_after_debt() -> None:
    assert domain.drafts_for(decision(PayoutApproved)) == [to_creator(
        NotificationType.PAYOUT_APPROVED, "Payout approved",
        "Your payout of 75.00 EUR (after 25.00 EUR of debt was deducted) was approved and is on its way",
    )]


def test_rejection_gives_the_admins_reason() -> None:
    assert domain.drafts_for(decision(PayoutRejected, reason="bank details unverified")) == [to_creator(
        NotificationType.PAYOUT_REJECTED, "Payout rejected",
        "Your payout of 100.00 EUR was rejected: bank details unverified; the funds are available again",
    )]


def test_cancel_tells_the_creator_the_funds_are_back() -> None:
    assert domain.drafts_for(decision(PayoutCanceled, actor_id="creator_1")) == [to_creator(
        NotificationType.PAYOUT_CANCELED, "Payout canceled",
        "Your payout of 100.00 EUR was canceled; the funds are available again",
    )]


def test_a_blocked_request_for_everything_names_no_amount() -> None:
    event = decision(PayoutBlocked, amount_minor=0, debt_deducted_minor=0, net_minor=None, actor_id="system",
                     reason="debt above the threshold")
    assert domain.drafts_for(event) == [to_creator(
        NotificationType.PAYOUT_BLOCKED, "Payout blocked",
        "Your payout request could not go ahead: debt above the threshold",
    )]


def test_processing_tells_the_creator_what_reaches_the_bank() -> None:
    event = PayoutProcessing.new(
        PayoutProcessingData(**{**FIGURES, "debt_deducted_minor": 0, "net_minor": 10000},
                             stripe_transfer_id="tr_1", stripe_payout_id="po_s1", stripe_account_id="acct_1"),
        producer="payouts", creator_id="creator_1",
    )
    assert domain.drafts_for(event) == [to_creator(
        NotificationType.PAYOUT_PROCESSING, "Payout sent to your bank", "100.00 EUR is on its way to your bank account",
    )]


def test_paid_tells_the_creator_the_net() -> None:
    event = PayoutPaid.new(PayoutPaidData(**FIGURES, stripe_payout_id="po_s1", paid_at=datetime.now(UTC)),
                           producer="payouts", creator_id="creator_1")
    assert domain.drafts_for(event) == [to_creator(
        NotificationType.PAYOUT_PAID, "Payout paid",
        "75.00 EUR (after 25.00 EUR of debt was deducted) was paid to your bank account",
    )]


def test_a_payout_taken_wholly_by_debt_says_nothing_reached_the_bank() -> None:
    figures = {**FIGURES, "debt_deducted_minor": 10000, "net_minor": 0}
    event = PayoutPaid.new(PayoutPaidData(**figures, stripe_payout_id=None, paid_at=datetime.now(UTC)),
                           producer="payouts", creator_id="creator_1")
    [draft] = domain.drafts_for(event)
    assert draft.body == "Your payout of 100.00 EUR went wholly to your debt"


@pytest.mark.parametrize(("was_paid", "when"), [(False, ""), (True, " after it had been reported paid")])
def test_a_failed_payout_gives_the_banks_reason(was_paid: bool, when: str) -> None:
    event = PayoutFailed.new(
        PayoutFailedData(**FIGURES, stripe_payout_id="po_s1", failure_code="account_closed",
                         failure_message="The bank account has been closed", was_paid=was_paid),
        producer="payouts", creator_id="creator_1",
    )
    assert domain.drafts_for(event) == [to_creator(
        NotificationType.PAYOUT_FAILED, "Payout failed",
        f"Your payout of 75.00 EUR (after 25.00 EUR of debt was deducted) failed{when} "
        "(The bank account has been closed); the funds are back in your balance. Check your bank details",
    )]


def test_a_deduction_tells_the_creator_what_remains() -> None:
    event = DebtDeducted.new(
        DebtDeductedData(debt_id="debt_1", creator_id="creator_1", payout_id="po_1", amount_minor=2500,
                         remaining_minor=1000, currency="EUR"),
        producer="ledger", creator_id="creator_1",
    )
    assert domain.drafts_for(event) == [to_creator(
        NotificationType.DEBT_DEDUCTED, "Debt deducted from a payout",
        "25.00 EUR of your debt was deducted from payout po_1; 10.00 EUR of it remains",
    )]


def test_a_settled_debt_is_announced_to_the_creator() -> None:
    event = DebtSettled.new(
        DebtSettledData(debt_id="debt_1", creator_id="creator_1", currency="JPY", amount_minor=3500,
                        payout_id="po_1"),
        producer="ledger", creator_id="creator_1",
    )
    assert domain.drafts_for(event) == [NotificationDraft(
        type=NotificationType.DEBT_SETTLED, recipient_user_id="creator_1", title="Debt paid off",
        body="Your debt of 3500 JPY is fully paid off", link="/debts",
    )]
