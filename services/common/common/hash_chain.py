"""A hash chain, pure: each record's hash covers its own canonical text and the
hash of the record before it, in `seq` order, so a changed, inserted or deleted
record is found. The ledger chains its journal entries with it, payouts its
audit rows; each says what a record's canonical text holds."""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

GENESIS_HASH = "0" * 64  # prev_hash of the first record


class Chained(Protocol):
    @property
    def id(self) -> str: ...

    def canonical(self) -> str: ...


def canonical_json(fields: dict[str, Any]) -> str:
    """Sorted keys, no whitespace: the same fields always give the same text."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, record: Chained) -> str:
    return hashlib.sha256((prev_hash + record.canonical()).encode()).hexdigest()


def linked(prev_hash: str, records: Iterable[Chained]) -> list[tuple[str, str]]:
    """Each record's (prev_hash, hash) when the records are appended in this
    order after the record whose hash is `prev_hash`."""
    links = []
    for record in records:
        record_hash = chain_hash(prev_hash, record)
        links.append((prev_hash, record_hash))
        prev_hash = record_hash
    return links


@dataclass(frozen=True)
class BrokenLink:
    seq: int
    record_id: str
    problem: str


NOT_LINKED = "prev_hash does not match the previous record's hash"
NOT_ITS_CONTENT = "hash does not match the record's content"


def broken_link(seq: int, prev_hash: str, stored_hash: str, record: Chained, expected_prev: str) -> BrokenLink | None:
    """What is wrong with one stored record whose predecessor's hash is `expected_prev`; None if it holds."""
    if prev_hash != expected_prev:
        return BrokenLink(seq, record.id, NOT_LINKED)
    if chain_hash(prev_hash, record) != stored_hash:
        return BrokenLink(seq, record.id, NOT_ITS_CONTENT)
    return None


class ChainChecker:
    """Walks a chain in `seq` order; `check` answers the first broken link."""

    def __init__(self) -> None:
        self._expected_prev = GENESIS_HASH

    def check(self, seq: int, prev_hash: str, stored_hash: str, record: Chained) -> BrokenLink | None:
        if (broken := broken_link(seq, prev_hash, stored_hash, record, self._expected_prev)) is not None:
            return broken
        self._expected_prev = stored_hash
        return None


def first_broken_link(rows: Iterable[tuple[int, str, str, Chained]]) -> BrokenLink | None:
    """Rows as (seq, prev_hash, hash, record) in chain order; None if the chain holds."""
    checker = ChainChecker()
    for row in rows:
        if (broken := checker.check(*row)) is not None:
            return broken
    return None
