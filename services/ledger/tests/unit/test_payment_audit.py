"""Per payment and per dispute, what `ledger check` recomputes from the entries' facts."""

from itertools import count

from ledger import domain
from ledger.domain.chain import EntryFacts
from ledger.domain.payment_audit import PaymentAudit

C = "c1"
ids = count()


def add(audit: PaymentAudit, kind: str, postings: list[domain.Posting], **facts) -> None:
    audit.add(f"e{next(ids)}", kind, C, tuple(postings), EntryFacts(payment_id="p1", **facts))


def paid(audit: PaymentAudit) -> None:
    add(audit, "payment", domain.payment_postings(C, 10_000, 8_500, "EUR"), fact_amount_minor=10_000)


def test_refund_failed_refund_and_won_dispute_leave_the_creator_their_entitlement():
    # The postings the ledger makes (ledger.domain.entitlement): each movement moves the
    # entitlement (and the frozen share) by its difference before/after.
    audit = PaymentAudit()
    paid(audit)
    add(audit, "refund", domain.refund_postings(C, 1_001, -850, 0, 8_500, "EUR"), fact_amount_minor=1_001)
    add(audit, "refund_reversal", domain.refund_reversal_postings(C, 1_001, 850, 0, 0, "EUR"),
        fact_amount_minor=1_001)
    add(audit, "dispute_opened", domain.dispute_opened_postings(C, -7_649, 7_649, 8_500, "EUR"),
        dispute_id="d1", fact_amount_minor=8_999)
    add(audit, "dispute_funds_withdrawn", domain.dispute_funds_withdrawn_postings(8_999, 1_500, "EUR"),
        dispute_id="d1", stripe_balance_transaction_id="txn_w")
    add(audit, "dispute_funds_reinstated", domain.dispute_funds_reinstated_postings(8_999, 0, "EUR"),
        dispute_id="d1", stripe_balance_transaction_id="txn_r")
    add(audit, "dispute_closed", domain.dispute_won_postings(C, 7_649, -7_649, "EUR"), dispute_id="d1",
        fact_amount_minor=0)
    assert audit.problems() == []
    assert (audit.payments, audit.disputes) == (1, 1)


def test_a_won_dispute_returning_the_frozen_share_instead_of_the_cumulative_difference_is_one_unit_short():
    # Issue 11: dispute of 8999 first (7649 frozen), refund 1001 (851 more), and a won
    # dispute that gives back the 7649 it froze instead of the difference (7650).
    audit = PaymentAudit()
    paid(audit)
    add(audit, "dispute_opened", domain.dispute_opened_postings(C, -7_649, 7_649, 8_500, "EUR"),
        dispute_id="d1", fact_amount_minor=8_999)
    add(audit, "refund", domain.refund_postings(C, 1_001, -851, 1, 851, "EUR"), fact_amount_minor=1_001)
    add(audit, "dispute_closed", domain.dispute_won_postings(C, 7_649, -7_649, "EUR"), dispute_id="d1",
        fact_amount_minor=0)
    assert audit.problems() == [
        "payment p1: the creator holds 7649 EUR of it, its entitlement is 7650 (price 10000, refunded 1001, disputed 0)"
    ]


def test_an_open_dispute_with_more_withdrawn_than_disputed_is_reported():
    audit = PaymentAudit()
    paid(audit)
    add(audit, "dispute_opened", domain.dispute_opened_postings(C, -1_700, 1_700, 8_500, "EUR"),
        dispute_id="d1", fact_amount_minor=2_000)
    for txn in ("txn_a", "txn_b"):  # the same withdrawal announced under two ids
        add(audit, "dispute_funds_withdrawn", domain.dispute_funds_withdrawn_postings(2_000, 0, "EUR"),
            dispute_id="d1", stripe_balance_transaction_id=txn)
    assert audit.problems() == [
        "dispute d1: 4000 EUR of disputed funds booked for a disputed amount of 2000 "
        "(a balance transaction missing or posted twice)"
    ]
