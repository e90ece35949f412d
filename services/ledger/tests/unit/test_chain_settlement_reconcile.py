"""The journal's hash chain, the settlement postings and the reconciliation, without I/O."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import domain
from ledger.domain import settlement
from common.hash_chain import GENESIS_HASH, ChainChecker, chain_hash, linked
from ledger.domain.chain import ChainedEntry, EntryFacts
from ledger.domain import Posting
from ledger.domain.reconcile import StripeTransaction, reconcile

ENTRY = ChainedEntry(
    id="e1", cause_event_id="ev1", kind="payment", creator_id="c1", reference="payment:p1",
    facts=EntryFacts(payment_id="p1", fact_amount_minor=10_000), created_at=datetime(2026, 12, 2, 12, tzinfo=UTC),
    postings=(Posting("stripe:balance", 10_000, "EUR"), Posting("creator:c1:available", -8_500, "EUR"),
              Posting("platform:revenue", -1_500, "EUR")),
)


def chained(entries: list[ChainedEntry]) -> list[tuple[int, str, str, ChainedEntry]]:
    rows, prev = [], GENESIS_HASH
    for seq, entry in enumerate(entries, start=1):
        rows.append((seq, prev, chain_hash(prev, entry), entry))
        prev = rows[-1][2]
    return rows


def first_broken(rows):
    checker = ChainChecker()
    return next((broken for row in rows if (broken := checker.check(*row)) is not None), None)


def test_an_intact_chain_holds_and_the_time_zone_it_is_read_in_does_not_matter():
    rows = chained([ENTRY, replace(ENTRY, id="e2", cause_event_id="ev2")])
    assert first_broken(rows) is None
    paris = ENTRY.created_at.astimezone(timezone(timedelta(hours=1)))
    assert chain_hash(GENESIS_HASH, replace(ENTRY, created_at=paris)) == rows[0][2]


@pytest.mark.parametrize("edit", [
    lambda e: replace(e, postings=(Posting("stripe:balance", 9_000, "EUR"), Posting("creator:c1:available", -7_500, "EUR"),
                                   Posting("platform:revenue", -1_500, "EUR"))),  # balanced, still wrong
    lambda e: replace(e, kind="refund"),
    lambda e: replace(e, facts=replace(e.facts, fact_amount_minor=1)),
    lambda e: replace(e, created_at=e.created_at + timedelta(microseconds=1)),
])
def test_any_edit_of_an_entry_or_its_postings_breaks_its_link(edit):
    rows = chained([ENTRY, replace(ENTRY, id="e2", cause_event_id="ev2")])
    seq, prev, stored, entry = rows[0]
    broken = first_broken([(seq, prev, stored, edit(entry)), rows[1]])
    assert (broken.seq, broken.problem) == (1, "hash does not match the record's content")


def test_entries_linked_together_link_as_appended_one_by_one_onto_the_chain_there():
    entries = [ENTRY, replace(ENTRY, id="e2", cause_event_id="ev2"), replace(ENTRY, id="e3", cause_event_id="ev3")]
    one_by_one = [(prev, stored) for _, prev, stored, _ in chained(entries)]
    assert linked(GENESIS_HASH, entries) == one_by_one
    assert linked(one_by_one[0][1], entries[1:]) == one_by_one[1:]
    assert linked(GENESIS_HASH, []) == []


def test_an_entry_removed_breaks_the_next_link():
    rows = chained([ENTRY, replace(ENTRY, id="e2"), replace(ENTRY, id="e3")])
    broken = first_broken([rows[0], rows[2]])
    assert (broken.seq, broken.record_id) == (3, "e3")
    assert broken.problem == "prev_hash does not match the previous record's hash"


def by_currency(postings: list[Posting]) -> dict[tuple[str, str], int]:
    totals: dict[tuple[str, str], int] = {}
    for p in postings:
        totals[(p.account, p.currency)] = totals.get((p.account, p.currency), 0) + p.amount_minor
    return {key: total for key, total in totals.items() if total}


def test_an_unconverted_charge_books_its_fee_only_as_before():
    same = settlement.Settled(10_000, "EUR", 10_000, "EUR")
    assert settlement.charge_settled_postings(same, 175) == domain.fee_postings(175, "EUR")


def test_a_converted_charge_moves_the_price_out_of_eur_and_the_settled_amount_into_usd():
    postings = settlement.charge_settled_postings(settlement.Settled(10_000, "EUR", 10_870, "USD"), 388)
    assert by_currency(postings) == {
        ("stripe:balance", "EUR"): -10_000, ("stripe:conversion", "EUR"): 10_000,
        ("stripe:conversion", "USD"): -10_870, ("stripe:balance", "USD"): 10_870 - 388,
        ("platform:processing_fees", "USD"): 388,
    }


amounts = st.integers(0, 10**9)


@given(charge=amounts, settled=amounts, fee=amounts, back=amounts)
def test_every_settlement_entry_balances_in_each_currency(charge, settled, fee, back):
    converted = settlement.Settled(charge, "EUR", settled, "USD")
    for postings in (
        settlement.charge_settled_postings(converted, fee),
        settlement.dispute_withdrawn_postings(converted, fee),
        settlement.dispute_reinstated_postings(replace(converted, settled_minor=back), fee),
    ):
        domain.check_balanced(postings)


def test_a_converted_dispute_holds_its_funds_in_the_charge_currency():
    withdrawn = settlement.dispute_withdrawn_postings(settlement.Settled(10_000, "EUR", 10_900, "USD"), 1_500)
    back = settlement.dispute_reinstated_postings(settlement.Settled(10_000, "EUR", 10_800, "USD"), 0)
    assert by_currency(withdrawn)[("stripe:disputed_funds", "EUR")] == 10_000
    assert by_currency(withdrawn + back).get(("stripe:disputed_funds", "EUR"), 0) == 0
    counter_fee = settlement.dispute_withdrawn_postings(settlement.Settled(0, "EUR", 0, "USD"), 1_500)
    assert by_currency(counter_fee) == {("stripe:balance", "USD"): -1_500, ("platform:dispute_fees", "USD"): 1_500}


def test_a_converted_refund_leaves_the_usd_balance_and_keeps_the_creator_in_eur():
    refund = domain.refund_postings(
        "c", 1_001, entitled_change=-850, frozen_change=0, available=8_500, currency="EUR",
        stripe_side=settlement.refund_stripe_side(settlement.Settled(1_001, "EUR", 1_091, "USD")),
    )
    assert by_currency(refund) == {
        ("stripe:conversion", "EUR"): -1_001, ("creator:c:available", "EUR"): 850, ("platform:revenue", "EUR"): 151,
        ("stripe:conversion", "USD"): 1_091, ("stripe:balance", "USD"): -1_091,
    }
    failed = domain.refund_reversal_postings(
        "c", 1_001, entitled_change=850, frozen_change=0, debt_open=0, currency="EUR",
        stripe_side=settlement.refund_failure_stripe_side(settlement.Settled(1_001, "EUR", 1_081, "USD")),
    )
    assert by_currency(refund + failed) == {("stripe:conversion", "USD"): 10, ("stripe:balance", "USD"): -10}


def test_an_unconverted_refund_is_booked_as_before():
    same = settlement.Settled(1_001, "EUR", 1_001, "EUR")
    plain = domain.refund_postings("c", 1_001, -850, 0, 8_500, "EUR")
    assert domain.refund_postings("c", 1_001, -850, 0, 8_500, "EUR",
                                  stripe_side=settlement.refund_stripe_side(same)) == plain
    assert settlement.refund_failure_stripe_side(same) == [Posting("stripe:balance", 1_001, "EUR")]


@given(amount=st.integers(1, 10**9), settled=amounts, taken=st.integers(0, 10**9), available=amounts)
def test_every_converted_refund_entry_balances_in_each_currency(amount, settled, taken, available):
    taken = min(taken, amount)
    converted = settlement.Settled(amount, "EUR", settled, "USD")
    for postings in (
        domain.refund_postings("c", amount, -taken, 0, available, "EUR",
                               stripe_side=settlement.refund_stripe_side(converted)),
        domain.refund_reversal_postings("c", amount, taken, 0, min(available, taken), "EUR",
                                        stripe_side=settlement.refund_failure_stripe_side(converted)),
    ):
        domain.check_balanced(postings)
        assert {p.currency for p in postings if p.account.startswith(("creator:", "platform:"))} <= {"EUR"}


def test_a_negative_settlement_is_refused():
    with pytest.raises(domain.InvalidAmounts):
        settlement.charge_settled_postings(settlement.Settled(-1, "EUR", 10, "USD"), 0)


CHARGE = StripeTransaction("txn_charge", "charge", 9_825, "EUR")


@pytest.mark.parametrize("booked, differs", [
    ({"txn_charge": {"EUR": 9_825}}, False),
    ({"txn_charge": {"EUR": 9_825, "USD": 0}}, False),  # a currency that nets to zero is nothing
    ({"txn_charge": {"EUR": 10_000}}, True),  # the fee never booked
    ({"txn_charge": {"EUR": 9_825, "USD": -5}}, True),
    ({}, True),
])
def test_a_transaction_differs_unless_the_ledger_booked_its_net_in_its_currency_only(booked, differs):
    result = reconcile([CHARGE], booked)
    assert bool(result.differences) is differs
    assert result.compared == 1


def test_transactions_the_ledger_does_not_book_by_id_are_counted_not_compared():
    result = reconcile([CHARGE, StripeTransaction("txn_po", "payout", -9_000, "EUR"),
                        StripeTransaction("txn_tr", "transfer", -8_500, "EUR")], {"txn_charge": {"EUR": 9_825}})
    assert (result.compared, dict(result.not_compared), result.differences) == (1, {"payout": 1, "transfer": 1}, [])
    assert str(reconcile([CHARGE], {}).differences[0]) == "txn_charge (charge): Stripe 9825 EUR, the ledger books nothing"


def test_a_refunds_balance_transaction_is_compared_in_the_settlement_currency():
    refund = StripeTransaction("txn_re", "refund", -4_348, "USD")  # 40.00 EUR refunded from a USD balance
    assert reconcile([refund], {"txn_re": {"USD": -4_348}}).differences == []
    assert reconcile([refund], {"txn_re": {"EUR": -4_000}}).differences  # booked unconverted
    assert reconcile([refund], {}).differences  # never booked
