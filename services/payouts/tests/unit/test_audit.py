"""The audit log's hash chain: a changed or deleted row is found, for the whole chain or one payout's rows."""

from datetime import UTC, datetime

from common import hash_chain
from payouts.domain import audit
from payouts.domain.audit import AuditRecord


def _record(n: int, **changes: object) -> AuditRecord:
    fields = dict(
        id=f"00000000-0000-0000-0000-{n:012d}", payout_id="p", actor_id="a", actor_role="admin",
        old_state="REQUESTED", new_state="APPROVED", reason=None, metadata={"net_minor": 100, "currency": "EUR"},
        created_at=datetime(2026, 1, 1, 12, 0, n, 123456, tzinfo=UTC),
    )
    return AuditRecord(**{**fields, **changes})  # type: ignore[arg-type]


def _chain(records: list[AuditRecord]) -> list[tuple[int, str, str, AuditRecord]]:
    rows, prev = [], hash_chain.GENESIS_HASH
    for seq, record in enumerate(records, 1):
        digest = hash_chain.chain_hash(prev, record)
        rows.append((seq, prev, digest, record))
        prev = digest
    return rows


def test_the_canonical_row_does_not_depend_on_key_order() -> None:
    a = _record(1, metadata={"a": 1, "b": 2})
    b = _record(1, metadata={"b": 2, "a": 1})
    assert a.canonical() == b.canonical()
    assert hash_chain.chain_hash("x", a) != hash_chain.chain_hash("y", a)


def test_an_intact_chain_verifies() -> None:
    assert hash_chain.first_broken_link(_chain([_record(n) for n in range(1, 6)])) is None
    assert hash_chain.first_broken_link([]) is None


def test_a_changed_row_is_the_first_broken_link() -> None:
    rows = _chain([_record(n) for n in range(1, 6)])
    seq, prev, digest, record = rows[2]
    rows[2] = (seq, prev, digest, _record(3, reason="tampered"))
    broken = hash_chain.first_broken_link(rows)
    assert broken is not None and broken.seq == 3 and "content" in broken.problem


def test_a_deleted_row_breaks_the_link_after_it() -> None:
    rows = _chain([_record(n) for n in range(1, 6)])
    del rows[1]
    broken = hash_chain.first_broken_link(rows)
    assert broken is not None and broken.seq == 3 and "prev_hash" in broken.problem


def _one_payouts_rows(rows: list[tuple[int, str, str, AuditRecord]], seqs: set[int]):
    """Its rows among the whole chain's, and the hash before each of them in that chain."""
    hashes = {seq: digest for seq, _, digest, _ in rows}
    mine = [row for row in rows if row[0] in seqs]
    return mine, {seq: hashes[seq - 1] for seq in seqs if seq - 1 in hashes}


def test_one_payouts_rows_verify_against_the_rows_between_them() -> None:
    rows = _chain([_record(n) for n in range(1, 7)])
    assert audit.broken_link_of_one_payout(*_one_payouts_rows(rows, {1, 3, 6})) is None


def test_one_payouts_changed_or_unlinked_row_is_found() -> None:
    rows = _chain([_record(n) for n in range(1, 7)])
    seq, prev, digest, _ = rows[2]
    rows[2] = (seq, prev, digest, _record(3, reason="tampered"))
    broken = audit.broken_link_of_one_payout(*_one_payouts_rows(rows, {1, 3, 6}))
    assert broken is not None and broken.seq == 3 and "content" in broken.problem

    rows = _chain([_record(n) for n in range(1, 7)])
    mine, predecessors = _one_payouts_rows(rows, {2, 5})
    predecessors[5] = "0" * 64  # the row before 5 was replaced: 5 no longer links to it
    broken = audit.broken_link_of_one_payout(mine, predecessors)
    assert broken is not None and broken.seq == 5 and "prev_hash" in broken.problem


def test_rows_linked_in_one_batch_continue_the_chain_they_are_appended_to() -> None:
    before = _chain([_record(1), _record(2)])
    batch = [_record(3), _record(4), _record(5)]
    links = hash_chain.linked(before[-1][2], batch)
    appended = [(seq, prev, digest, record) for seq, ((prev, digest), record) in enumerate(zip(links, batch), 3)]

    assert hash_chain.first_broken_link(before + appended) is None
    assert hash_chain.first_broken_link(before + appended[1:]) is not None  # a row left out is found
